//! The statuses the read models store as text, typed: each has one stored spelling (also its
//! JSON and OpenAPI form), and reading a value outside the list is a corrupt row, never a
//! silent default.

use diario_domain::{ConfirmationChannel, DiaryStatus, RequestStatus};
use serde::{Deserialize, Serialize};

use crate::ProjectionError;

/// Declares a status enum with its stored text, `parse` (unknown text: corrupt read model)
/// and the serde / OpenAPI spelling.
macro_rules! stored_text {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            utoipa::ToSchema,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The stored text read back; anything else is a corrupt row.
            pub fn parse(s: &str) -> Result<$name, ProjectionError> {
                match s {
                    $($text => Ok($name::$variant),)*
                    other => Err(ProjectionError::Corrupt(format!(
                        concat!(stringify!($name), " {:?} is not one of the stored values"),
                        other
                    ))),
                }
            }
        }
    };
}

stored_text! {
    /// Where a case stands.
    CaseStatus {
        /// Some phase of the measure is not handed to ATS yet.
        Open => "open",
        /// Every phase of the measure handed to ATS.
        Completed => "completed",
        /// The pathway was interrupted (Art. 6).
        Interrupted => "interrupted",
    }
}

stored_text! {
    /// Where a phase diary stands.
    DiaryStatusView {
        /// Open for recording.
        Open => "open",
        /// Closed by the responsabile, waiting for the whole-diary confirmation.
        Closed => "closed",
        /// Passed to ATS (final).
        HandedToAts => "handed_to_ats",
    }
}

stored_text! {
    /// Where a confirmation request (or paper diary) stands.
    RequestStatusView {
        /// Waiting for the answer.
        Pending => "pending",
        /// Confirmed by the recipient.
        Confirmed => "confirmed",
        /// Rejected by the recipient.
        Rejected => "rejected",
        /// No answer within the deadline.
        Expired => "expired",
        /// Ended by an interruption of the pathway.
        Ended => "ended",
    }
}

stored_text! {
    /// How a request reaches the recipient.
    ChannelView {
        /// The FirmaLOM app.
        Firmalom => "firmalom",
        /// A signed paper diary.
        Paper => "paper",
    }
}

stored_text! {
    /// The state of an entry as the read model shows it.
    EntryState {
        /// Recorded, editable, not yet validated or sent.
        Draft => "draft",
        /// Validated by the responsabile (phases I–II).
        Validated => "validated",
        /// In a pending confirmation request or paper diary.
        Pending => "pending",
        /// Confirmed by the recipient (final).
        Confirmed => "confirmed",
        /// Rejected in the last answered request.
        Rejected => "rejected",
        /// Its last request expired (or was ended by an interruption) and it was not changed
        /// since.
        Expired => "expired",
        /// Withdrawn by its author.
        Withdrawn => "withdrawn",
    }
}

stored_text! {
    /// Whose system failed (Art. 9).
    FailureScopeView {
        /// The regional system: every case.
        Regional => "regional",
        /// An ente's own system (its code is in `ente`).
        Ente => "ente",
    }
}

impl From<DiaryStatus> for DiaryStatusView {
    fn from(s: DiaryStatus) -> Self {
        match s {
            DiaryStatus::Open => DiaryStatusView::Open,
            DiaryStatus::Closed => DiaryStatusView::Closed,
            DiaryStatus::HandedToAts => DiaryStatusView::HandedToAts,
        }
    }
}

impl From<RequestStatus> for RequestStatusView {
    fn from(s: RequestStatus) -> Self {
        match s {
            RequestStatus::Pending => RequestStatusView::Pending,
            RequestStatus::Confirmed => RequestStatusView::Confirmed,
            RequestStatus::Rejected => RequestStatusView::Rejected,
            RequestStatus::Expired => RequestStatusView::Expired,
            RequestStatus::Ended => RequestStatusView::Ended,
        }
    }
}

impl From<ConfirmationChannel> for ChannelView {
    fn from(c: ConfirmationChannel) -> Self {
        match c {
            ConfirmationChannel::Firmalom => ChannelView::Firmalom,
            ConfirmationChannel::Paper => ChannelView::Paper,
        }
    }
}

impl From<RequestStatusView> for RequestStatus {
    fn from(s: RequestStatusView) -> Self {
        match s {
            RequestStatusView::Pending => RequestStatus::Pending,
            RequestStatusView::Confirmed => RequestStatus::Confirmed,
            RequestStatusView::Rejected => RequestStatus::Rejected,
            RequestStatusView::Expired => RequestStatus::Expired,
            RequestStatusView::Ended => RequestStatus::Ended,
        }
    }
}

impl From<ChannelView> for ConfirmationChannel {
    fn from(c: ChannelView) -> Self {
        match c {
            ChannelView::Firmalom => ConfirmationChannel::Firmalom,
            ChannelView::Paper => ConfirmationChannel::Paper,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_is_the_json_spelling_and_reads_back() {
        for s in RequestStatusView::ALL {
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::Value::String(s.as_str().to_owned()))
            );
            assert_eq!(RequestStatusView::parse(s.as_str()).ok(), Some(*s));
        }
        assert!(DiaryStatusView::parse("reopened").is_err());
    }
}

//! The one text format of instants, wherever an instant is stored as text.

use chrono::{DateTime, SubsecRound, Utc};

/// The one text format of an instant: RFC 3339 in UTC with exactly six fractional digits and
/// `Z`, so that instants sort as text (SQLite columns, the portable TEXT columns of both
/// backends) and round-trip exactly. The hash chain hashes instants in this format: changing
/// it would break every stored chain (pinned by a golden vector in `store::chain`).
pub const INSTANT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// An instant in [`INSTANT_FORMAT`] (truncated to the microsecond both databases keep).
pub fn instant_text(t: DateTime<Utc>) -> String {
    t.trunc_subsecs(6).format(INSTANT_FORMAT).to_string()
}

/// Reads an instant written by [`instant_text`] (any RFC 3339 text is accepted).
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

//! Read model 8: staff names and memberships, from the `person-{cf}` streams. Views and
//! documents look names up here to show them next to fiscal codes; organisations list their
//! staff from here.

use std::collections::BTreeMap;

use async_trait::async_trait;
use diario_domain::staff::StaffEvent;
use diario_log::{
    Database, FollowError, Follower, LogEvent, RecordedEvent, StreamId, StreamKind, Tx,
};
use serde::{Deserialize, Serialize};

use crate::ProjectionError;

/// Projection name.
pub const NAME: &str = "people";

/// The tables of the projection.
pub const TABLES: [&str; 2] = ["rm_people", "rm_staff"];

/// The "people" projection: tables `rm_people` and `rm_staff`.
pub struct People;

#[async_trait]
impl Follower for People {
    diario_log::follower_spec!(NAME, &TABLES);

    async fn apply(&self, events: &[RecordedEvent], tx: &mut Tx) -> Result<(), FollowError> {
        for e in events {
            if StreamId::kind_of(&e.stream_id) != StreamKind::Person {
                continue;
            }
            match StaffEvent::decode(e)? {
                StaffEvent::StaffMemberRecorded {
                    fiscal_code,
                    given_name,
                    family_name,
                    email,
                    organisation,
                    figures,
                    ..
                } => {
                    tx.exec(
                        "INSERT INTO rm_people (fiscal_code, given_name, family_name, email) \
                         VALUES ($1,$2,$3,$4) ON CONFLICT (fiscal_code) DO UPDATE SET \
                         given_name = excluded.given_name, family_name = excluded.family_name, \
                         email = excluded.email",
                        &[
                            fiscal_code.as_str().into(),
                            given_name.into(),
                            family_name.into(),
                            email.into(),
                        ],
                    )
                    .await?;
                    let figures = serde_json::to_string(&figures)
                        .map_err(|err| FollowError::Corrupt(err.to_string()))?;
                    tx.exec(
                        "INSERT INTO rm_staff (organisation, fiscal_code, figures) \
                         VALUES ($1,$2,$3) ON CONFLICT (organisation, fiscal_code) DO UPDATE \
                         SET figures = excluded.figures",
                        &[
                            organisation.into(),
                            fiscal_code.as_str().into(),
                            figures.into(),
                        ],
                    )
                    .await?;
                }
                StaffEvent::StaffMembershipEnded {
                    fiscal_code,
                    organisation,
                    ..
                } => {
                    tx.exec(
                        "DELETE FROM rm_staff WHERE organisation = $1 AND fiscal_code = $2",
                        &[organisation.into(), fiscal_code.as_str().into()],
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }
}

/// A staff member of one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StaffView {
    pub fiscal_code: String,
    pub given_name: String,
    pub family_name: String,
    /// "Nome Cognome".
    pub name: String,
    pub organisation: String,
    /// Figure ids in that organisation.
    pub figures: Vec<String>,
}

/// The staff of `organisation`, by family then given name.
pub async fn staff_of(
    db: &Database,
    organisation: &str,
) -> Result<Vec<StaffView>, ProjectionError> {
    staff_where(db, "s.organisation = $1", organisation).await
}

/// Where `fiscal_code` is recorded as staff, by organisation code.
pub async fn memberships(
    db: &Database,
    fiscal_code: &str,
) -> Result<Vec<StaffView>, ProjectionError> {
    staff_where(db, "s.fiscal_code = $1", fiscal_code).await
}

/// The staff rows matching `condition` on `$1`.
async fn staff_where(
    db: &Database,
    condition: &'static str,
    value: &str,
) -> Result<Vec<StaffView>, ProjectionError> {
    let sql = format!(
        "SELECT s.fiscal_code, s.organisation, p.given_name, p.family_name, s.figures \
         FROM rm_staff s JOIN rm_people p ON p.fiscal_code = s.fiscal_code WHERE {} \
         ORDER BY p.family_name, p.given_name, s.fiscal_code, s.organisation",
        condition
    );
    let rows = db.fetch_all(&sql, &[value.into()]).await?;
    rows.iter()
        .map(|r| {
            let given_name = r.text("given_name")?;
            let family_name = r.text("family_name")?;
            let figures = serde_json::from_str(&r.text("figures")?)
                .map_err(|e| ProjectionError::Corrupt(format!("rm_staff.figures: {e}")))?;
            Ok(StaffView {
                fiscal_code: r.text("fiscal_code")?,
                name: format!("{given_name} {family_name}"),
                given_name,
                family_name,
                organisation: r.text("organisation")?,
                figures,
            })
        })
        .collect()
}

/// The people whose e-mail address is recorded: (fiscal code, address).
pub async fn emails(db: &Database) -> Result<Vec<(String, String)>, ProjectionError> {
    db.fetch_all(
        "SELECT fiscal_code, email FROM rm_people WHERE email IS NOT NULL ORDER BY fiscal_code",
        &[],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text("fiscal_code")?, r.text("email")?)))
    .collect()
}

/// Names ("Nome Cognome") of the people among `fiscal_codes` whose name is recorded.
pub async fn names(
    db: &Database,
    fiscal_codes: impl IntoIterator<Item = &str>,
) -> Result<Names, ProjectionError> {
    let mut wanted: Vec<&str> = fiscal_codes.into_iter().collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = BTreeMap::new();
    // In chunks, so a long audit trail does not make one enormous statement.
    for chunk in wanted.chunks(200) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT fiscal_code, given_name, family_name FROM rm_people WHERE fiscal_code IN ({})",
            placeholders.join(",")
        );
        let args: Vec<diario_log::Val> = chunk.iter().map(|cf| (*cf).into()).collect();
        for r in db.fetch_all(&sql, &args).await? {
            out.insert(
                r.text("fiscal_code")?,
                format!("{} {}", r.text("given_name")?, r.text("family_name")?),
            );
        }
    }
    Ok(Names(out))
}

/// Fiscal code → "Nome Cognome", for the people whose name is recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names(pub BTreeMap<String, String>);

impl Names {
    /// The name of `fiscal_code`, if recorded.
    pub fn get(&self, fiscal_code: &str) -> Option<&str> {
        self.0.get(fiscal_code).map(String::as_str)
    }

    /// "Nome Cognome (CF)" when the name is recorded, the bare fiscal code otherwise: how
    /// documents name a person.
    pub fn label(&self, fiscal_code: &str) -> String {
        match self.get(fiscal_code) {
            Some(name) => format!("{name} ({fiscal_code})"),
            None => fiscal_code.to_owned(),
        }
    }
}

//! Art. 3–4: cases and grants name registered organisations (the registry of the ATS, ASST and
//! enti erogatori); the registry refuses a bad or clashing registration.
use chrono::Utc;
use diario_domain::grants::{Grant, GrantCommand, GrantRole, GrantsState, decide_grant};
use diario_domain::organisations::{
    OrganisationCommand, OrganisationEvent, decide_organisation, evolve_organisation,
};
use diario_domain::{OrgKind, Organisation, Organisations};

use crate::common::*;

fn provider(code: &str, ats: &str) -> Organisation {
    Organisation {
        code: code.to_owned(),
        name: format!("Cooperativa {code}"),
        kind: OrgKind::Provider,
        ats: Some(ats.to_owned()),
    }
}

/// The shipped registry with the fixture's provider registered.
fn registry() -> Organisations {
    let command = OrganisationCommand::RegisterOrganisation(provider("COOP-ESEMPIO", "ATS-MILANO"));
    decide_organisation(&Organisations::default(), &command, None, t0())
        .expect("registered")
        .iter()
        .fold(Organisations::default(), evolve_organisation)
}

fn refusal(result: Result<(), diario_domain::OrganisationError>) -> (&'static str, &'static str) {
    let e = result.expect_err("refused");
    (e.code(), e.field())
}

#[test]
fn a_case_names_an_ats_an_asst_of_its_territory_and_a_registered_provider() {
    let r = registry();
    // The fixture case opens (and decides as before).
    let c = open_case(true);
    assert_eq!(
        r.check_case(&c.ats, &c.asst, &c.provider, OrgKind::Asst),
        Ok(())
    );
    assert_eq!(
        refusal(r.check_case(
            "ATS-MILAN0",
            "ASST-FBF-SACCO",
            "COOP-ESEMPIO",
            OrgKind::Asst
        )),
        ("unknown-organisation", "ats")
    );
    assert_eq!(
        refusal(r.check_case(
            "ATS-MILANO",
            "ASST-PAPA-GIOVANNI",
            "COOP-ESEMPIO",
            OrgKind::Asst
        )),
        ("asst-outside-ats", "asst")
    );
    assert_eq!(
        refusal(r.check_case("ATS-MILANO", "ASST-FBF-SACCO", "COOP-ALTRA", OrgKind::Asst)),
        ("unknown-organisation", "provider")
    );
    assert_eq!(
        refusal(r.check_case(
            "ATS-MILANO",
            "ASST-FBF-SACCO",
            "ASST-NIGUARDA",
            OrgKind::Asst
        )),
        ("organisation-kind-mismatch", "provider")
    );
    assert_eq!(
        refusal(r.check_case(
            "ASST-FBF-SACCO",
            "ASST-FBF-SACCO",
            "COOP-ESEMPIO",
            OrgKind::Asst
        )),
        ("organisation-kind-mismatch", "ats")
    );
}

#[test]
fn a_grant_scope_names_a_registered_organisation_of_the_role_s_kind() {
    let r = registry();
    let grant = |role, scope: &str| Grant {
        fiscal_code: ats_operator(),
        role,
        scope: Some(scope.to_owned()),
    };
    let add = |state: &GrantsState, g: Grant| {
        decide_grant(state, &r, &GrantCommand::AddGrant(g), None, Utc::now()).map_err(|e| e.code())
    };
    let none = GrantsState::new();
    assert_eq!(
        add(&none, grant(GrantRole::AtsOperator, "ATS-MILAN0")),
        Err("unknown-organisation")
    );
    assert_eq!(
        add(&none, grant(GrantRole::AtsOperator, "ASST-LODI")),
        Err("organisation-kind-mismatch")
    );
    assert_eq!(
        add(&none, grant(GrantRole::EnteAdmin, "ATS-MILANO")),
        Err("organisation-kind-mismatch")
    );
    assert!(add(&none, grant(GrantRole::AtsOperator, "ATS-MILANO")).is_ok());
    assert!(add(&none, grant(GrantRole::EnteAdmin, "COOP-ESEMPIO")).is_ok());
    // A grant of before the registry, whose scope names nothing, can still be revoked.
    let old = grant(GrantRole::AtsOperator, "ATS-MILAN0");
    let in_force: GrantsState = [old.clone()].into_iter().collect();
    assert!(
        decide_grant(
            &in_force,
            &r,
            &GrantCommand::RevokeGrant(old),
            None,
            Utc::now()
        )
        .is_ok()
    );
}

#[test]
fn an_organisation_is_registered_once_with_a_valid_code_name_and_ats() {
    let r = registry();
    let register = |o: Organisation| {
        decide_organisation(
            &r,
            &OrganisationCommand::RegisterOrganisation(o),
            None,
            t0(),
        )
        .map_err(|e| (e.code(), e.field()))
    };
    let ok = register(provider("COOP-NUOVA", "ATS-BERGAMO")).expect("registered");
    assert!(matches!(
        ok.as_slice(),
        [OrganisationEvent::OrganisationRegistered { organisation, .. }] if organisation.code == "COOP-NUOVA"
    ));
    // The same registration again changes nothing; another organisation under the code is refused.
    assert_eq!(register(provider("COOP-ESEMPIO", "ATS-MILANO")), Ok(vec![]));
    assert_eq!(
        register(provider("COOP-ESEMPIO", "ATS-BERGAMO")),
        Err(("organisation-code-taken", "code"))
    );
    assert_eq!(
        register(provider("ATS-MILANO", "ATS-MILANO")),
        Err(("organisation-code-taken", "code"))
    );
    assert_eq!(
        register(provider("coop nuova", "ATS-BERGAMO")),
        Err(("invalid-organisation-code", "code"))
    );
    assert_eq!(
        register(provider("COOP-NUOVA", "ATS-BERGAM0")),
        Err(("unknown-organisation", "ats"))
    );
    let mut no_ats = provider("COOP-NUOVA", "ATS-BERGAMO");
    no_ats.ats = None;
    assert_eq!(register(no_ats), Err(("invalid-organisation-ats", "ats")));
    let mut blank = provider("COOP-NUOVA", "ATS-BERGAMO");
    blank.name = "  ".into();
    assert_eq!(register(blank), Err(("invalid-organisation-name", "name")));
}

mod staff {
    use super::*;
    use diario_domain::staff::{StaffCommand, StaffState, decide_staff, evolve_staff};
    use diario_domain::{Catalogue, FigureId};

    fn record(given: &str, family: &str, organisation: &str, figures: &[&str]) -> StaffCommand {
        StaffCommand::RecordStaffMember {
            fiscal_code: educatore(),
            given_name: given.to_owned(),
            family_name: family.to_owned(),
            email: None,
            organisation: organisation.to_owned(),
            figures: figures.iter().map(|f| FigureId::new(*f)).collect(),
        }
    }

    fn decide(state: &StaffState, command: &StaffCommand) -> Result<StaffState, &'static str> {
        let catalogue = Catalogue::shipped().expect("catalogue");
        decide_staff(state, command, &registry(), &catalogue, None, t0())
            .map(|events| events.iter().fold(state.clone(), evolve_staff))
            .map_err(|e| e.code())
    }

    #[test]
    fn a_staff_member_has_a_name_an_organisation_and_figures_of_the_catalogue() {
        let anna = decide(
            &None,
            &record(
                "Anna Maria",
                "D'Angelo",
                "COOP-ESEMPIO",
                &["educatore_professionale"],
            ),
        )
        .expect("recorded")
        .expect("a member");
        assert_eq!(anna.full_name(), "Anna Maria D'Angelo");
        // Also at the ASST, under another figure: both memberships are kept.
        let both = decide(
            &Some(anna.clone()),
            &record("Anna Maria", "D'Angelo", "ASST-FBF-SACCO", &["psicologo"]),
        )
        .expect("recorded")
        .expect("a member");
        assert_eq!(both.memberships.len(), 2);
        for (bad, code) in [
            (
                record("", "Rossi", "COOP-ESEMPIO", &[]),
                "invalid-staff-name",
            ),
            (
                record("Anna", "RSSMRA85T10A562S", "COOP-ESEMPIO", &[]),
                "invalid-staff-name",
            ),
            (
                record("Anna", "Rossi", "COOP-IGNOTA", &[]),
                "unknown-organisation",
            ),
            (
                record("Anna", "Rossi", "COOP-ESEMPIO", &["astronauta"]),
                "figure-not-in-catalogue",
            ),
            (
                record("Anna", "Rossi", "ATS-MILANO", &["psicologo"]),
                "figures-at-an-ats",
            ),
        ] {
            assert_eq!(decide(&None, &bad), Err(code), "{bad:?}");
        }
        let mut with_email = record("Anna", "Rossi", "COOP-ESEMPIO", &[]);
        if let StaffCommand::RecordStaffMember { email, .. } = &mut with_email {
            *email = Some("anna.rossi@coop-esempio.it".into());
        }
        assert!(decide(&None, &with_email).is_ok());
        for bad in [
            "anna",
            "anna@",
            "@coop.it",
            "anna rossi@coop.it",
            "anna@coop",
        ] {
            let mut wrong = with_email.clone();
            if let StaffCommand::RecordStaffMember { email, .. } = &mut wrong {
                *email = Some(bad.into());
            }
            assert_eq!(decide(&None, &wrong), Err("invalid-staff-email"), "{bad}");
        }
        let end = |org: &str| StaffCommand::EndStaffMembership {
            fiscal_code: educatore(),
            organisation: org.to_owned(),
        };
        assert_eq!(
            decide(&Some(anna.clone()), &end("ASST-FBF-SACCO")),
            Err("staff-membership-not-found")
        );
        let left = decide(&Some(both), &end("ASST-FBF-SACCO"))
            .expect("ended")
            .expect("a member");
        assert_eq!(
            left.memberships.keys().collect::<Vec<_>>(),
            ["COOP-ESEMPIO"]
        );
    }
}

#[test]
fn under_autonomia_2016_the_public_body_of_a_case_is_the_lead_body_of_an_ambito() {
    // Given the shipped registry with a provider and the lead body of an Ambito of ATS Milano.
    let mut r = registry();
    let lead = Organisation {
        code: "AMBITO-MILANO-CAPOFILA".to_owned(),
        name: "Comune di Milano, ente capofila dell'Ambito".to_owned(),
        kind: OrgKind::AmbitoLead,
        ats: Some("ATS-MILANO".to_owned()),
    };
    let command = OrganisationCommand::RegisterOrganisation(lead);
    for e in decide_organisation(&r, &command, None, t0()).expect("registered") {
        r = evolve_organisation(r, &e);
    }
    let measure = diario_domain::catalogue::Measure::shipped()
        .unwrap()
        .into_iter()
        .find(|m| m.id.as_str() == "autonomia_2016")
        .unwrap();
    // When a case names it, then it opens under autonomia 2016 (§9 C, §13: the beneficiary)…
    assert_eq!(measure.public_body(), OrgKind::AmbitoLead);
    let ok = r.check_case(
        "ATS-MILANO",
        "AMBITO-MILANO-CAPOFILA",
        "COOP-ESEMPIO",
        measure.public_body(),
    );
    assert_eq!(ok, Ok(()));
    // …an ASST does not, and under #UP the Ambito is not an ASST.
    assert_eq!(
        refusal(r.check_case(
            "ATS-MILANO",
            "ASST-FBF-SACCO",
            "COOP-ESEMPIO",
            OrgKind::AmbitoLead
        )),
        ("organisation-kind-mismatch", "asst")
    );
    assert_eq!(
        refusal(r.check_case(
            "ATS-MILANO",
            "AMBITO-MILANO-CAPOFILA",
            "COOP-ESEMPIO",
            OrgKind::Asst
        )),
        ("organisation-kind-mismatch", "asst")
    );
}

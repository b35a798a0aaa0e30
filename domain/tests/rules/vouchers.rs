//! The voucher of "autonomia 2016" (seed 003): validity with suspensions (§9 E, §10, §11),
//! accesses and the realised pathway (§12), with the Avviso's numbers.
use chrono::NaiveDate;
use diario_domain::catalogue::Measure;
use diario_domain::values::ServiceId;
use diario_domain::voucher::*;

use diario_domain::testing::fixtures::autonomia;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn voucher(start: NaiveDate, intensity: &str, suspensions: Vec<Suspension>) -> CaseVoucher {
    CaseVoucher {
        start,
        intensity: intensity.into(),
        suspensions,
    }
}

fn suspended(from: NaiveDate, to: Option<NaiveDate>, authorised: bool) -> Suspension {
    Suspension {
        from,
        reactivated_on: to,
        authorised,
    }
}

/// `n` consecutive days of `service` from `from`.
fn days_from(from: NaiveDate, n: u32, service: &str) -> Vec<ServiceDay> {
    (0..n)
        .map(|i| ServiceDay {
            date: from + chrono::Duration::days(i64::from(i)),
            service: ServiceId::new(service),
        })
        .collect()
}

const AS_OF: fn() -> NaiveDate = || d(2018, 3, 1);

fn accesses(intensity: &str, days: &[ServiceDay]) -> Accesses {
    let v = voucher(d(2017, 3, 1), intensity, Vec::new());
    count_accesses(&autonomia(), &v, days, AS_OF()).unwrap()
}

#[test]
fn a_pathway_with_69_accesses_is_not_realised_at_higher_intensity() {
    // Given 69 days of service, one of them with two entries.
    let mut days = days_from(d(2017, 4, 14), 69, "autonomia_personale");
    days.extend(days_from(d(2017, 4, 14), 1, "socializzazione"));
    // When counted, then 69 of 70: not realised, even with the final report.
    let a = accesses("maggiore_intensita", &days);
    assert_eq!((a.counted, a.required), (69, 70));
    assert!(!realised(&a, true));
}

#[test]
fn a_pathway_with_70_accesses_and_the_final_report_is_realised_at_higher_intensity() {
    let a = accesses(
        "maggiore_intensita",
        &days_from(d(2017, 4, 14), 70, "autonomia_personale"),
    );
    assert_eq!((a.counted, a.required), (70, 70));
    assert!(realised(&a, true));
}

#[test]
fn a_pathway_with_117_accesses_is_not_realised_at_lower_intensity() {
    let a = accesses(
        "minore_intensita",
        &days_from(d(2017, 4, 14), 117, "competenze_sociali"),
    );
    assert_eq!((a.counted, a.required), (117, 118));
    assert!(!realised(&a, true));
}

#[test]
fn a_pathway_with_118_accesses_is_realised_at_lower_intensity() {
    let a = accesses(
        "minore_intensita",
        &days_from(d(2017, 4, 14), 118, "competenze_sociali"),
    );
    assert_eq!((a.counted, a.required), (118, 118));
    assert!(realised(&a, true));
}

#[test]
fn seventy_accesses_without_the_final_report_are_not_realised() {
    let a = accesses(
        "maggiore_intensita",
        &days_from(d(2017, 4, 14), 70, "autonomia_personale"),
    );
    assert!(!realised(&a, false));
}

#[test]
fn only_the_services_of_the_pi_pei_count_as_accesses() {
    let mut days = days_from(d(2017, 4, 14), 69, "autonomia_personale");
    days.extend(days_from(d(2017, 7, 3), 1, "case_management"));
    days.extend(days_from(d(2017, 7, 4), 1, "osservazione_pei"));
    assert_eq!(accesses("maggiore_intensita", &days).counted, 69);
}

#[test]
fn a_day_suspended_or_outside_the_validity_is_not_an_access() {
    // Given 70 days from 14 April 2017 (the 70th is 22 June), 22 June suspended, and one day
    // after the validity (2018-02-28 + 1 authorised day = 2018-03-01).
    let v = voucher(
        d(2017, 3, 1),
        "maggiore_intensita",
        vec![suspended(d(2017, 6, 22), Some(d(2017, 6, 23)), true)],
    );
    let mut days = days_from(d(2017, 4, 14), 70, "autonomia_personale");
    days.extend(days_from(d(2018, 3, 5), 1, "autonomia_personale"));
    days.extend(days_from(d(2017, 2, 20), 1, "autonomia_personale"));
    let a = count_accesses(&autonomia(), &v, &days, d(2018, 3, 10)).unwrap();
    assert_eq!(a.counted, 69);
}

#[test]
fn an_unknown_intensity_counts_nothing() {
    let v = voucher(d(2017, 3, 1), "media", Vec::new());
    assert_eq!(
        count_accesses(&autonomia(), &v, &[], AS_OF()).unwrap_err(),
        VoucherError::UnknownIntensity("media".into())
    );
}

#[test]
fn a_suspension_of_91_days_in_total_is_refused() {
    let m = autonomia();
    let t = terms(&m).unwrap();
    let v = voucher(d(2017, 3, 1), "maggiore_intensita", Vec::new());
    // 1 May → reactivated 31 July: 31 + 30 + 30 = 91 days.
    let s = suspended(d(2017, 5, 1), Some(d(2017, 7, 31)), false);
    assert_eq!(s.days(AS_OF()), 91);
    let refused = v.check_suspension(t, &s, AS_OF()).unwrap_err();
    assert_eq!(
        refused,
        VoucherError::SuspensionOverLimit { total: 91, max: 90 }
    );
    assert_eq!(refused.code(), "suspension-over-limit");
    // 90 days are allowed.
    let s = suspended(d(2017, 5, 1), Some(d(2017, 7, 30)), false);
    assert_eq!(v.check_suspension(t, &s, AS_OF()), Ok(()));
}

#[test]
fn suspensions_add_up_also_when_not_consecutive() {
    let m = autonomia();
    let t = terms(&m).unwrap();
    let v = voucher(
        d(2017, 3, 1),
        "maggiore_intensita",
        vec![
            suspended(d(2017, 5, 1), Some(d(2017, 6, 15)), true),
            suspended(d(2017, 9, 1), Some(d(2017, 10, 16)), false),
        ],
    );
    assert_eq!(v.suspended_days(AS_OF()), 90);
    let one_more = suspended(d(2017, 11, 6), Some(d(2017, 11, 7)), false);
    assert_eq!(
        v.check_suspension(t, &one_more, AS_OF()),
        Err(VoucherError::SuspensionOverLimit { total: 91, max: 90 })
    );
    // An open suspension counts up to today.
    let open = suspended(d(2017, 11, 6), None, false);
    assert_eq!(v.check_suspension(t, &open, d(2017, 11, 6)), Ok(()));
    assert!(v.check_suspension(t, &open, d(2017, 11, 7)).is_err());
}

#[test]
fn suspensions_never_share_a_day_and_a_reactivation_follows_its_start() {
    let m = autonomia();
    let t = terms(&m).unwrap();
    let v = voucher(
        d(2017, 3, 1),
        "maggiore_intensita",
        vec![suspended(d(2017, 5, 1), Some(d(2017, 5, 10)), false)],
    );
    let inside = suspended(d(2017, 5, 9), Some(d(2017, 5, 12)), false);
    assert_eq!(
        v.check_suspension(t, &inside, AS_OF()),
        Err(VoucherError::SuspensionOverlaps(d(2017, 5, 1)))
    );
    // The day of the reactivation is free again.
    let next = suspended(d(2017, 5, 10), Some(d(2017, 5, 12)), false);
    assert_eq!(v.check_suspension(t, &next, AS_OF()), Ok(()));
    let empty = suspended(d(2017, 6, 1), Some(d(2017, 6, 1)), false);
    assert_eq!(
        v.check_suspension(t, &empty, AS_OF()),
        Err(VoucherError::SuspensionEmpty)
    );
    // Reactivating the open suspension replaces it.
    let open = voucher(
        d(2017, 3, 1),
        "maggiore_intensita",
        vec![suspended(d(2017, 5, 1), None, false)],
    );
    let reactivated = suspended(d(2017, 5, 1), Some(d(2017, 5, 20)), false);
    assert_eq!(open.check_suspension(t, &reactivated, AS_OF()), Ok(()));
}

#[test]
fn validity_extends_by_exactly_the_authorised_suspended_days() {
    // A voucher from 1 February 2017 suspended (authorised) 1 February – 30 April: 89 days.
    let m = autonomia();
    let t = terms(&m).unwrap();
    let v = voucher(
        d(2017, 2, 1),
        "maggiore_intensita",
        vec![suspended(d(2017, 2, 1), Some(d(2017, 5, 1)), true)],
    );
    assert_eq!(v.authorised_days(AS_OF()), 89);
    let validity = v.validity(t, AS_OF());
    assert_eq!(validity.base_end, d(2018, 1, 31));
    assert_eq!(validity.end, d(2018, 4, 30));
    assert_eq!(validity.bound, Bound::Months);
    // Without the suspension, 12 months.
    let plain = voucher(d(2017, 2, 1), "maggiore_intensita", Vec::new());
    assert_eq!(plain.validity(t, AS_OF()).end, d(2018, 1, 31));
}

#[test]
fn an_unauthorised_suspension_does_not_extend_the_validity() {
    let m = autonomia();
    let t = terms(&m).unwrap();
    let v = voucher(
        d(2017, 2, 1),
        "maggiore_intensita",
        vec![suspended(d(2017, 2, 1), Some(d(2017, 5, 1)), false)],
    );
    assert_eq!(v.validity(t, AS_OF()).end, d(2018, 1, 31));
    assert_eq!(v.suspended_days(AS_OF()), 89);
}

#[test]
fn validity_never_passes_15_months() {
    // 90 authorised days from 1 February 2017: 2018-01-31 + 90 = 2018-05-01, past 15 months.
    let m = autonomia();
    let t = terms(&m).unwrap();
    let v = voucher(
        d(2017, 2, 1),
        "maggiore_intensita",
        vec![suspended(d(2017, 2, 1), Some(d(2017, 5, 2)), true)],
    );
    let validity = v.validity(t, AS_OF());
    assert_eq!(
        (validity.end, validity.bound),
        (d(2018, 4, 30), Bound::MaxMonths)
    );
}

#[test]
fn validity_never_passes_the_avviso_s_15_june_2018() {
    // From 14 April 2017 with 90 authorised days: 2018-04-13 + 90 = 2018-07-12.
    let m = autonomia();
    let t = terms(&m).unwrap();
    let v = voucher(
        d(2017, 4, 14),
        "minore_intensita",
        vec![suspended(d(2017, 5, 1), Some(d(2017, 7, 30)), true)],
    );
    let validity = v.validity(t, AS_OF());
    assert_eq!(
        (validity.end, validity.bound),
        (d(2018, 6, 15), Bound::ActivitiesEnd)
    );
    // And a voucher started after 15 June 2017 ends there too, without suspensions.
    let late = voucher(d(2017, 7, 1), "minore_intensita", Vec::new());
    assert_eq!(late.validity(t, AS_OF()).end, d(2018, 6, 15));
}

#[test]
fn nothing_is_delivered_while_suspended_or_outside_the_validity() {
    let m = autonomia();
    let t = terms(&m).unwrap();
    let v = voucher(
        d(2017, 3, 1),
        "maggiore_intensita",
        vec![suspended(d(2017, 5, 1), None, false)],
    );
    let refused = v
        .check_activity_on(t, d(2017, 5, 10), d(2017, 5, 11))
        .unwrap_err();
    assert_eq!(
        refused,
        VoucherError::Suspended {
            date: d(2017, 5, 10),
            since: d(2017, 5, 1)
        }
    );
    assert_eq!(refused.code(), "voucher-suspended");
    assert_eq!(
        v.check_activity_on(t, d(2017, 4, 30), d(2017, 5, 11)),
        Ok(())
    );
    let plain = voucher(d(2017, 3, 1), "maggiore_intensita", Vec::new());
    assert!(matches!(
        plain.check_activity_on(t, d(2018, 3, 1), AS_OF()),
        Err(VoucherError::OutsideValidity { .. })
    ));
    assert!(plain.check_activity_on(t, d(2017, 2, 28), AS_OF()).is_err());
    assert_eq!(plain.check_activity_on(t, d(2018, 2, 28), AS_OF()), Ok(()));
}

#[test]
fn a_measure_without_a_voucher_has_no_voucher_rules() {
    let up = Measure::up_default().unwrap();
    assert_eq!(
        terms(&up).unwrap_err(),
        VoucherError::NotAVoucherMeasure("up".into())
    );
}

#[test]
fn access_services_must_be_services_of_the_measure() {
    let shipped = include_str!("../../measures/autonomia_2016.json");
    let from = "\"access_services\": [\"autonomia_personale\"";
    assert_eq!(shipped.matches(from).count(), 1);
    let json = shipped.replace(from, "\"access_services\": [\"piscina\"");
    let refused = Measure::from_json(&json).unwrap_err().to_string();
    assert!(
        refused.contains("piscina") && refused.contains("access_services"),
        "{refused}"
    );
}

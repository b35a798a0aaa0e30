//! Samples for controls (seed 004, § controlli): at least 5% of the operations and 10% of the
//! expenditure, per stratum (ATS, provider), ranked by SHA-256 of seed and case id.
use crate::common::*;
use diario_domain::sampling::*;

fn op(n: u128, ats: &str, provider: &str, cents: i64) -> Operation {
    Operation {
        case_id: Uuid::from_u128(n),
        ats: ats.into(),
        provider: provider.into(),
        expenditure_cents: cents,
    }
}

const SEED: &str = "seme-2026";

/// `amounts` given to `amounts.len()` operations of one stratum in the order the seed ranks
/// them (so a test can say what the first, second… ranked operation costs).
fn stratum_in_rank_order(base: u128, amounts: &[i64]) -> Vec<Operation> {
    let mut ids: Vec<Uuid> = (0..amounts.len() as u128)
        .map(|i| Uuid::from_u128(base + i))
        .collect();
    ids.sort_by_key(|id| rank_key(SEED, id));
    ids.iter()
        .zip(amounts)
        .map(|(id, cents)| Operation {
            case_id: *id,
            ats: "ATS-MILANO".into(),
            provider: "ENTE-ALFA".into(),
            expenditure_cents: *cents,
        })
        .collect()
}

fn drawn(population: &[Operation]) -> Vec<Uuid> {
    draw(population, SEED, Thresholds::default())
}

#[test]
fn the_ranking_is_sha256_of_the_seed_a_colon_and_the_case_id() {
    assert_eq!(
        rank_key(SEED, &Uuid::nil()),
        "2c8296c8201d5985e99299fe3460827a0669eb30c4d7c9dbcf2b2022704eeb3c"
    );
    assert_eq!(
        population_sha256(&[op(1, "ATS-MILANO", "ENTE-ALFA", 4500)]),
        "546a09372f5c4c9fd8c9140836e4b853d5ab02e83e70a7c7255935b974056c2d"
    );
}

#[test]
fn operations_are_taken_in_rank_order_until_10_percent_of_the_expenditure() {
    // Ten operations (5% of them is one); the first ranked costs 1 cent, the rest 100:
    // 10% of 901 cents is 91, so the first two are taken.
    let population = stratum_in_rank_order(100, &[1, 100, 100, 100, 100, 100, 100, 100, 100, 100]);
    assert_eq!(
        drawn(&population),
        vec![population[0].case_id, population[1].case_id]
    );
}

#[test]
fn operations_are_taken_until_5_percent_of_them_even_when_the_expenditure_is_reached() {
    // Forty operations (5% is two); the first ranked alone is over 10% of the expenditure.
    let mut amounts = vec![1000];
    amounts.extend(std::iter::repeat_n(1, 39));
    let population = stratum_in_rank_order(200, &amounts);
    assert_eq!(
        drawn(&population),
        vec![population[0].case_id, population[1].case_id]
    );
}

#[test]
fn both_thresholds_are_rounded_up_per_stratum() {
    // Ten operations: 5% is 0.5, rounded up to one; 10% of 1,001 cents is 100.1, rounded up
    // to 101, which the first ranked (100 cents) does not reach.
    let population =
        stratum_in_rank_order(300, &[100, 101, 100, 100, 100, 100, 100, 100, 100, 100]);
    assert_eq!(drawn(&population).len(), 2);
}

#[test]
fn each_ats_and_provider_is_a_stratum_of_its_own() {
    // Two strata of one operation each: each gives its one operation.
    let population = vec![
        op(1, "ATS-MILANO", "ENTE-ALFA", 500),
        op(2, "ATS-MILANO", "ENTE-BETA", 500),
    ];
    assert_eq!(drawn(&population).len(), 2);
}

#[test]
fn the_same_seed_and_population_draw_the_same_sample() {
    let population: Vec<Operation> = (0..60)
        .map(|i| {
            op(
                i,
                if i % 2 == 0 {
                    "ATS-MILANO"
                } else {
                    "ATS-BERGAMO"
                },
                if i % 3 == 0 { "ENTE-ALFA" } else { "ENTE-BETA" },
                1000 + (i as i64 * 37) % 900,
            )
        })
        .collect();
    let first = draw(&population, SEED, Thresholds::default());
    let mut shuffled = population.clone();
    shuffled.reverse();
    assert_eq!(draw(&shuffled, SEED, Thresholds::default()), first);
    assert_ne!(
        draw(&population, "altro-seme", Thresholds::default()),
        first
    );
}

fn command(population: Vec<Operation>, thresholds: Thresholds, seed: &str) -> DrawSample {
    DrawSample {
        of: Population::Cases,
        sample_id: Uuid::from_u128(7),
        ats: None,
        seed: seed.into(),
        thresholds,
        population,
        position: LogPosition {
            transaction: 0,
            position: 42,
        },
    }
}

#[test]
fn a_draw_records_seed_position_population_and_selection() {
    let population = vec![
        op(2, "ATS-MILANO", "ENTE-ALFA", 900),
        op(1, "ATS-MILANO", "ENTE-ALFA", 100),
    ];
    let events = decide_sample(
        &None,
        &command(population.clone(), Thresholds::default(), SEED),
        &ats_operator(),
        evening(),
    )
    .unwrap();
    let SampleEvent::SampleDrawn {
        population: recorded,
        population_sha256: digest,
        selected,
        position,
        seed,
        ..
    } = &events[0];
    let mut sorted = population;
    sorted.sort_by_key(|o| o.case_id);
    assert_eq!(recorded, &sorted, "the population, by case id");
    assert_eq!(digest, &population_sha256(&sorted));
    assert_eq!(selected, &draw(&sorted, SEED, Thresholds::default()));
    assert_eq!((position.position, seed.as_str()), (42, SEED));
    // Drawn once.
    let state = evolve_sample(None, &events[0]);
    assert_eq!(
        decide_sample(
            &state,
            &command(sorted, Thresholds::default(), SEED),
            &ats_operator(),
            evening()
        ),
        Err(SampleError::AlreadyDrawn)
    );
}

#[test]
fn thresholds_seeds_and_empty_populations_are_refused_naming_the_field() {
    let population = vec![op(1, "ATS-MILANO", "ENTE-ALFA", 100)];
    let refused = |c: DrawSample| decide_sample(&None, &c, &ats_operator(), evening()).unwrap_err();
    let zero = Thresholds {
        operations_pct: 0,
        expenditure_pct: 10,
    };
    let e = refused(command(population.clone(), zero, SEED));
    assert_eq!(
        (e.code(), e.field()),
        ("invalid-sample-threshold", Some("operations_pct"))
    );
    let over = Thresholds {
        operations_pct: 5,
        expenditure_pct: 101,
    };
    assert_eq!(
        refused(command(population.clone(), over, SEED)).field(),
        Some("expenditure_pct")
    );
    for seed in ["", "con spazio", &"x".repeat(129)] {
        assert_eq!(
            refused(command(population.clone(), Thresholds::default(), seed)).code(),
            "invalid-sample-seed"
        );
    }
    assert_eq!(
        refused(command(Vec::new(), Thresholds::default(), SEED)).code(),
        "empty-sample-population"
    );
}

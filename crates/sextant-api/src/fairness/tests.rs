//! The measures' definitions, the resampling and the intervals.

use super::*;

fn counts(tp: u64, fp: u64, tn: u64, fn_: u64) -> GroupCounts {
    GroupCounts {
        true_positives: tp,
        false_positives: fp,
        true_negatives: tn,
        false_negatives: fn_,
        ..GroupCounts::default()
    }
}

#[test]
fn measures_follow_fairlearns_definitions_for_two_groups() {
    // Protected: selection 30/100, TPR 20/40, FPR 10/60; reference: 50/100, 40/50, 10/50.
    let p = counts(20, 10, 50, 20);
    let r = counts(40, 10, 40, 10);
    let m = FairnessMeasures::between(&p, &r, 0.95, 200, 1);
    let close = |m: &FairnessMeasure, v: f64| (m.value.unwrap() - v).abs() < 1e-12;
    assert!(close(&m.demographic_parity.0, 0.2));
    assert!(close(&m.demographic_parity.1, 0.6));
    assert!(close(&m.equal_opportunity.0, 0.3));
    assert!(close(&m.equal_opportunity.1, 0.5 / 0.8));
    assert!(close(&m.false_positive_rate.0, 0.2 - 1.0 / 6.0));
    // Equalized odds: the worse of TPR (0.3 apart) and FPR (0.033 apart).
    assert!(close(&m.equalized_odds.0, 0.3));
    assert!(close(&m.equalized_odds.1, (1.0 / 6.0 / 0.2_f64).min(0.625)));
    assert!(close(&m.predictive_parity.0, 0.8 - 20.0 / 30.0));
    assert!(close(&m.accuracy_score.0, 0.8 - 0.7));
}

#[test]
fn resampling_keeps_each_groups_size_and_is_seeded() {
    let g = GroupCounts {
        selected_unlabelled: 7,
        ..counts(5, 0, 30, 9)
    };
    let mut a = StdRng::seed_from_u64(3);
    let mut b = StdRng::seed_from_u64(3);
    for _ in 0..100 {
        let (x, y) = (g.resample(&mut a), g.resample(&mut b));
        assert_eq!(x, y);
        assert_eq!(x.rows(), g.rows());
        // An empty cell stays empty.
        assert_eq!(x.false_positives, 0);
        assert_eq!(x.unselected_unlabelled, 0);
    }
}

#[test]
fn the_bootstrap_interval_of_a_rate_difference_has_the_normal_approximations_width() {
    // Selection rates 0.3 and 0.5 over 2,000 rows each: the difference's standard error
    // is sqrt(0.3·0.7/2000 + 0.5·0.5/2000), and the 95 % interval ±1.96 of it.
    let p = GroupCounts {
        selected_unlabelled: 600,
        unselected_unlabelled: 1400,
        ..GroupCounts::default()
    };
    let r = GroupCounts {
        selected_unlabelled: 1000,
        unselected_unlabelled: 1000,
        ..GroupCounts::default()
    };
    let m = FairnessMeasures::between(&p, &r, 0.95, 4000, 11);
    let se = (0.3 * 0.7 / 2000.0 + 0.25 / 2000.0_f64).sqrt();
    let d = &m.demographic_parity.0;
    let (low, high) = (d.low.unwrap(), d.high.unwrap());
    assert!(
        ((high - low) / (2.0 * 1.96 * se) - 1.0).abs() < 0.08,
        "{low} {high} {se}"
    );
    assert!(low < 0.2 && 0.2 < high);
    // Labels are missing everywhere: every label-based measure is undefined.
    assert_eq!(m.equal_opportunity.0.value, None);
    assert_eq!(m.equalized_odds.1.low, None);
}

#[test]
fn an_interval_that_spans_no_difference_starts_at_zero_and_a_ratio_ends_at_one() {
    let g = counts(50, 50, 50, 50);
    let m = FairnessMeasures::between(&g, &g, 0.9, 500, 2);
    let (d, q) = &m.demographic_parity;
    assert_eq!((d.value, d.low), (Some(0.0), Some(0.0)));
    assert!(d.high.unwrap() > 0.0);
    assert_eq!((q.value, q.high), (Some(1.0), Some(1.0)));
    assert!(q.low.unwrap() < 1.0);
}

#[test]
fn a_ratio_with_one_zero_rate_is_zero_and_of_two_is_undefined() {
    let none_selected = counts(0, 0, 50, 50);
    let m = FairnessMeasures::between(&none_selected, &counts(10, 10, 40, 40), 0.95, 200, 0);
    assert_eq!(m.demographic_parity.1.value, Some(0.0));
    let m = FairnessMeasures::between(&none_selected, &none_selected, 0.95, 200, 0);
    assert_eq!(m.demographic_parity.1.value, None);
    assert_eq!(m.demographic_parity.0.value, Some(0.0));
}

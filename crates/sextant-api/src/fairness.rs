//! Fairness of a binary classifier between two groups of rows (a protected segment and its
//! complement, or two named segments): the rates of each group, the measures between them under
//! fairlearn's names, and a seeded bootstrap confidence interval for each.
//!
//! Every measure is a function of each group's counts of (decision, label) pairs, so the
//! bootstrap resamples those counts (a multinomial draw per group, of the group's own size: the
//! same distribution as resampling its rows) and never reads the rows again.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Binomial, Distribution};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::intervals::percentiles;
use crate::{Provenance, SegmentScope};

/// Confidence level of the intervals when the query gives none.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;

/// Bootstrap resamples when the query gives none.
pub const DEFAULT_RESAMPLES: u32 = 1000;

/// Seed of the resampling when the query gives none.
pub const DEFAULT_SEED: u64 = 0;

/// The selection-rate ratio below which the four-fifths rule is violated.
pub const FOUR_FIFTHS: f64 = 0.8;

/// The query of `GET /api/v1/projects/{project}/models/{model}/fairness`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FairnessQuery {
    /// The dataset the model's predictions were computed on (a predict job's result).
    pub dataset: String,
    /// The protected group: a segment of the project by name, or a segment expression.
    pub protected: String,
    /// The group it is compared with, likewise (default: every row not in the protected group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The probability at or above which a row is selected (predicted class 1); default the
    /// predict job's threshold, else 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(exclusive_minimum = 0.0, exclusive_maximum = 1.0)]
    pub threshold: Option<f64>,
    /// Confidence level of the intervals (default 0.95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0.5, maximum = 0.999)]
    pub confidence: Option<f64>,
    /// Bootstrap resamples (default 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 100, maximum = 100000)]
    pub resamples: Option<u32>,
    /// Seed of the resampling (default 0): the same seed gives the same intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0)]
    pub seed: Option<u64>,
    /// A result over the first N rows only (default: the result over the whole dataset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1)]
    pub rows: Option<u64>,
    /// The result of this predict job (of this model and dataset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
}

/// A group's counts of decisions against labels: the sufficient statistics of every measure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Selected, label 1.
    pub true_positives: u64,
    /// Selected, label 0.
    pub false_positives: u64,
    /// Not selected, label 0.
    pub true_negatives: u64,
    /// Not selected, label 1.
    pub false_negatives: u64,
    /// Selected, no label.
    pub selected_unlabelled: u64,
    /// Not selected, no label.
    pub unselected_unlabelled: u64,
}

impl GroupCounts {
    /// Counts one row: whether it was `selected`, and its label (0 or 1) if it has one.
    pub fn add(&mut self, selected: bool, label: Option<bool>) {
        let cell = match (selected, label) {
            (true, Some(true)) => &mut self.true_positives,
            (true, Some(false)) => &mut self.false_positives,
            (false, Some(false)) => &mut self.true_negatives,
            (false, Some(true)) => &mut self.false_negatives,
            (true, None) => &mut self.selected_unlabelled,
            (false, None) => &mut self.unselected_unlabelled,
        };
        *cell += 1;
    }

    fn cells(&self) -> [u64; 6] {
        [
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
            self.selected_unlabelled,
            self.unselected_unlabelled,
        ]
    }

    fn from_cells(c: [u64; 6]) -> GroupCounts {
        GroupCounts {
            true_positives: c[0],
            false_positives: c[1],
            true_negatives: c[2],
            false_negatives: c[3],
            selected_unlabelled: c[4],
            unselected_unlabelled: c[5],
        }
    }

    /// Rows in the group.
    pub fn rows(&self) -> u64 {
        self.cells().iter().sum()
    }

    /// Rows with a label.
    pub fn labelled(&self) -> u64 {
        self.true_positives + self.false_positives + self.true_negatives + self.false_negatives
    }

    /// The rate of every measure.
    fn rate(&self, rate: Rate) -> Option<f64> {
        let (tp, fp, tn, fn_) = (
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        );
        let (part, whole) = match rate {
            Rate::Selection => (tp + fp + self.selected_unlabelled, self.rows()),
            Rate::TruePositive => (tp, tp + fn_),
            Rate::FalsePositive => (fp, fp + tn),
            Rate::FalseNegative => (fn_, tp + fn_),
            Rate::Precision => (tp, tp + fp),
            Rate::Accuracy => (tp + tn, self.labelled()),
        };
        (whole > 0).then(|| part as f64 / whole as f64)
    }

    /// The same group resampled: as many rows, drawn with replacement.
    fn resample(&self, rng: &mut StdRng) -> GroupCounts {
        let cells = self.cells();
        let mut left = self.rows();
        let mut rest: u64 = left;
        let mut drawn = [0u64; 6];
        for (i, &c) in cells.iter().enumerate() {
            if left == 0 {
                break;
            }
            if i == cells.len() - 1 || c == rest {
                drawn[i] = left;
                break;
            }
            let p = c as f64 / rest as f64;
            let k = Binomial::new(left, p).map_or(0, |b| b.sample(rng));
            drawn[i] = k;
            left -= k;
            rest -= c;
        }
        GroupCounts::from_cells(drawn)
    }

    /// The group's rates, as reported.
    pub fn rates(&self) -> GroupRates {
        GroupRates {
            rows: self.rows(),
            labelled: self.labelled(),
            selected: self.true_positives + self.false_positives + self.selected_unlabelled,
            positives: self.true_positives + self.false_negatives,
            selection_rate: self.rate(Rate::Selection),
            true_positive_rate: self.rate(Rate::TruePositive),
            false_positive_rate: self.rate(Rate::FalsePositive),
            false_negative_rate: self.rate(Rate::FalseNegative),
            precision: self.rate(Rate::Precision),
            accuracy: self.rate(Rate::Accuracy),
        }
    }
}

/// The rates the measures compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rate {
    Selection,
    TruePositive,
    FalsePositive,
    FalseNegative,
    Precision,
    Accuracy,
}

/// One group's rates (null where the rate is over no rows: a true positive rate without a
/// positive label, for one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupRates {
    /// Rows in the group.
    pub rows: u64,
    /// Rows with a label.
    pub labelled: u64,
    /// Rows selected (predicted class 1).
    pub selected: u64,
    /// Labelled rows of class 1.
    pub positives: u64,
    /// Share of rows selected.
    pub selection_rate: Option<f64>,
    /// Share of class-1 rows selected (recall).
    pub true_positive_rate: Option<f64>,
    /// Share of class-0 rows selected.
    pub false_positive_rate: Option<f64>,
    /// Share of class-1 rows not selected.
    pub false_negative_rate: Option<f64>,
    /// Share of selected labelled rows that are class 1 (positive predictive value).
    pub precision: Option<f64>,
    /// Share of labelled rows whose decision is their label.
    pub accuracy: Option<f64>,
}

/// A measure between the groups, with its confidence interval (null where undefined: a rate
/// over no rows, a ratio of two zeros).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FairnessMeasure {
    /// Its value on the data.
    pub value: Option<f64>,
    /// Lower end of the interval.
    pub low: Option<f64>,
    /// Upper end of the interval.
    pub high: Option<f64>,
}

/// Both groups' rates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FairnessGroups {
    /// The protected group's.
    pub protected: GroupRates,
    /// The reference group's.
    pub reference: GroupRates,
}

/// The fairness of a binary classifier between a protected group and a reference group.
///
/// A difference is |protected − reference| and a ratio is smaller / larger, as fairlearn
/// defines them for two groups (`demographic_parity_*`, `equal_opportunity_*`,
/// `equalized_odds_*`, `false_positive_rate_*`, `false_negative_rate_*`,
/// `accuracy_score_*`); `predictive_parity_*` compares precision the same way. The groups'
/// rates say which way a difference goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FairnessReport {
    /// The predictions it was computed from.
    pub source: Provenance,
    /// The protected group: its segment and size.
    pub protected: SegmentScope,
    /// The reference group (for the complement, the expression `not (…)` and no name).
    pub reference: SegmentScope,
    /// The probability at or above which a row was selected.
    pub threshold: f64,
    /// Confidence level of the intervals.
    pub confidence: f64,
    /// Bootstrap resamples behind the intervals (each group resampled to its own size).
    pub resamples: u32,
    /// Seed of the resampling.
    pub seed: u64,
    /// Each group's rates.
    pub groups: FairnessGroups,
    /// Difference of the selection rates.
    pub demographic_parity_difference: FairnessMeasure,
    /// Ratio of the selection rates (disparate impact).
    pub demographic_parity_ratio: FairnessMeasure,
    /// Whether the selection-rate ratio is below 0.8 (null when undefined).
    pub four_fifths_rule_violated: Option<bool>,
    /// Difference of the true positive rates.
    pub equal_opportunity_difference: FairnessMeasure,
    /// Ratio of the true positive rates.
    pub equal_opportunity_ratio: FairnessMeasure,
    /// The larger of the true and false positive rate differences.
    pub equalized_odds_difference: FairnessMeasure,
    /// The smaller of the true and false positive rate ratios.
    pub equalized_odds_ratio: FairnessMeasure,
    /// Difference of the false positive rates.
    pub false_positive_rate_difference: FairnessMeasure,
    /// Ratio of the false positive rates.
    pub false_positive_rate_ratio: FairnessMeasure,
    /// Difference of the false negative rates.
    pub false_negative_rate_difference: FairnessMeasure,
    /// Ratio of the false negative rates.
    pub false_negative_rate_ratio: FairnessMeasure,
    /// Difference of the accuracies.
    pub accuracy_score_difference: FairnessMeasure,
    /// Ratio of the accuracies.
    pub accuracy_score_ratio: FairnessMeasure,
    /// Difference of the precisions (predictive parity).
    pub predictive_parity_difference: FairnessMeasure,
    /// Ratio of the precisions.
    pub predictive_parity_ratio: FairnessMeasure,
}

impl FairnessReport {
    /// Every measure by its field's name, in the order they are declared: fairlearn's, then
    /// predictive parity.
    pub fn measures(&self) -> [(&'static str, &FairnessMeasure); 14] {
        [
            (
                "demographic_parity_difference",
                &self.demographic_parity_difference,
            ),
            ("demographic_parity_ratio", &self.demographic_parity_ratio),
            (
                "equal_opportunity_difference",
                &self.equal_opportunity_difference,
            ),
            ("equal_opportunity_ratio", &self.equal_opportunity_ratio),
            ("equalized_odds_difference", &self.equalized_odds_difference),
            ("equalized_odds_ratio", &self.equalized_odds_ratio),
            (
                "false_positive_rate_difference",
                &self.false_positive_rate_difference,
            ),
            ("false_positive_rate_ratio", &self.false_positive_rate_ratio),
            (
                "false_negative_rate_difference",
                &self.false_negative_rate_difference,
            ),
            ("false_negative_rate_ratio", &self.false_negative_rate_ratio),
            ("accuracy_score_difference", &self.accuracy_score_difference),
            ("accuracy_score_ratio", &self.accuracy_score_ratio),
            (
                "predictive_parity_difference",
                &self.predictive_parity_difference,
            ),
            ("predictive_parity_ratio", &self.predictive_parity_ratio),
        ]
    }
}

/// Every measure of a report, between two groups' counts.
#[derive(Clone, Debug, PartialEq)]
pub struct FairnessMeasures {
    /// `demographic_parity_difference` and `_ratio`.
    pub demographic_parity: (FairnessMeasure, FairnessMeasure),
    /// `equal_opportunity_*`.
    pub equal_opportunity: (FairnessMeasure, FairnessMeasure),
    /// `equalized_odds_*`.
    pub equalized_odds: (FairnessMeasure, FairnessMeasure),
    /// `false_positive_rate_*`.
    pub false_positive_rate: (FairnessMeasure, FairnessMeasure),
    /// `false_negative_rate_*`.
    pub false_negative_rate: (FairnessMeasure, FairnessMeasure),
    /// `accuracy_score_*`.
    pub accuracy_score: (FairnessMeasure, FairnessMeasure),
    /// `predictive_parity_*`.
    pub predictive_parity: (FairnessMeasure, FairnessMeasure),
}

/// A rate's comparison between the groups, signed: protected − reference, and protected /
/// reference (infinite when only the reference's rate is zero).
fn signed(p: Option<f64>, r: Option<f64>) -> (Option<f64>, Option<f64>) {
    match (p, r) {
        (Some(p), Some(r)) => {
            let ratio = if r > 0.0 {
                Some(p / r)
            } else if p > 0.0 {
                Some(f64::INFINITY)
            } else {
                None
            };
            (Some(p - r), ratio)
        }
        _ => (None, None),
    }
}

/// Smaller over larger, of a signed ratio q: min(q, 1/q).
fn folded(q: f64) -> f64 {
    if q.is_infinite() { 0.0 } else { q.min(1.0 / q) }
}

/// The interval of |d| from the interval [a, b] of the signed difference d: its image under |·|.
fn abs_interval((a, b): (f64, f64)) -> (f64, f64) {
    if a <= 0.0 && 0.0 <= b {
        (0.0, a.abs().max(b.abs()))
    } else {
        (a.abs().min(b.abs()), a.abs().max(b.abs()))
    }
}

/// The interval of min(q, 1/q) from the interval [a, b] of the signed ratio q: its image.
fn folded_interval((a, b): (f64, f64)) -> (f64, f64) {
    let (fa, fb) = (folded(a), folded(b));
    if a <= 1.0 && 1.0 <= b {
        (fa.min(fb), 1.0)
    } else {
        (fa.min(fb), fa.max(fb))
    }
}

/// A rate compared between the groups: its difference and ratio, and their intervals.
struct Compared {
    difference: FairnessMeasure,
    ratio: FairnessMeasure,
    difference_interval: Option<(f64, f64)>,
    ratio_interval: Option<(f64, f64)>,
}

/// A rate's difference and ratio with their intervals, from the signed comparisons on the data
/// and on each resample.
fn compared(
    on_data: (Option<f64>, Option<f64>),
    resampled: &[(Option<f64>, Option<f64>)],
    confidence: f64,
) -> Compared {
    // A measure undefined on more than half of the resamples has no interval.
    let enough = |n: usize| 2 * n >= resampled.len();
    let differences: Vec<f64> = resampled.iter().filter_map(|s| s.0).collect();
    let ratios: Vec<f64> = resampled.iter().filter_map(|s| s.1).collect();
    let d = enough(differences.len())
        .then(|| percentiles(differences, confidence).map(abs_interval))
        .flatten();
    let q = enough(ratios.len())
        .then(|| percentiles(ratios, confidence).map(folded_interval))
        .flatten();
    let measure = |value: Option<f64>, interval: Option<(f64, f64)>| FairnessMeasure {
        value,
        low: value.and(interval.map(|i| i.0)),
        high: value.and(interval.map(|i| i.1)),
    };
    Compared {
        difference: measure(on_data.0.map(f64::abs), d),
        ratio: measure(on_data.1.map(folded), q),
        difference_interval: d,
        ratio_interval: q,
    }
}

impl FairnessMeasures {
    /// The measures between the `protected` and `reference` groups' counts, with percentile
    /// intervals at `confidence` from `resamples` seeded bootstrap resamples of both.
    pub fn between(
        protected: &GroupCounts,
        reference: &GroupCounts,
        confidence: f64,
        resamples: u32,
        seed: u64,
    ) -> FairnessMeasures {
        let mut rng = StdRng::seed_from_u64(seed);
        let draws: Vec<(GroupCounts, GroupCounts)> = (0..resamples)
            .map(|_| (protected.resample(&mut rng), reference.resample(&mut rng)))
            .collect();
        let rate = |rate: Rate| {
            let on_data = signed(protected.rate(rate), reference.rate(rate));
            let resampled: Vec<_> = draws
                .iter()
                .map(|(p, r)| signed(p.rate(rate), r.rate(rate)))
                .collect();
            compared(on_data, &resampled, confidence)
        };
        let selection = rate(Rate::Selection);
        let tpr = rate(Rate::TruePositive);
        let fpr = rate(Rate::FalsePositive);
        let fnr = rate(Rate::FalseNegative);
        let accuracy = rate(Rate::Accuracy);
        let precision = rate(Rate::Precision);
        // Equalized odds is the worse of the two rates: its interval is spanned by the ends of
        // theirs (the image of both intervals under max, or min for the ratio).
        let both =
            |a: Option<f64>, b: Option<f64>, f: fn(f64, f64) -> f64| a.zip(b).map(|(a, b)| f(a, b));
        let worst = |a: &FairnessMeasure,
                     b: &FairnessMeasure,
                     ia: Option<(f64, f64)>,
                     ib: Option<(f64, f64)>,
                     f: fn(f64, f64) -> f64| {
            let value = both(a.value, b.value, f);
            FairnessMeasure {
                value,
                low: value.and(both(ia.map(|i| i.0), ib.map(|i| i.0), f)),
                high: value.and(both(ia.map(|i| i.1), ib.map(|i| i.1), f)),
            }
        };
        let odds_d = worst(
            &tpr.difference,
            &fpr.difference,
            tpr.difference_interval,
            fpr.difference_interval,
            f64::max,
        );
        let odds_r = worst(
            &tpr.ratio,
            &fpr.ratio,
            tpr.ratio_interval,
            fpr.ratio_interval,
            f64::min,
        );
        FairnessMeasures {
            demographic_parity: (selection.difference, selection.ratio),
            equal_opportunity: (tpr.difference, tpr.ratio),
            equalized_odds: (odds_d, odds_r),
            false_positive_rate: (fpr.difference, fpr.ratio),
            false_negative_rate: (fnr.difference, fnr.ratio),
            accuracy_score: (accuracy.difference, accuracy.ratio),
            predictive_parity: (precision.difference, precision.ratio),
        }
    }
}

#[cfg(test)]
mod tests;

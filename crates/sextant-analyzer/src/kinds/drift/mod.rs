//! `drift`: a reference dataset and the current one compared feature by feature and on the
//! model's score, streamed in batches with bounded memory, and the features that contribute to
//! the change of the mean score from their influences on both against one background.

#[cfg(feature = "compute")]
mod compute;
#[cfg(feature = "compute")]
mod contributors;
#[cfg(feature = "compute")]
mod report;

use sextant_api::{
    CreateJob, DEFAULT_CONTRIBUTOR_ROWS, InfluenceMethod, JobKind, JobOptions, ModelSummary,
    ProjectSchema, Task,
};

use super::influences::{sampled_row_cost, sampling_defaults};
use super::{Analysis, Cost, CostInputs, Documents};

/// The most rows of each dataset a job may explain for its contributors.
pub const MAX_CONTRIBUTOR_ROWS: u64 = 100_000;

/// Drift between a reference dataset and the job's data.
pub struct Drift;

/// Which shard sketches feature `j` of a job of `count` shards, and where in its report the
/// feature is: shard 0 scores and sketches nothing, shard `1 + j % (count - 1)` sketches `j`.
/// One shard does everything.
pub fn part_of_feature(j: usize, count: u32) -> (u32, usize) {
    match count {
        0 | 1 => (0, j),
        _ => {
            let sketching = count as usize - 1;
            (1 + (j % sketching) as u32, j / sketching)
        }
    }
}

/// The features shard `index` of `count` sketches, in order.
#[cfg(any(test, feature = "compute"))]
pub fn features_of_part(index: u32, count: u32, n_features: usize) -> Vec<usize> {
    (0..n_features)
        .filter(|&j| part_of_feature(j, count).0 == index)
        .collect()
}

impl Analysis for Drift {
    fn kind(&self) -> JobKind {
        JobKind::Drift
    }

    fn results_name(&self) -> &'static str {
        "drift statistics"
    }

    fn compares_with_reference(&self) -> bool {
        true
    }

    /// Interventional TreeSHAP for a tree ensemble's contributors, sampling for any other model.
    fn default_options(&self, _background: bool, model: &ModelSummary) -> JobOptions {
        JobOptions {
            method: Some(if model.trees.is_some() {
                InfluenceMethod::Interventional
            } else {
                InfluenceMethod::Sampled
            }),
            contributor_rows: Some(DEFAULT_CONTRIBUTOR_ROWS),
            ..JobOptions::default()
        }
    }

    fn check(
        &self,
        request: &CreateJob,
        schema: &ProjectSchema,
        model: &ModelSummary,
    ) -> Result<JobOptions, String> {
        if request.reference.is_none() {
            return Err(
                "a drift job needs a reference dataset (\"reference\") to compare the data with"
                    .into(),
            );
        }
        if let Some(shards) = request.shards.filter(|&s| s > self.most_shards(model)) {
            return Err(format!(
                "a drift job of this model can use at most {} shards (one scores, each other sketches at least one of its {} features), not {shards}",
                self.most_shards(model),
                model.features.len()
            ));
        }
        let mut options = request.options.clone();
        if options.loss.is_some() {
            return Err("options.loss applies to error-influences jobs only".into());
        }
        if let Some(t) = options.threshold {
            if schema.task != Task::Binary {
                return Err(
                    "options.threshold applies to binary classification projects only".into(),
                );
            }
            if !(t > 0.0 && t < 1.0) {
                return Err(format!("options.threshold {t} is not between 0 and 1"));
            }
        }
        let defaults = self.default_options(false, model);
        let method = *options
            .method
            .get_or_insert(defaults.method.expect("a method"));
        match method {
            InfluenceMethod::PathDependent => {
                return Err("drift contributors are interventional (both datasets against one background), not path-dependent: use method interventional or sampled".into());
            }
            InfluenceMethod::Interventional if model.trees.is_none() => {
                return Err(format!(
                    "interventional influences are TreeSHAP, which needs a tree ensemble, and this {} model has no trees; use method sampled",
                    model.format
                ));
            }
            InfluenceMethod::Interventional => {
                if let Some(field) = [
                    ("target_stderr", options.target_stderr.is_some()),
                    ("max_evals", options.max_evals.is_some()),
                ]
                .into_iter()
                .find_map(|(name, set)| set.then_some(name))
                {
                    return Err(format!(
                        "options.{field} applies to sampled contributors only (method sampled)"
                    ));
                }
                options.seed.get_or_insert(0);
            }
            InfluenceMethod::Sampled => sampling_defaults(&mut options)?,
        }
        let rows = *options
            .contributor_rows
            .get_or_insert(DEFAULT_CONTRIBUTOR_ROWS);
        if !(1..=MAX_CONTRIBUTOR_ROWS).contains(&rows) {
            return Err(format!(
                "options.contributor_rows must be between 1 and {MAX_CONTRIBUTOR_ROWS}, not {rows}"
            ));
        }
        Ok(options)
    }

    fn unsharded_because(&self) -> Option<&'static str> {
        None
    }

    /// Shard 0 scores both datasets (the score's statistics, metrics and contributors); the
    /// others sketch a share of the features each, over every row.
    fn shards_rows(&self) -> bool {
        false
    }

    fn most_shards(&self, model: &ModelSummary) -> u32 {
        u32::try_from(model.features.len() + 1).unwrap_or(u32::MAX)
    }

    fn merge(&self, parts: &[Documents]) -> Result<Documents, String> {
        let reports = parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                p.drift
                    .as_ref()
                    .ok_or_else(|| format!("part {i} of a drift job has no report"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some((score, sketching)) = reports.split_first() else {
            return Err("a drift job with no parts".into());
        };
        if sketching.is_empty() {
            // One analyzer did everything.
            return Ok(Documents {
                drift: Some((*score).clone()),
                ..Documents::default()
            });
        }
        let n: usize = sketching.iter().map(|r| r.features.len()).sum();
        let mut merged = (*score).clone();
        merged.features = (0..n)
            .map(|j| {
                let (part, at) = part_of_feature(j, reports.len() as u32);
                reports[part as usize]
                    .features
                    .get(at)
                    .cloned()
                    .ok_or_else(|| format!("part {part} of a drift job lacks feature {j}"))
            })
            .collect::<Result<_, _>>()?;
        for (i, r) in sketching.iter().enumerate() {
            if !r.features.is_empty()
                && (r.rows_reference, r.rows_current) != (score.rows_reference, score.rows_current)
            {
                return Err(format!(
                    "part {} of a drift job read {} and {} rows, part 0 {} and {}",
                    i + 1,
                    r.rows_reference,
                    r.rows_current,
                    score.rows_reference,
                    score.rows_current
                ));
            }
        }
        Ok(Documents {
            drift: Some(merged),
            ..Documents::default()
        })
    }

    fn cost(&self, inputs: &CostInputs) -> Cost {
        let m = inputs.model;
        // Both datasets are read and every value sketched (about 30 visits' worth each), and
        // scored; then the contributor rows of each are explained.
        let per_row = m.features.len() as f64 * 30.0 + m.prediction_cost();
        let explained = 2.0
            * inputs
                .spec
                .options
                .contributor_rows
                .unwrap_or(DEFAULT_CONTRIBUTOR_ROWS) as f64;
        let per_explained = match inputs.spec.options.method {
            Some(InfluenceMethod::Sampled) => sampled_row_cost(inputs),
            _ => {
                inputs.background_rows.unwrap_or(100) as f64
                    * m.prediction_cost()
                    * m.features.len().max(1) as f64
            }
        };
        Cost {
            work: 2.0 * inputs.rows * per_row + explained * per_explained,
            table_bytes: (m.features.len() as f64 + 1.0) * 64.0 * 48.0,
        }
    }

    #[cfg(feature = "compute")]
    fn compute(
        &self,
        part: &crate::part::PartInput,
    ) -> crate::AnalyzerResult<crate::part::PartOutput> {
        compute::drift(part)
    }
}

#[cfg(test)]
mod tests {
    use sextant_api::{ColumnKind, DriftReport, DriftThresholds, FeatureDrift, ScoreDrift};

    use super::*;

    fn report(features: &[usize], rows: u64) -> DriftReport {
        DriftReport {
            version: 1,
            job: None,
            model: "m".into(),
            reference: "r".into(),
            dataset: "d".into(),
            rows_reference: rows,
            rows_current: rows,
            thresholds: DriftThresholds::default(),
            drifted: 0,
            features: features
                .iter()
                .map(|j| FeatureDrift::empty(&format!("f{j}"), ColumnKind::Numeric, (0.0, 0.0)))
                .collect(),
            score: ScoreDrift::default(),
            contributors: Vec::new(),
            attribution: None,
        }
    }

    #[test]
    fn every_feature_is_sketched_by_one_shard_and_merged_back_in_order() {
        for count in 1..=8 {
            let parts: Vec<Vec<usize>> =
                (0..count).map(|i| features_of_part(i, count, 7)).collect();
            let mut all: Vec<usize> = parts.concat();
            all.sort_unstable();
            assert_eq!(all, (0..7).collect::<Vec<_>>(), "{count} shards");
            if count > 1 {
                assert!(parts[0].is_empty(), "shard 0 scores only");
            }
            let documents: Vec<Documents> = parts
                .iter()
                .map(|f| Documents {
                    drift: Some(report(f, 10)),
                    ..Documents::default()
                })
                .collect();
            let merged = Drift.merge(&documents).unwrap().drift.unwrap();
            let names: Vec<&str> = merged.features.iter().map(|f| f.feature.as_str()).collect();
            assert_eq!(
                names,
                ["f0", "f1", "f2", "f3", "f4", "f5", "f6"],
                "{count} shards"
            );
        }
    }

    #[test]
    fn parts_that_read_other_rows_are_not_merged() {
        let documents =
            [report(&[], 10), report(&[0, 2], 10), report(&[1], 9)].map(|r| Documents {
                drift: Some(r),
                ..Documents::default()
            });
        let e = Drift.merge(&documents).unwrap_err();
        assert!(e.contains("part 2 of a drift job read 9 and 9 rows"), "{e}");
        let missing = [Documents::default()];
        assert!(Drift.merge(&missing).unwrap_err().contains("no report"));
    }
}

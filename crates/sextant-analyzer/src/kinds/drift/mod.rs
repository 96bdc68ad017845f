//! `drift`: a reference dataset and the current one compared feature by feature and on the
//! model's score, streamed in batches with bounded memory, and the features that contribute to
//! the change of the mean score from their influences on both against one background.

#[cfg(feature = "compute")]
mod compute;
#[cfg(feature = "compute")]
mod report;

use sextant_api::{
    CreateJob, DEFAULT_CONTRIBUTOR_ROWS, InfluenceMethod, JobKind, JobOptions, ModelSummary,
    ProjectSchema, Task,
};

use super::influences::{sampled_row_cost, sampling_defaults};
use super::{Analysis, Cost, CostInputs};

/// The most rows of each dataset a job may explain for its contributors.
pub const MAX_CONTRIBUTOR_ROWS: u64 = 100_000;

/// Drift between a reference dataset and the job's data.
pub struct Drift;

impl Analysis for Drift {
    fn kind(&self) -> JobKind {
        JobKind::Drift
    }

    fn results_name(&self) -> &'static str {
        "drift statistics"
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
        Some(
            "a drift job sketches both datasets in one analyzer, in memory bounded whatever their size",
        )
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

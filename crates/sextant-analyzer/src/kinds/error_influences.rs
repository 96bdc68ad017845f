//! `error-influences`: which features drive each row's error. The Shapley values of the row's
//! loss against its label (log loss or Brier score for classifiers, squared or absolute error
//! for regressions), in the interventional game against a background dataset: `v(S)` is the
//! mean loss, against the row's label, of the model on the row's values for `S` and a
//! background row's for the rest. Sampled for any model (exact for few features), each value
//! with a standard error. A row's values add up to its loss minus its base value, the mean loss
//! of the background's predictions against the same label; positive values raise the loss.

use sextant_api::{
    CreateJob, InfluenceMethod, JobKind, JobOptions, ModelSummary, ProjectSchema, RowLoss, Task,
};

use super::influences::{merge_importance, sampled_row_cost, sampling_defaults};
use super::{Analysis, Cost, CostInputs, Documents};

/// Error influences.
pub struct ErrorInfluences;

/// The loss a job of `task` explains when it names none.
pub fn default_loss(task: Task) -> RowLoss {
    match task {
        Task::Regression => RowLoss::SquaredError,
        _ => RowLoss::LogLoss,
    }
}

impl Analysis for ErrorInfluences {
    fn kind(&self) -> JobKind {
        JobKind::ErrorInfluences
    }

    fn results_name(&self) -> &'static str {
        "error influences"
    }

    fn needs_labels(&self) -> bool {
        true
    }

    fn default_options(&self, _background: bool, _model: &ModelSummary) -> JobOptions {
        JobOptions {
            method: Some(InfluenceMethod::Sampled),
            ..JobOptions::default()
        }
    }

    fn check(
        &self,
        request: &CreateJob,
        schema: &ProjectSchema,
        _model: &ModelSummary,
    ) -> Result<JobOptions, String> {
        let mut options = request.options.clone();
        if options.threshold.is_some() {
            return Err("options.threshold applies to predict jobs only".into());
        }
        match options.method {
            None | Some(InfluenceMethod::Sampled) => {}
            Some(other) => {
                return Err(format!(
                    "error influences are sampled (method sampled), not {}: TreeSHAP explains a tree ensemble's margin, not a loss of it",
                    other.as_str()
                ));
            }
        }
        if request.background.is_none() {
            return Err("error influences need a background dataset (\"background\"): the rows whose values stand in for the features a coalition leaves out".into());
        }
        let loss = *options.loss.get_or_insert(default_loss(schema.task));
        if loss == RowLoss::ErrorRate {
            return Err("options.loss error_rate is 0 or 1 and moves only where a prediction crosses the threshold; explain log_loss or brier instead".into());
        }
        if !loss.fits(schema.task) {
            let fitting = match schema.task {
                Task::Regression => "squared_error or absolute_error",
                _ => "log_loss or brier",
            };
            return Err(format!(
                "options.loss {} does not apply to a {} project: use {fitting}",
                loss.name(),
                format!("{:?}", schema.task).to_lowercase()
            ));
        }
        sampling_defaults(&mut options)?;
        options.method = Some(InfluenceMethod::Sampled);
        Ok(options)
    }

    fn unsharded_because(&self) -> Option<&'static str> {
        None
    }

    fn merge(&self, parts: &[Documents]) -> Result<Documents, String> {
        Ok(merge_importance(parts))
    }

    fn cost(&self, inputs: &CostInputs) -> Cost {
        let features = inputs.model.features.len().max(1) as f64;
        Cost {
            work: inputs.rows * sampled_row_cost(inputs),
            // Per row: the influences, base value, loss, standard errors and label.
            table_bytes: inputs.rows * (2.0 * features + 4.0) * 8.0,
        }
    }

    #[cfg(feature = "compute")]
    fn compute(
        &self,
        part: &crate::part::PartInput,
    ) -> crate::AnalyzerResult<crate::part::PartOutput> {
        compute::error_influences(part)
    }
}

#[cfg(feature = "compute")]
mod compute {
    use std::cell::RefCell;

    use sextant_algo::{Additivity, LabelLoss, ModelPredictor, Sampled, check_additivity};
    use sextant_api::{Importance, ImportanceSums, InfluenceMethod, InfluenceScale, Task};
    use sextant_data::{Batch, TableWriter};
    use sextant_model::Rows;

    use super::default_loss;
    use crate::kinds::Documents;
    use crate::kinds::influences::compute::{background, run_checked, sampling_options, summary};
    use crate::part::{PartInput, PartOutput};
    use crate::{AnalyzerError, AnalyzerResult};

    /// Outputs up to which a row's loss is computed in a buffer on the stack.
    const SMALL_OUTPUTS: usize = 16;

    /// The table's columns after the key columns: per feature its influence on the loss, then
    /// `base_value` and `loss`, per feature its standard error, and `label`.
    fn value_columns(features: &[String]) -> Vec<String> {
        let mut columns = features.to_vec();
        columns.extend(["base_value".to_string(), "loss".to_string()]);
        columns.extend(features.iter().map(|f| format!("{f}__stderr")));
        columns.push("label".into());
        columns
    }

    /// Why a label is not one of the model's classes, if it is not (a missing label is fine).
    fn bad_label(label: f64, task: Task, classes: usize) -> Option<String> {
        let whole = label.fract() == 0.0 && label >= 0.0;
        match task {
            Task::Regression => label.is_infinite().then(|| "is not finite".to_string()),
            _ if label.is_nan() => None,
            _ if !whole || label as usize >= classes => Some(format!(
                "is not a class of this model (a whole number from 0 to {})",
                classes - 1
            )),
            _ => None,
        }
    }

    pub fn error_influences(input: &PartInput) -> AnalyzerResult<PartOutput> {
        let task = input.task;
        let (spec, schema) = (&task.spec, &task.schema);
        if !input.label {
            return Err(AnalyzerError::input(format!(
                "error influences need the labels, and dataset {:?} has no label column {:?}",
                spec.data().name,
                schema.label.as_deref().unwrap_or("(none named)")
            )));
        }
        let background = background(input)?
            .ok_or_else(|| AnalyzerError::input("error influences need a background dataset"))?;
        let options = &spec.options;
        let loss = options.loss.unwrap_or(default_loss(schema.task));
        let model = input.model;
        let (nf, n_out) = (model.n_features(), model.n_outputs());
        let classes = if schema.task == Task::Binary {
            2
        } else {
            n_out
        };
        let link = model.link();
        // Called for every hybrid row: a model of few outputs needs no allocation.
        let row_loss = move |margins: &[f64], label: f64| {
            let mut few = [0.0; SMALL_OUTPUTS];
            let mut many = Vec::new();
            let scores = if margins.len() <= SMALL_OUTPUTS {
                &mut few[..margins.len()]
            } else {
                many.resize(margins.len(), 0.0);
                &mut many[..]
            };
            scores.copy_from_slice(margins);
            link.apply(scores);
            loss.loss(scores, label, 0.5)
        };
        let predictor = ModelPredictor::new(model);
        let sampler = Sampled::new(
            &predictor,
            Rows::new(&background.values, nf),
            sampling_options(options),
        )
        .map_err(|e| {
            AnalyzerError::input(format!("the model failed on the background rows: {e}"))
        })?;
        let names: Vec<String> = model.features().iter().map(|f| f.name.clone()).collect();
        let value_columns = value_columns(&names);
        let mut columns = input.key_columns();
        columns.extend(value_columns.iter().cloned());
        let writer = TableWriter::create(input.out_file, &columns)?;
        let additivity = RefCell::new(Additivity::default());
        let sums = RefCell::new(ImportanceSums::new(nf, 1, true));
        let labelled = RefCell::new(0u64);
        let mut next_row = input.skip;
        let model_failed = |e: String| AnalyzerError::input(format!("the model failed: {e}"));
        let compute = |batch: &Batch, n: usize| {
            let (features, ids, labels) = input.split(batch, n);
            if let Some((r, why)) = labels
                .iter()
                .enumerate()
                .find_map(|(r, &y)| bad_label(y, schema.task, classes).map(|why| (r, why)))
            {
                return Err(AnalyzerError::input(format!(
                    "row {} of dataset {:?}: label {} {why}",
                    next_row + r,
                    spec.data().name,
                    labels[r]
                )));
            }
            let rows = Rows::new(&features, nf);
            let mut margins = vec![0.0; n * n_out];
            predictor
                .predict_margins(rows, &mut margins)
                .map_err(model_failed)?;
            let (mut phi, mut stderr) = (vec![f64::NAN; n * (nf + 1)], vec![f64::NAN; n * nf]);
            // Rows without a label have no loss: each run of labelled rows is explained as
            // the rows of the dataset it is (their positions seed the sampling).
            let mut start = 0;
            while start < n {
                if labels[start].is_nan() {
                    start += 1;
                    continue;
                }
                let end = (start..n).find(|&r| labels[r].is_nan()).unwrap_or(n);
                let payoff = LabelLoss {
                    labels: &labels[start..end],
                    loss: row_loss,
                };
                sampler
                    .explain_payoff(
                        rows.slice(start, end),
                        (next_row + start) as u64,
                        &payoff,
                        &mut phi[start * (nf + 1)..end * (nf + 1)],
                        &mut stderr[start * nf..end * nf],
                    )
                    .map_err(model_failed)?;
                start = end;
            }
            let mut sums = sums.borrow_mut();
            let mut table = Vec::with_capacity(n * (2 * nf + 6));
            for r in 0..n {
                let y = labels[r];
                let row_loss = if y.is_nan() {
                    f64::NAN
                } else {
                    row_loss(&margins[r * n_out..(r + 1) * n_out], y)
                };
                let block = &phi[r * (nf + 1)..(r + 1) * (nf + 1)];
                let errors = &stderr[r * nf..(r + 1) * nf];
                if !y.is_nan() {
                    additivity
                        .borrow_mut()
                        .merge(check_additivity(block, &[row_loss], nf));
                    sums.add(0, block);
                    sums.add_stderr(errors);
                    *labelled.borrow_mut() += 1;
                }
                table.push((next_row + r) as f64);
                if input.id {
                    table.push(ids[r]);
                }
                table.extend_from_slice(block);
                table.push(row_loss);
                table.extend_from_slice(errors);
                table.push(y);
            }
            next_row += n;
            Ok::<_, AnalyzerError>(table)
        };
        let done = run_checked(input, writer, compute, &additivity)?;
        let a = additivity.into_inner();
        let labelled = labelled.into_inner();
        if labelled == 0 && done > 0 {
            return Err(AnalyzerError::input(format!(
                "none of the {done} rows of dataset {:?} has a label, so no row has a loss to explain",
                spec.data().name
            )));
        }
        let mut importance = Importance {
            background: spec.background().map(|b| b.name.clone()),
            dataset: spec.data().name.clone(),
            features: sums.into_inner().features(&names, labelled),
            method: Some(InfluenceMethod::Sampled),
            rows: labelled,
            scale: InfluenceScale::Loss,
            loss: Some(loss),
            shards: None,
        };
        importance.sort();
        Ok(PartOutput {
            rows: done as u64,
            columns: value_columns,
            documents: Documents {
                drift: None,
                metrics: None,
                importance: Some(importance),
            },
            additivity: Some(summary(a)),
        })
    }
}

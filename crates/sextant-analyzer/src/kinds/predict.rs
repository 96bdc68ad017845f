//! `predict`: the model's margins and predictions for every row, and quality metrics when the
//! data carries labels.

use sextant_api::{CreateJob, JobKind, JobOptions, ModelSummary, ProjectSchema, Task};

use super::{Analysis, Cost, CostInputs};

/// Predictions and their quality.
pub struct Predict;

impl Analysis for Predict {
    fn kind(&self) -> JobKind {
        JobKind::Predict
    }

    fn results_name(&self) -> &'static str {
        "predictions"
    }

    fn check(
        &self,
        request: &CreateJob,
        schema: &ProjectSchema,
        _model: &ModelSummary,
    ) -> Result<JobOptions, String> {
        let options = request.options.clone();
        if options.method.is_some()
            || request.background.is_some()
            || options.target_stderr.is_some()
            || options.max_evals.is_some()
            || options.seed.is_some()
            || options.loss.is_some()
        {
            return Err(
                "a predict job takes no method, background, sampling or loss options (those are for influences)".into(),
            );
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
        Ok(options)
    }

    fn unsharded_because(&self) -> Option<&'static str> {
        Some("quality metrics need every prediction in one place")
    }

    fn cost(&self, inputs: &CostInputs) -> Cost {
        let m = inputs.model;
        let per_row = m.prediction_cost();
        let outputs = m.outputs.max(1) as f64;
        Cost {
            work: inputs.rows * per_row,
            table_bytes: inputs.rows * outputs * 16.0,
        }
    }

    #[cfg(feature = "compute")]
    fn compute(
        &self,
        part: &crate::part::PartInput,
    ) -> crate::AnalyzerResult<crate::part::PartOutput> {
        compute::predict(part)
    }
}

#[cfg(feature = "compute")]
mod compute {
    use std::cell::RefCell;

    use sextant_algo::{ModelPredictor, push_predictions};
    use sextant_api::Metrics;
    use sextant_data::{Batch, TableWriter};
    use sextant_model::Rows;

    use crate::columns::prediction_columns;
    use crate::kinds::Documents;
    use crate::part::{PartInput, PartOutput};
    use crate::{AnalyzerError, AnalyzerResult, pipeline};

    /// Rows read and predicted at a time.
    const BATCH_ROWS: usize = 16_384;

    pub fn predict(input: &PartInput) -> AnalyzerResult<PartOutput> {
        let model = input.model;
        let n_out = model.n_outputs();
        let mut value_columns = prediction_columns(model);
        if input.label {
            value_columns.push("label".into());
        }
        let mut columns = input.key_columns();
        columns.extend(value_columns.iter().cloned());
        let writer = TableWriter::create(input.out_file, &columns)?;
        let predictor = ModelPredictor::new(model);
        let scored = RefCell::new((Vec::<f64>::new(), Vec::<f64>::new()));
        let mut next_row = 0usize;
        let compute = |batch: &Batch, n: usize| {
            let (features, ids, labels) = input.split(batch, n);
            let mut margins = vec![0.0; n * n_out];
            predictor
                .predict_margins(Rows::new(&features, model.n_features()), &mut margins)
                .map_err(|e| AnalyzerError::input(format!("the model failed: {e}")))?;
            let mut table = Vec::new();
            let mut scored = scored.borrow_mut();
            for (r, m) in margins.chunks(n_out).enumerate() {
                table.push((next_row + r) as f64);
                if input.id {
                    table.push(ids[r]);
                }
                let start = push_predictions(model, m, &mut table);
                if input.label {
                    table.push(labels[r]);
                    if !labels[r].is_nan() {
                        let responses = table[start..start + n_out].to_vec();
                        scored.0.extend(responses);
                        scored.1.push(labels[r]);
                    }
                }
            }
            next_row += n;
            Ok::<_, AnalyzerError>(table)
        };
        let done = pipeline::run(
            input.open(BATCH_ROWS)?,
            writer,
            input.rows,
            compute,
            |p, done| input.report(p, done),
            || Ok(()),
        )?;
        let (responses, labels) = scored.into_inner();
        let metrics = (!labels.is_empty()).then(|| quality(input, &responses, &labels));
        Ok(PartOutput {
            rows: done as u64,
            columns: value_columns,
            documents: Documents {
                drift: None,
                metrics,
                importance: None,
            },
            additivity: None,
        })
    }

    fn quality(input: &PartInput, responses: &[f64], labels: &[f64]) -> Metrics {
        let schema = &input.task.schema;
        let threshold = input.task.spec.options.threshold.unwrap_or(0.5);
        Metrics::of(schema.task, schema.classes, threshold, responses, labels)
    }
}

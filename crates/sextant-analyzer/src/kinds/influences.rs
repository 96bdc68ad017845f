//! `influences`: every feature's exact Shapley value for every row (TreeSHAP, path-dependent or
//! interventional against background rows), checked for additivity, and global importance.

use sextant_api::{
    CreateJob, Importance, InfluenceMethod, JobKind, JobOptions, ProjectSchema, TreeSummary,
};

use super::{Analysis, Cost, CostInputs, Documents};

/// Feature influences.
pub struct Influences;

impl Analysis for Influences {
    fn kind(&self) -> JobKind {
        JobKind::Influences
    }

    fn results_name(&self) -> &'static str {
        "influences"
    }

    fn default_options(&self, background: bool) -> JobOptions {
        JobOptions {
            method: Some(if background {
                InfluenceMethod::Interventional
            } else {
                InfluenceMethod::PathDependent
            }),
            ..JobOptions::default()
        }
    }

    fn check(&self, request: &CreateJob, _schema: &ProjectSchema) -> Result<JobOptions, String> {
        let mut options = request.options.clone();
        if options.threshold.is_some() {
            return Err("options.threshold applies to predict jobs only".into());
        }
        let method = options
            .method
            .or(self.default_options(request.background.is_some()).method)
            .unwrap_or(InfluenceMethod::PathDependent);
        match (method, &request.background) {
            (InfluenceMethod::Interventional, None) => {
                return Err(
                    "interventional influences need a background dataset (\"background\")".into(),
                );
            }
            (InfluenceMethod::PathDependent, Some(_)) => {
                return Err("path-dependent influences take no background dataset; use method interventional".into());
            }
            _ => {}
        }
        options.method = Some(method);
        Ok(options)
    }

    fn unsharded_because(&self) -> Option<&'static str> {
        None
    }

    /// Importance of the whole: the row-weighted mean of the parts'.
    fn merge(&self, parts: &[Documents]) -> Result<Documents, String> {
        let importance: Vec<Importance> =
            parts.iter().filter_map(|p| p.importance.clone()).collect();
        Ok(Documents {
            metrics: None,
            importance: Importance::merge(&importance),
        })
    }

    fn cost(&self, inputs: &CostInputs) -> Cost {
        let m = inputs.model;
        // TreeSHAP needs trees: a job on another model is refused before it runs.
        let shape = m.trees.unwrap_or(TreeSummary {
            trees: 1,
            leaves: 1,
            max_depth: 1,
        });
        let trees = shape.trees.max(1) as f64;
        let leaves_per_tree = (shape.leaves as f64 / trees).max(1.0);
        let depth = shape.max_depth.max(1) as f64;
        let outputs = m.outputs.max(1) as f64;
        let features = m.features.len().max(1) as f64;
        let per_row = match inputs.spec.options.method {
            Some(InfluenceMethod::Interventional) => {
                trees * depth * inputs.background_rows.unwrap_or(100).max(1) as f64
            }
            _ => trees * leaves_per_tree * depth * depth,
        };
        Cost {
            work: inputs.rows * per_row,
            table_bytes: inputs.rows * outputs * (features + 2.0) * 8.0,
        }
    }

    #[cfg(feature = "compute")]
    fn compute(
        &self,
        part: &crate::part::PartInput,
    ) -> crate::AnalyzerResult<crate::part::PartOutput> {
        compute::influences(part)
    }
}

#[cfg(feature = "compute")]
mod compute {
    use std::cell::RefCell;

    use sextant_algo::{
        Additivity, Interventional, PathDependent, Predictor, check_additivity, explanation_len,
    };
    use sextant_api::{
        AdditivitySummary, FeatureImportance, Importance, InfluenceMethod, InfluenceScale,
    };
    use sextant_data::{Batch, TableWriter, read_table};
    use sextant_model::Rows;

    use crate::columns::{Explainer, additivity_verdict, explanation_columns};
    use crate::kinds::Documents;
    use crate::part::{PartInput, PartOutput};
    use crate::{AnalyzerError, AnalyzerResult, pipeline};

    /// Rows read and explained at a time.
    const BATCH_ROWS: usize = 2048;

    /// The background rows of an interventional job.
    fn background(input: &PartInput) -> AnalyzerResult<Option<Batch>> {
        let Some(b) = input.task.spec.background() else {
            return Ok(None);
        };
        let path = input.fetch(b)?;
        let rows = read_table(&path, input.model.features(), None).map_err(|e| {
            AnalyzerError::input(format!("cannot read the background dataset: {e}"))
        })?;
        if rows.n_rows == 0 {
            return Err(AnalyzerError::input("the background dataset has no rows"));
        }
        Ok(Some(rows))
    }

    pub fn influences(input: &PartInput) -> AnalyzerResult<PartOutput> {
        let task = input.task;
        let background = background(input)?;
        let model = input.model;
        let forest = model.trees().ok_or_else(|| {
            AnalyzerError::input(format!(
                "influences by TreeSHAP need a tree ensemble, and this {} model has no trees",
                model.info().format
            ))
        })?;
        let (nf, n_out) = (forest.n_features(), forest.n_outputs());
        let explainer = match (task.spec.options.method, &background) {
            (Some(InfluenceMethod::Interventional), Some(b)) => {
                Explainer::Interventional(Interventional::new(forest, Rows::new(&b.values, nf)))
            }
            (Some(InfluenceMethod::Interventional), None) => {
                return Err(AnalyzerError::input(
                    "interventional influences need a background dataset",
                ));
            }
            _ => Explainer::PathDependent(PathDependent::new(forest)),
        };
        let value_columns = explanation_columns(model);
        let mut columns = input.key_columns();
        columns.extend(value_columns.iter().cloned());
        let writer = TableWriter::create(input.out_file, &columns)?;
        let predictor = Predictor::new(forest);
        let additivity = RefCell::new(Additivity::default());
        // Per output and feature: sums of |φ| and of φ.
        let sums = RefCell::new((vec![0.0; n_out * nf], vec![0.0; n_out * nf]));
        let mut next_row = input.skip;
        let compute = |batch: &Batch, n: usize| {
            let (features, ids, _) = input.split(batch, n);
            let rows = Rows::new(&features, nf);
            let mut phi = vec![0.0; explanation_len(forest, n)];
            let mut margins = vec![0.0; n * n_out];
            explainer.explain(rows, &mut phi);
            predictor.predict_margins(rows, &mut margins);
            additivity
                .borrow_mut()
                .merge(check_additivity(&phi, &margins, nf));
            let mut sums = sums.borrow_mut();
            let mut table = Vec::with_capacity(n * (2 + n_out * (nf + 2)));
            for r in 0..n {
                table.push((next_row + r) as f64);
                if input.id {
                    table.push(ids[r]);
                }
                for k in 0..n_out {
                    let block = &phi[(r * n_out + k) * (nf + 1)..(r * n_out + k + 1) * (nf + 1)];
                    for (j, v) in block[..nf].iter().enumerate() {
                        sums.0[k * nf + j] += v.abs();
                        sums.1[k * nf + j] += v;
                    }
                    table.extend_from_slice(block);
                    table.push(margins[r * n_out + k]);
                }
            }
            next_row += n;
            Ok::<_, AnalyzerError>(table)
        };
        let keep = || additivity_verdict(*additivity.borrow(), "nothing was stored");
        let done = pipeline::run(
            input.open(BATCH_ROWS)?,
            writer,
            input.rows,
            compute,
            |p, done| input.report(p, done),
            keep,
        )?;
        let a = additivity.into_inner();
        let (abs, signed) = sums.into_inner();
        let n = done.max(1) as f64;
        let features = (0..nf)
            .map(|j| {
                let per_class: Vec<f64> = (0..n_out).map(|k| abs[k * nf + j] / n).collect();
                let mean_abs = per_class.iter().sum::<f64>() / n_out as f64;
                let mean: f64 =
                    (0..n_out).map(|k| signed[k * nf + j] / n).sum::<f64>() / n_out as f64;
                FeatureImportance {
                    feature: forest.features()[j].name.clone(),
                    mean,
                    mean_abs,
                    mean_abs_by_class: (n_out > 1).then_some(per_class),
                }
            })
            .collect();
        let mut importance = Importance {
            background: task.spec.background().map(|b| b.name.clone()),
            dataset: task.spec.data().name.clone(),
            features,
            method: task.spec.options.method,
            rows: done as u64,
            // TreeSHAP explains the margin (log-odds for classifiers), whatever the score type.
            scale: InfluenceScale::Margin,
            shards: None,
        };
        importance.sort();
        Ok(PartOutput {
            rows: done as u64,
            columns: value_columns,
            documents: Documents {
                metrics: None,
                importance: Some(importance),
            },
            additivity: Some(AdditivitySummary {
                checked: a.checked as u64,
                failing: a.failing as u64,
                worst_abs: a.worst_abs,
            }),
        })
    }
}

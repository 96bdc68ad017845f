//! `influences`: every feature's Shapley value for every row, checked for additivity, and global
//! importance: exact TreeSHAP (path-dependent, or interventional against background rows) for a
//! tree ensemble, sampled Shapley (with a standard error per value) for any model.

use sextant_api::{
    CreateJob, Importance, InfluenceMethod, JobKind, JobOptions, ModelSummary, ProjectSchema,
    TreeSummary,
};

use super::{Analysis, Cost, CostInputs, Documents};

/// Sampled influences stop a row at this standard error unless asked otherwise.
pub const DEFAULT_TARGET_STDERR: f64 = 1e-3;
/// Sampled influences spend at most this many model evaluations on a row unless asked otherwise.
pub const DEFAULT_MAX_EVALS: u64 = 100_000;

/// Feature influences.
pub struct Influences;

/// Checks the sampling options (target standard error, budget, seed) and fills in their
/// defaults: what sampled influences and error influences share.
pub(super) fn sampling_defaults(options: &mut JobOptions) -> Result<(), String> {
    let target = *options.target_stderr.get_or_insert(DEFAULT_TARGET_STDERR);
    if !(target >= 0.0 && target.is_finite()) {
        return Err(format!(
            "options.target_stderr must be a finite number at or above 0, not {target}"
        ));
    }
    if *options.max_evals.get_or_insert(DEFAULT_MAX_EVALS) == 0 {
        return Err("options.max_evals must be at least 1".into());
    }
    options.seed.get_or_insert(0);
    Ok(())
}

/// The documents of a sharded influences result: importance of the whole, the row-weighted
/// mean of the parts'.
pub(super) fn merge_importance(parts: &[Documents]) -> Documents {
    let importance: Vec<Importance> = parts.iter().filter_map(|p| p.importance.clone()).collect();
    Documents {
        drift: None,
        metrics: None,
        importance: Importance::merge(&importance),
    }
}

/// Model evaluations one row of sampling costs: its budget, or every coalition against every
/// background row when that is fewer, times one evaluation's cost.
pub(super) fn sampled_row_cost(inputs: &CostInputs) -> f64 {
    let m = inputs.model;
    let budget = inputs.spec.options.max_evals.unwrap_or(DEFAULT_MAX_EVALS) as f64;
    let exact = inputs.background_rows.unwrap_or(100).max(1) as f64
        * 2f64.powi(m.features.len().min(1000) as i32);
    budget.min(exact) * m.prediction_cost()
}

impl Analysis for Influences {
    fn kind(&self) -> JobKind {
        JobKind::Influences
    }

    fn results_name(&self) -> &'static str {
        "influences"
    }

    /// TreeSHAP for trees (interventional with a background, else path-dependent), sampling
    /// for any other model.
    fn default_options(&self, background: bool, model: &ModelSummary) -> JobOptions {
        let method = if model.trees.is_none() {
            InfluenceMethod::Sampled
        } else if background {
            InfluenceMethod::Interventional
        } else {
            InfluenceMethod::PathDependent
        };
        JobOptions {
            method: Some(method),
            ..JobOptions::default()
        }
    }

    fn check(
        &self,
        request: &CreateJob,
        _schema: &ProjectSchema,
        model: &ModelSummary,
    ) -> Result<JobOptions, String> {
        let mut options = request.options.clone();
        if options.threshold.is_some() {
            return Err("options.threshold applies to predict jobs only".into());
        }
        let method = options
            .method
            .or(self
                .default_options(request.background.is_some(), model)
                .method)
            .unwrap_or(InfluenceMethod::PathDependent);
        if model.trees.is_none() && method != InfluenceMethod::Sampled {
            return Err(format!(
                "{} influences are TreeSHAP, which needs a tree ensemble, and this {} model has no trees; use method sampled (with a background dataset)",
                method.as_str(),
                model.format
            ));
        }
        match (method, &request.background) {
            (InfluenceMethod::PathDependent, Some(_)) => {
                return Err("path-dependent influences take no background dataset; use method interventional or sampled".into());
            }
            // Trees without covers count theirs from the project's training data, which the
            // scheduler attaches (or refuses the job without).
            (InfluenceMethod::PathDependent, None) => {}
            (m, None) => {
                return Err(format!(
                    "{} influences need a background dataset (\"background\")",
                    m.as_str()
                ));
            }
            (_, Some(_)) => {}
        }
        if options.loss.is_some() {
            return Err("options.loss applies to error-influences jobs only".into());
        }
        if method == InfluenceMethod::Sampled {
            sampling_defaults(&mut options)?;
        } else if let Some(field) = [
            ("target_stderr", options.target_stderr.is_some()),
            ("max_evals", options.max_evals.is_some()),
            ("seed", options.seed.is_some()),
        ]
        .into_iter()
        .find_map(|(name, set)| set.then_some(name))
        {
            return Err(format!(
                "options.{field} applies to sampled influences only (method sampled)"
            ));
        }
        options.method = Some(method);
        Ok(options)
    }

    fn unsharded_because(&self) -> Option<&'static str> {
        None
    }

    fn merge(&self, parts: &[Documents]) -> Result<Documents, String> {
        Ok(merge_importance(parts))
    }

    fn cost(&self, inputs: &CostInputs) -> Cost {
        let m = inputs.model;
        // TreeSHAP needs trees: a TreeSHAP job on another model is refused before it runs.
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
            Some(InfluenceMethod::Sampled) => sampled_row_cost(inputs),
            _ => trees * leaves_per_tree * depth * depth,
        };
        let stderr_columns = if inputs.spec.options.method == Some(InfluenceMethod::Sampled) {
            features
        } else {
            0.0
        };
        Cost {
            work: inputs.rows * per_row,
            table_bytes: inputs.rows * outputs * (features + 2.0 + stderr_columns) * 8.0,
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
pub(super) mod compute {
    use std::cell::RefCell;

    use sextant_algo::{
        Additivity, DEFAULT_EXACT_MAX_FEATURES, Interventional, ModelPredictor, PathDependent,
        Sampled, SampledOptions, check_additivity, stderr_columns,
    };
    use sextant_api::{
        AdditivitySummary, Importance, ImportanceSums, InfluenceMethod, InfluenceScale, InputRole,
        JobOptions,
    };
    use sextant_data::{Batch, TableWriter, read_table};
    use sextant_model::{Forest, Rows};

    use super::{DEFAULT_MAX_EVALS, DEFAULT_TARGET_STDERR};
    use crate::columns::{Explainer, additivity_verdict, explanation_columns};
    use crate::kinds::Documents;
    use crate::part::{PartInput, PartOutput};
    use crate::{AnalyzerError, AnalyzerResult, pipeline};

    /// Rows read and explained at a time.
    const BATCH_ROWS: usize = 2048;

    /// The trees with their covers: as the file has them, or counted from the job's cover data.
    fn covered(input: &PartInput, forest: &Forest) -> AnalyzerResult<Option<Forest>> {
        if forest.has_covers() {
            return Ok(None);
        }
        let Some(data) = input.task.spec.dataset(InputRole::Covers) else {
            return Err(AnalyzerError::input(
                "path-dependent influences need the trees' node covers, which the model's file does not record, and the job names no training data to count them from",
            ));
        };
        let path = input.fetch(data)?;
        let rows = read_table(&path, forest.features(), None).map_err(|e| {
            AnalyzerError::input(format!(
                "cannot read the training data {:?} that gives the covers: {e}",
                data.name
            ))
        })?;
        if rows.n_rows == 0 {
            return Err(AnalyzerError::input(format!(
                "the training data {:?} that gives the covers has no rows",
                data.name
            )));
        }
        let mut counted = forest.clone();
        counted.count_covers(Rows::new(&rows.values, forest.n_features()));
        Ok(Some(counted))
    }

    /// The background rows of an interventional or sampled job.
    pub(in crate::kinds) fn background(input: &PartInput) -> AnalyzerResult<Option<Batch>> {
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
        let options = &task.spec.options;
        let background = background(input)?;
        let model = input.model;
        let (nf, n_out) = (model.n_features(), model.n_outputs());
        let predictor = ModelPredictor::new(model);
        let background_rows = background.as_ref().map(|b| Rows::new(&b.values, nf));
        let method = options.method.unwrap_or(InfluenceMethod::PathDependent);
        let needs_trees = || {
            model.trees().ok_or_else(|| {
                AnalyzerError::input(format!(
                    "{} influences are TreeSHAP, which needs a tree ensemble, and this {} model has no trees",
                    method.as_str(),
                    model.info().format
                ))
            })
        };
        let no_background = || {
            AnalyzerError::input(format!(
                "{} influences need a background dataset",
                method.as_str()
            ))
        };
        let counted = match method {
            InfluenceMethod::PathDependent => covered(input, needs_trees()?)?,
            _ => None,
        };
        let explainer = match method {
            InfluenceMethod::PathDependent => Explainer::PathDependent(PathDependent::new(
                counted.as_ref().unwrap_or(needs_trees()?),
            )),
            InfluenceMethod::Interventional => Explainer::Interventional(Interventional::new(
                needs_trees()?,
                background_rows.ok_or_else(no_background)?,
            )),
            InfluenceMethod::Sampled => {
                let sampling = sampling_options(options);
                Explainer::Sampled(
                    Sampled::new(
                        &predictor,
                        background_rows.ok_or_else(no_background)?,
                        sampling,
                    )
                    .map_err(|e| {
                        AnalyzerError::input(format!(
                            "the model failed on the background rows: {e}"
                        ))
                    })?,
                )
            }
        };
        let with_stderr = explainer.has_stderr();
        let mut value_columns = explanation_columns(model);
        if with_stderr {
            value_columns.extend(stderr_columns(model));
        }
        let mut columns = input.key_columns();
        columns.extend(value_columns.iter().cloned());
        let writer = TableWriter::create(input.out_file, &columns)?;
        let additivity = RefCell::new(Additivity::default());
        let sums = RefCell::new(ImportanceSums::new(nf, n_out, with_stderr));
        let mut next_row = input.skip;
        let model_failed = |e: String| AnalyzerError::input(format!("the model failed: {e}"));
        let compute = |batch: &Batch, n: usize| {
            let (features, ids, _) = input.split(batch, n);
            let rows = Rows::new(&features, nf);
            let mut phi = vec![0.0; n * n_out * (nf + 1)];
            let mut stderr = vec![0.0; if with_stderr { n * n_out * nf } else { 0 }];
            let mut margins = vec![0.0; n * n_out];
            explainer
                .explain(rows, next_row as u64, &mut phi, &mut stderr)
                .map_err(model_failed)?;
            predictor
                .predict_margins(rows, &mut margins)
                .map_err(model_failed)?;
            additivity
                .borrow_mut()
                .merge(check_additivity(&phi, &margins, nf));
            let mut sums = sums.borrow_mut();
            let width = n_out * (nf + 2) + stderr.len() / n.max(1);
            let mut table = Vec::with_capacity(n * (2 + width));
            for r in 0..n {
                table.push((next_row + r) as f64);
                if input.id {
                    table.push(ids[r]);
                }
                for k in 0..n_out {
                    let block = &phi[(r * n_out + k) * (nf + 1)..(r * n_out + k + 1) * (nf + 1)];
                    sums.add(k, block);
                    table.extend_from_slice(block);
                    table.push(margins[r * n_out + k]);
                }
                if with_stderr {
                    let errors = &stderr[r * n_out * nf..(r + 1) * n_out * nf];
                    sums.add_stderr(errors);
                    table.extend_from_slice(errors);
                }
            }
            next_row += n;
            Ok::<_, AnalyzerError>(table)
        };
        let done = run_checked(input, writer, compute, &additivity)?;
        let a = additivity.into_inner();
        let sums = sums.into_inner();
        let names: Vec<String> = model.features().iter().map(|f| f.name.clone()).collect();
        let features = sums.features(&names, done as u64);
        let mut importance = Importance {
            background: task.spec.background().map(|b| b.name.clone()),
            dataset: task.spec.data().name.clone(),
            features,
            method: options.method,
            rows: done as u64,
            // TreeSHAP explains the margin (log-odds for classifiers), whatever the score type;
            // sampling explains what the model computes, which for a graph is its output.
            scale: if model.trees().is_some() {
                InfluenceScale::Margin
            } else {
                InfluenceScale::Output
            },
            loss: None,
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

    /// Runs the batch pipeline of an explaining job over its part's rows: `compute` makes each
    /// batch's table rows and folds its additivity check into `additivity`; nothing is stored
    /// unless every row added up. Returns the rows done.
    pub(in crate::kinds) fn run_checked(
        input: &PartInput,
        writer: TableWriter,
        compute: impl FnMut(&Batch, usize) -> AnalyzerResult<Vec<f64>>,
        additivity: &RefCell<Additivity>,
    ) -> AnalyzerResult<usize> {
        let keep = || additivity_verdict(*additivity.borrow(), "nothing was stored");
        pipeline::run(
            input.open(BATCH_ROWS)?,
            writer,
            input.rows,
            compute,
            |p, done| input.report(p, done),
            keep,
        )
    }

    /// The sampling a job's options ask for (their defaults filled in).
    pub(in crate::kinds) fn sampling_options(options: &JobOptions) -> SampledOptions {
        SampledOptions {
            target_stderr: options.target_stderr.unwrap_or(DEFAULT_TARGET_STDERR),
            max_evals: options.max_evals.unwrap_or(DEFAULT_MAX_EVALS),
            seed: options.seed.unwrap_or(0),
            exact_max_features: DEFAULT_EXACT_MAX_FEATURES,
        }
    }

    /// What the manifest records of an additivity check.
    pub(in crate::kinds) fn summary(a: Additivity) -> AdditivitySummary {
        AdditivitySummary {
            checked: a.checked as u64,
            failing: a.failing as u64,
            worst_abs: a.worst_abs,
        }
    }
}

//! One analyzer's work: fetch the inputs from the artifact store, read the rows (its shard's
//! slice of them), predict or explain batch by batch while progress is shared with the reporter,
//! and store the result files and their manifest.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use sextant_algo::{
    Additivity, Interventional, PathDependent, Predictor, check_additivity, classification_metrics,
    explanation_len, regression_metrics,
};
use sextant_api::{
    ALGORITHM_VERSION, AdditivitySummary, AnalyzerTask, ClassificationQuality, ClassificationTask,
    FeatureImportance, Importance, InfluenceMethod, InfluenceScale, JobKind, Metrics, PartInfo,
    RegressionQuality, RegressionTask, ResultManifest, Task, result_prefix,
};
use sextant_data::{Batch, SkipRows, TableWriter, open_table, read_table, table_columns};
use sextant_model::{Feature, FeatureKind, Forest, Rows};
use sextant_store::Artifacts;
use uuid::Uuid;

use crate::explain::{Explainer, additivity_verdict, explanation_columns};
use crate::{Failure, pipeline};

use super::{Shard, Shared, fault};

/// The local scratch directory of one job's analyzer (of one shard: shards may share a machine).
fn scratch_dir(job: Uuid, shard: Shard) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("sextant-analyzer-{job}-{}", shard.index));
    std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
    Ok(dir)
}

/// Reads the inputs, computes, stores the result files; returns the manifest.
pub(super) fn compute(
    task: &AnalyzerTask,
    shard: Shard,
    shared: &Shared,
) -> anyhow::Result<ResultManifest> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let artifacts = Artifacts::open(&task.artifacts)?;
    let scratch = scratch_dir(task.job_id, shard)?;
    let fetch = |key: &str| runtime.block_on(artifacts.local_file(key, &scratch));
    let model_path = fetch(&task.spec.model.key)?;
    let data_path = fetch(&task.spec.dataset.key)?;
    let forest = sextant_import::load_model(&model_path).context("cannot load the model")?;
    let data_file = typed_path(&data_path, &task.spec.dataset.key)?;
    let columns = table_columns(&data_file)?;
    let has = |c: &Option<String>| c.as_ref().filter(|c| columns.contains(c)).cloned();
    let extras: Vec<String> = [has(&task.schema.id), has(&task.schema.label)]
        .into_iter()
        .flatten()
        .collect();
    let id_column = has(&task.schema.id);
    let label_column = has(&task.schema.label);
    let out_file = scratch.join("table.parquet");
    // A shard computes its slice of the rows and stores its part beside the others'.
    let (skip, rows, prefix, part) = if shard.count > 1 {
        if task.spec.kind != JobKind::Influences {
            bail!("only influences jobs are sharded");
        }
        let total = match (task.dataset_rows, task.spec.options.rows) {
            (Some(all), Some(limit)) => all.min(limit),
            (Some(all), None) => all,
            (None, _) => bail!("a sharded job needs the dataset's row count"),
        };
        let (start, end) = shard.rows(total);
        let part = PartInfo {
            index: shard.index,
            count: shard.count,
            first_row: start,
        };
        let prefix = format!("{}/parts/{}", result_prefix(&task.cache_key), shard.index);
        (
            start as usize,
            Some((end - start) as usize),
            prefix,
            Some(part),
        )
    } else {
        let rows = task.spec.options.rows.map(|r| r as usize);
        (0, rows, result_prefix(&task.cache_key), None)
    };
    let mut manifest = ResultManifest {
        version: 1,
        kind: task.spec.kind,
        cache_key: task.cache_key.clone(),
        rows: 0,
        table: format!("{prefix}/table.parquet"),
        columns: Vec::new(),
        metrics: None,
        importance: None,
        method: task.spec.options.method,
        additivity: None,
        algorithm_version: ALGORITHM_VERSION.to_string(),
        seconds: 0.0,
        part,
        parts: Vec::new(),
    };
    let input = Input {
        forest: &forest,
        path: &data_file,
        extras: &extras,
        id: id_column.is_some(),
        label: label_column.is_some(),
        skip,
        rows,
        prefix: &prefix,
    };
    let documents = match task.spec.kind {
        JobKind::Predict => predict(task, &input, &out_file, shared, &mut manifest)?,
        JobKind::Influences => {
            let background = match &task.spec.background {
                Some(b) => {
                    let path = typed_path(&fetch(&b.key)?, &b.key)?;
                    let rows = read_table(&path, forest.features(), None)
                        .context("cannot read the background dataset")?;
                    if rows.n_rows == 0 {
                        bail!("the background dataset has no rows");
                    }
                    Some(rows)
                }
                None => None,
            };
            influences(
                task,
                &input,
                background.as_ref(),
                &out_file,
                shared,
                &mut manifest,
            )?
        }
    };
    shared.set("writing", manifest.rows, Some(manifest.rows), 1.0);
    runtime.block_on(async {
        artifacts.put_file(&manifest.table, &out_file).await?;
        for (key, doc) in &documents {
            artifacts
                .put_bytes(key, serde_json::to_vec_pretty(doc)?.into())
                .await?;
        }
        manifest.seconds = started.elapsed().as_secs_f64();
        artifacts
            .put_bytes(
                &format!("{prefix}/manifest.json"),
                serde_json::to_vec_pretty(&manifest)?.into(),
            )
            .await?;
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(manifest)
}

/// The readers choose the format by extension; a stored dataset's key carries it.
fn typed_path(path: &Path, key: &str) -> anyhow::Result<PathBuf> {
    if path.extension().is_some() {
        return Ok(path.to_path_buf());
    }
    let ext = Path::new(key)
        .extension()
        .ok_or_else(|| anyhow!("dataset key {key} has no format"))?;
    let typed = path.with_extension(ext);
    std::fs::copy(path, &typed)?;
    Ok(typed)
}

/// A job's rows: the model's features followed by the id and label columns, if present.
struct Input<'a> {
    forest: &'a Forest,
    path: &'a Path,
    extras: &'a [String],
    id: bool,
    label: bool,
    /// Rows before this analyzer's slice.
    skip: usize,
    /// Rows of its slice (all when `None`).
    rows: Option<usize>,
    /// Where its result files go.
    prefix: &'a str,
}

impl Input<'_> {
    fn batch_rows(&self, normal: usize) -> usize {
        if fault() == "slow" { 100 } else { normal }
    }

    fn open(&self, batch_rows: usize) -> anyhow::Result<Box<dyn sextant_data::BatchReader>> {
        let mut features: Vec<Feature> = self.forest.features().to_vec();
        features.extend(self.extras.iter().map(|name| Feature {
            name: name.clone(),
            kind: FeatureKind::Numeric,
        }));
        let reader = open_table(self.path, &features, self.batch_rows(batch_rows))?;
        Ok(if self.skip > 0 {
            Box::new(SkipRows::new(reader, self.skip))
        } else {
            reader
        })
    }

    /// Splits a batch into the model's rows and, per row, `[id]` and `[label]`.
    fn split(&self, batch: &Batch, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let nf = self.forest.n_features();
        let width = nf + self.extras.len();
        let mut features = Vec::with_capacity(n * nf);
        let (mut ids, mut labels) = (Vec::new(), Vec::new());
        for row in batch.values[..n * width].chunks(width) {
            features.extend_from_slice(&row[..nf]);
            let mut extra = row[nf..].iter();
            if self.id {
                ids.push(*extra.next().expect("id column"));
            }
            if self.label {
                labels.push(*extra.next().expect("label column"));
            }
        }
        if fault() == "slow" {
            thread::sleep(Duration::from_millis(300));
        }
        (features, ids, labels)
    }

    /// `row`, then `id` when the project has an id column in this data.
    fn key_columns(&self, id_name: Option<&String>) -> Vec<String> {
        let mut columns = vec!["row".to_string()];
        if self.id {
            columns.push(id_name.cloned().unwrap_or_else(|| "id".into()));
        }
        columns
    }

    fn progress(&self, shared: &Shared, p: sextant_data::Progress, done: usize) {
        let fraction = match (self.rows, p.total) {
            (Some(0), _) => 1.0,
            (Some(limit), _) => done as f64 / limit as f64,
            (None, Some(total)) if total > 0 => p.done as f64 / total as f64,
            _ => 0.0,
        };
        shared.set(
            "computing",
            done as u64,
            self.rows.map(|r| r as u64),
            fraction,
        );
    }
}

fn predict(
    task: &AnalyzerTask,
    input: &Input,
    out_file: &Path,
    shared: &Shared,
    manifest: &mut ResultManifest,
) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    let forest = input.forest;
    let n_out = forest.n_outputs();
    let mut value_columns = crate::predict::prediction_columns(forest);
    if input.label {
        value_columns.push("label".into());
    }
    let mut columns = input.key_columns(task.schema.id.as_ref());
    columns.extend(value_columns.iter().cloned());
    let writer = TableWriter::create(out_file, &columns)?;
    let predictor = Predictor::new(forest);
    let scored = RefCell::new((Vec::<f64>::new(), Vec::<f64>::new()));
    let mut next_row = 0usize;
    let compute = |batch: &Batch, n: usize| {
        let (features, ids, labels) = input.split(batch, n);
        let mut margins = vec![0.0; n * n_out];
        predictor.predict_margins(Rows::new(&features, forest.n_features()), &mut margins);
        let mut table = Vec::new();
        let mut scored = scored.borrow_mut();
        for (r, m) in margins.chunks(n_out).enumerate() {
            table.push((next_row + r) as f64);
            if input.id {
                table.push(ids[r]);
            }
            table.extend_from_slice(m);
            let start = table.len();
            table.extend_from_slice(m);
            forest.link().apply(&mut table[start..]);
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
        Ok::<_, Failure>(table)
    };
    let done = pipeline::run(
        input.open(16_384)?,
        writer,
        input.rows,
        compute,
        |p, done| input.progress(shared, p, done),
        || Ok(()),
    )
    .map_err(failure_error)?;
    manifest.rows = done as u64;
    manifest.columns = value_columns;
    let (responses, labels) = scored.into_inner();
    if labels.is_empty() {
        return Ok(Vec::new());
    }
    let metrics = quality(task, &responses, &labels);
    let key = format!("{}/metrics.json", input.prefix);
    manifest.metrics = Some(key.clone());
    Ok(vec![(key, serde_json::to_value(metrics)?)])
}

fn quality(task: &AnalyzerTask, responses: &[f64], labels: &[f64]) -> Metrics {
    match task.schema.task {
        Task::Regression => {
            let m = regression_metrics(responses, labels);
            Metrics::Regression(RegressionQuality {
                mae: m.mae,
                mape: m.mape,
                r2: m.r2,
                rmse: m.rmse,
                rows: m.rows as u64,
                task: RegressionTask::Regression,
            })
        }
        Task::Binary | Task::Multiclass => {
            let classes = if task.schema.task == Task::Binary {
                2
            } else {
                task.schema.classes.unwrap_or(2) as usize
            };
            let threshold = task.spec.options.threshold.unwrap_or(0.5);
            let labels: Vec<u32> = labels.iter().map(|&y| y as u32).collect();
            let m = classification_metrics(responses, &labels, classes, threshold);
            Metrics::Classification(ClassificationQuality {
                accuracy: m.accuracy,
                brier: m.brier,
                classes: m.classes as u32,
                confusion_matrix: m.confusion,
                f1: m.f1,
                log_loss: m.log_loss,
                precision: m.precision,
                recall: m.recall,
                roc_auc: m.roc_auc,
                rows: m.rows as u64,
                task: if classes == 2 {
                    ClassificationTask::Binary
                } else {
                    ClassificationTask::Multiclass
                },
                threshold: (classes == 2).then_some(m.threshold),
            })
        }
    }
}

fn failure_error(f: Failure) -> anyhow::Error {
    match f {
        Failure::Input(e) | Failure::Check(e) => e,
    }
}

fn influences(
    task: &AnalyzerTask,
    input: &Input,
    background: Option<&Batch>,
    out_file: &Path,
    shared: &Shared,
    manifest: &mut ResultManifest,
) -> anyhow::Result<Vec<(String, serde_json::Value)>> {
    let forest = input.forest;
    let (nf, n_out) = (forest.n_features(), forest.n_outputs());
    let explainer = match (task.spec.options.method, background) {
        (Some(InfluenceMethod::Interventional), Some(b)) => {
            Explainer::Interventional(Interventional::new(forest, Rows::new(&b.values, nf)))
        }
        (Some(InfluenceMethod::Interventional), None) => {
            bail!("interventional influences need a background dataset")
        }
        _ => Explainer::PathDependent(PathDependent::new(forest)),
    };
    let value_columns = explanation_columns(forest);
    let mut columns = input.key_columns(task.schema.id.as_ref());
    columns.extend(value_columns.iter().cloned());
    let writer = TableWriter::create(out_file, &columns)?;
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
        Ok::<_, Failure>(table)
    };
    let keep = || additivity_verdict(*additivity.borrow(), "nothing was stored");
    let done = pipeline::run(
        input.open(2048)?,
        writer,
        input.rows,
        compute,
        |p, done| input.progress(shared, p, done),
        keep,
    )
    .map_err(failure_error)?;
    let a = additivity.into_inner();
    manifest.rows = done as u64;
    manifest.columns = value_columns;
    manifest.additivity = Some(AdditivitySummary {
        checked: a.checked as u64,
        failing: a.failing as u64,
        worst_abs: a.worst_abs,
    });
    let (abs, signed) = sums.into_inner();
    let n = done.max(1) as f64;
    let features = (0..nf)
        .map(|j| {
            let per_class: Vec<f64> = (0..n_out).map(|k| abs[k * nf + j] / n).collect();
            let mean_abs = per_class.iter().sum::<f64>() / n_out as f64;
            let mean: f64 = (0..n_out).map(|k| signed[k * nf + j] / n).sum::<f64>() / n_out as f64;
            FeatureImportance {
                feature: forest.features()[j].name.clone(),
                mean,
                mean_abs,
                mean_abs_by_class: (n_out > 1).then_some(per_class),
            }
        })
        .collect();
    let mut importance = Importance {
        background: task.spec.background.as_ref().map(|b| b.name.clone()),
        dataset: task.spec.dataset.name.clone(),
        features,
        method: task.spec.options.method,
        rows: done as u64,
        // TreeSHAP explains the margin (log-odds for classifiers), whatever the score type.
        scale: InfluenceScale::Margin,
        shards: None,
    };
    importance.sort();
    let key = format!("{}/importance.json", input.prefix);
    manifest.importance = Some(key.clone());
    Ok(vec![(key, serde_json::to_value(importance)?)])
}

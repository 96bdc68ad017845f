//! One analyzer's part of a job: fetch the inputs from the artifact store, read the rows (its
//! shard's slice of them), let the job's kind compute, and store the result files and their
//! manifest.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use sextant_api::{
    ALGORITHM_VERSION, AdditivitySummary, AnalyzerTask, InputRef, PartInfo, ResultManifest,
    result_prefix,
};
use sextant_data::{Batch, BatchReader, SkipRows, open_table, table_columns};
use sextant_import::ModelFormat;
use sextant_model::{Feature, FeatureKind, Model};
use sextant_store::Artifacts;

use crate::board::ProgressBoard;
use crate::faults::Fault;
use crate::kinds::{Documents, analysis};
use crate::{AnalyzerError, AnalyzerResult};

/// Rows per batch when the `slow` fault is injected.
const SLOW_BATCH_ROWS: usize = 100;

/// The pause after each batch when the `slow` fault is injected.
const SLOW_PAUSE: Duration = Duration::from_millis(300);

/// Which slice of a job's rows one analyzer computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Its index, from 0.
    pub index: u32,
    /// Shards in all.
    pub count: u32,
}

impl Shard {
    /// Rows `start .. end` of `total`: equal slices, the last one shorter.
    pub fn rows(self, total: u64) -> (u64, u64) {
        let per = total.div_ceil(u64::from(self.count.max(1)));
        let start = (u64::from(self.index) * per).min(total);
        (start, (start + per).min(total))
    }
}

/// What a kind's computation reads: the model, its part of the rows, where to write.
pub struct PartInput<'a> {
    /// The job's task.
    pub task: &'a AnalyzerTask,
    /// The model.
    pub model: &'a Model,
    /// The dataset's local copy.
    pub data: &'a Path,
    /// Columns read after the model's features: the id, then the label, when present.
    pub extras: &'a [String],
    /// Whether the data has the project's id column.
    pub id: bool,
    /// Whether the data has the project's label column.
    pub label: bool,
    /// Rows before this part's slice.
    pub skip: usize,
    /// Rows of its slice (all when `None`).
    pub rows: Option<usize>,
    /// Which shard this is (index 0 of 1 when the job is not sharded). A kind that shards its
    /// columns reads it; for one that shards rows, `skip` and `rows` already say it all.
    pub shard: Shard,
    /// Where the result table is written locally.
    pub out_file: &'a Path,
    /// A fault to inject.
    pub fault: Option<Fault>,
    board: &'a ProgressBoard,
    fetch: &'a dyn Fn(&InputRef) -> AnalyzerResult<PathBuf>,
}

/// What a kind's computation produced.
#[derive(Debug)]
pub struct PartOutput {
    /// Rows computed.
    pub rows: u64,
    /// Value columns of the table, in order.
    pub columns: Vec<String>,
    /// Its documents (metrics, importance), as the kind makes them.
    pub documents: Documents,
    /// Additivity figures, if the kind explains.
    pub additivity: Option<AdditivitySummary>,
}

impl PartInput<'_> {
    /// A local copy of another input of the job (a background dataset).
    pub fn fetch(&self, input: &InputRef) -> AnalyzerResult<PathBuf> {
        (self.fetch)(input)
    }

    /// The rows, in batches of `batch_rows`, from this part's first row.
    pub fn open(&self, batch_rows: usize) -> AnalyzerResult<Box<dyn BatchReader>> {
        let mut features: Vec<Feature> = self.model.features().to_vec();
        features.extend(self.extras.iter().map(|name| Feature {
            name: name.clone(),
            kind: FeatureKind::Numeric,
        }));
        let batch_rows = if self.fault == Some(Fault::Slow) {
            SLOW_BATCH_ROWS
        } else {
            batch_rows
        };
        let reader = open_table(self.data, &features, batch_rows)?;
        Ok(if self.skip > 0 {
            Box::new(SkipRows::new(reader, self.skip))
        } else {
            reader
        })
    }

    /// Splits a batch into the model's rows and, per row, `[id]` and `[label]`.
    pub fn split(&self, batch: &Batch, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let nf = self.model.n_features();
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
        if self.fault == Some(Fault::Slow) {
            thread::sleep(SLOW_PAUSE);
        }
        (features, ids, labels)
    }

    /// `row`, then the id column when the project has one in this data.
    pub fn key_columns(&self) -> Vec<String> {
        let mut columns = vec!["row".to_string()];
        if self.id {
            columns.push(self.task.schema.id.clone().unwrap_or_else(|| "id".into()));
        }
        columns
    }

    /// Reports the rows done and the fraction of the work, for kinds that read more than this
    /// part's rows (drift reads a reference too).
    pub fn report_fraction(&self, done: u64, fraction: f64) {
        self.board.set("computing", done, None, fraction);
    }

    /// Reports the reader's position and the rows done.
    pub fn report(&self, p: sextant_data::Progress, done: usize) {
        let fraction = match (self.rows, p.total) {
            (Some(0), _) => 1.0,
            (Some(limit), _) => done as f64 / limit as f64,
            (None, Some(total)) if total > 0 => p.done as f64 / total as f64,
            _ => 0.0,
        };
        self.board.set(
            "computing",
            done as u64,
            self.rows.map(|r| r as u64),
            fraction,
        );
    }
}

/// The local scratch directory of one job's analyzer (of one shard: shards may share a machine).
fn scratch_dir(task: &AnalyzerTask, shard: Shard) -> AnalyzerResult<PathBuf> {
    let dir = crate::scratch_dir(task.job_id, shard.index);
    std::fs::create_dir_all(&dir)
        .map_err(|e| AnalyzerError::Io(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}

/// The readers choose the format by extension; a stored dataset's key carries it.
pub(crate) fn typed_path(path: &Path, key: &str) -> AnalyzerResult<PathBuf> {
    if path.extension().is_some() {
        return Ok(path.to_path_buf());
    }
    let ext = Path::new(key)
        .extension()
        .ok_or_else(|| AnalyzerError::input(format!("dataset key {key} has no format")))?;
    let typed = path.with_extension(ext);
    std::fs::copy(path, &typed)
        .map_err(|e| AnalyzerError::Io(format!("{}: {e}", typed.display())))?;
    Ok(typed)
}

/// Reads the inputs, computes, stores the result files; returns the manifest.
pub(crate) fn compute_part(
    task: &AnalyzerTask,
    shard: Shard,
    board: &ProgressBoard,
    fault: Option<Fault>,
) -> AnalyzerResult<ResultManifest> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AnalyzerError::Io(format!("cannot start the runtime: {e}")))?;
    let artifacts = Artifacts::open(&task.artifacts)?;
    let scratch = scratch_dir(task, shard)?;
    let fetch = |input: &InputRef| -> AnalyzerResult<PathBuf> {
        let path = runtime.block_on(artifacts.local_file(&input.key, &scratch))?;
        Ok(path)
    };
    let model_path = fetch(task.spec.model())?;
    let data_path = fetch(task.spec.data())?;
    let format = match &task.spec.model().format {
        Some(name) => {
            Some(ModelFormat::from_name(name).map_err(|e| AnalyzerError::input(e.to_string()))?)
        }
        None => None,
    };
    let mut model = sextant_import::load_model(&model_path, format)
        .map_err(|e| AnalyzerError::input(format!("cannot load the model: {e}")))?;
    // An ONNX file that names no features reads the project's, as it did at upload.
    sextant_import::name_positional_features(&mut model, &task.schema.feature_names());
    let data_file = typed_path(&data_path, &task.spec.data().key)?;
    let columns = table_columns(&data_file)?;
    let has = |c: &Option<String>| c.as_ref().filter(|c| columns.contains(c)).cloned();
    let id_column = has(&task.schema.id);
    let label_column = has(&task.schema.label);
    let extras: Vec<String> = [id_column.clone(), label_column.clone()]
        .into_iter()
        .flatten()
        .collect();
    let out_file = scratch.join("table.parquet");
    let kind = analysis(task.spec.kind);
    // A shard computes its slice of the rows and stores its part beside the others'.
    let (skip, rows, prefix, part) = if shard.count > 1 {
        if !kind.shardable() {
            return Err(AnalyzerError::input(format!(
                "{} jobs are not sharded",
                task.spec.kind.as_str()
            )));
        }
        let total = match (task.dataset_rows, task.spec.options.rows) {
            (Some(all), Some(limit)) => all.min(limit),
            (Some(all), None) => all,
            (None, _) => {
                return Err(AnalyzerError::input(
                    "a sharded job needs the dataset's row count",
                ));
            }
        };
        if !kind.shards_rows() {
            // Every row, a share of the columns: the kind's compute picks them.
            let part = PartInfo {
                index: shard.index,
                count: shard.count,
                first_row: 0,
            };
            let prefix = format!("{}/parts/{}", result_prefix(&task.cache_key), shard.index);
            (
                0,
                task.spec.options.rows.map(|r| r as usize),
                prefix,
                Some(part),
            )
        } else {
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
        }
    } else {
        let rows = task.spec.options.rows.map(|r| r as usize);
        (0, rows, result_prefix(&task.cache_key), None)
    };
    let input = PartInput {
        task,
        model: &model,
        data: &data_file,
        extras: &extras,
        id: id_column.is_some(),
        label: label_column.is_some(),
        skip,
        rows,
        shard,
        out_file: &out_file,
        fault,
        board,
        fetch: &fetch,
    };
    let output = kind.compute(&input)?;
    board.set("writing", output.rows, Some(output.rows), 1.0);
    let mut manifest = ResultManifest {
        drift: None,
        version: 1,
        kind: task.spec.kind,
        cache_key: task.cache_key.clone(),
        rows: output.rows,
        table: format!("{prefix}/table.parquet"),
        columns: output.columns,
        metrics: None,
        importance: None,
        method: task.spec.options.method,
        additivity: output.additivity,
        algorithm_version: ALGORITHM_VERSION.to_string(),
        seconds: 0.0,
        part,
        parts: Vec::new(),
    };
    let mut documents = Vec::new();
    if let Some(metrics) = &output.documents.metrics {
        let key = format!("{prefix}/metrics.json");
        documents.push((key.clone(), json_document(metrics)?));
        manifest.metrics = Some(key);
    }
    if let Some(drift) = &output.documents.drift {
        let key = format!("{prefix}/drift.json");
        documents.push((key.clone(), json_document(drift)?));
        manifest.drift = Some(key);
    }
    if let Some(importance) = &output.documents.importance {
        let key = format!("{prefix}/importance.json");
        documents.push((key.clone(), json_document(importance)?));
        manifest.importance = Some(key);
    }
    runtime.block_on(async {
        artifacts.put_file(&manifest.table, &out_file).await?;
        for (key, bytes) in documents {
            artifacts.put_bytes(&key, bytes.into()).await?;
        }
        manifest.seconds = started.elapsed().as_secs_f64();
        artifacts
            .put_bytes(
                &format!("{prefix}/manifest.json"),
                json_document(&manifest)?.into(),
            )
            .await?;
        Ok::<(), AnalyzerError>(())
    })?;
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(manifest)
}

/// A stored JSON document, pretty-printed.
fn json_document(value: &impl serde::Serialize) -> AnalyzerResult<Vec<u8>> {
    serde_json::to_vec_pretty(value)
        .map_err(|e| AnalyzerError::Io(format!("cannot encode a result document: {e}")))
}

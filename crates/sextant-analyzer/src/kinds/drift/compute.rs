//! A drift job's computation: each dataset streamed once in batches (a reading thread ahead of
//! the sketching), the comparisons, the contributors, and the stored report and bins table.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::thread;

use sextant_algo::ModelPredictor;
use sextant_algo::drift::{Profile, Reservoir, Sketch};
use sextant_api::{
    CLASSIFICATION_METRICS, DRIFT_VERSION, DriftReport, DriftThresholds, InputRole, MetricChange,
    Metrics, REGRESSION_METRICS, ScoreDrift, Task,
};
use sextant_data::{Batch, DataError, Progress, TableWriter, open_table_with, table_columns};
use sextant_model::{CellParser, Feature, FeatureKind, Model, NewCategories, Rows};

use super::contributors::contributors;
use super::features_of_part;
use super::report::{Names, column_drift};
use crate::kinds::Documents;
use crate::part::{PartInput, PartOutput, typed_path};
use crate::{AnalyzerError, AnalyzerResult};

/// Rows read at a time.
const BATCH_ROWS: usize = 16_384;

/// One dataset streamed: its features' and scores' sketches, margin and score sums, the rows
/// kept for the contributors, and the responses and labels of its labelled rows.
struct Side {
    features: Profile,
    scores: Vec<Sketch>,
    margin_sums: Vec<f64>,
    score_sums: Vec<f64>,
    sample: Reservoir,
    responses: Vec<f64>,
    labels: Vec<f64>,
    labelled: bool,
}

/// What reading a dataset needs.
struct Reading<'a> {
    input: &'a PartInput<'a>,
    predictor: &'a ModelPredictor<'a>,
    book: &'a Arc<NewCategories>,
    /// The label column, when this dataset has it.
    label: Option<String>,
    /// The features sketched (indices into the model's), in order.
    sketched: &'a [usize],
    /// Whether the rows are scored (and sampled for the contributors, and their labels kept).
    score: bool,
    /// Values outside these ranges are counted (the current dataset against the reference's).
    ranges: Option<Vec<Option<(f64, f64)>>>,
    /// Which dataset, for messages and progress.
    which: &'static str,
    /// The share of the job's progress done before this dataset, and this dataset's share.
    progress: (f64, f64),
    seed: u64,
}

/// Reads `path` to its end (or the job's row limit) in batches, a thread reading ahead.
fn read(reading: &Reading, path: &Path) -> AnalyzerResult<Side> {
    let input = reading.input;
    let model = input.model;
    let (nf, n_out) = (model.n_features(), model.n_outputs());
    // A scoring reader reads every feature, a sketching one only its own (so a shard reads no
    // more of a Parquet file than it sketches); either way the sketched columns lead each row:
    // a scoring reader sketches every feature (one analyzer does all) or none (shard 0).
    debug_assert!(!reading.score || reading.sketched.is_empty() || reading.sketched.len() == nf);
    let mut columns: Vec<Feature> = if reading.score {
        model.features().to_vec()
    } else {
        reading
            .sketched
            .iter()
            .map(|&j| model.features()[j].clone())
            .collect()
    };
    let label = reading.label.as_ref().filter(|_| reading.score);
    if let Some(label) = label {
        columns.push(Feature {
            name: label.clone(),
            kind: FeatureKind::Numeric,
        });
    }
    let width = columns.len();
    let parser = |f: &Feature| CellParser::recording(f, reading.book);
    let mut reader = open_table_with(path, &columns, BATCH_ROWS, &parser).map_err(|e| {
        AnalyzerError::input(format!("cannot read the {} dataset: {e}", reading.which))
    })?;
    let rows_limit = input.task.spec.options.rows.map(|r| r as usize);
    let contributor_rows = input.task.spec.options.contributor_rows.unwrap_or(1000) as usize;
    let mut side = Side {
        features: Profile::new(reading.sketched.len(), reading.ranges.as_deref()),
        scores: vec![Sketch::default(); n_out],
        margin_sums: vec![0.0; n_out],
        score_sums: vec![0.0; n_out],
        sample: Reservoir::new(contributor_rows, nf, reading.seed),
        responses: Vec::new(),
        labels: Vec::new(),
        labelled: label.is_some(),
    };
    let link = model.link();
    thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Result<(Batch, Progress), DataError>>(2);
        scope.spawn(move || {
            let mut rows = 0usize;
            while rows_limit.is_none_or(|l| rows < l) {
                let next = reader
                    .next_batch()
                    .map(|b| b.map(|b| (b, reader.progress())));
                let stop = !matches!(next, Ok(Some(_)));
                if let Ok(Some((b, _))) = &next {
                    rows += b.n_rows;
                }
                if stop {
                    if let Err(e) = next {
                        let _ = tx.send(Err(e));
                    }
                    break;
                }
                if tx.send(next.map(|n| n.expect("a batch"))).is_err() {
                    break;
                }
            }
        });
        let mut done = 0usize;
        let mut features = Vec::new();
        let mut margins = Vec::new();
        for message in rx {
            let (batch, progress) = message.map_err(|e| {
                AnalyzerError::input(format!("cannot read the {} dataset: {e}", reading.which))
            })?;
            let n = rows_limit.map_or(batch.n_rows, |l| batch.n_rows.min(l - done));
            let values = &batch.values[..n * width];
            side.features.add_rows(values, width, n);
            done += n;
            report_progress(reading, &progress, done);
            if !reading.score {
                continue;
            }
            side.sample.offer(values, width, n);
            let rows: &[f64] = if width == nf {
                values
            } else {
                features.clear();
                for row in values.chunks(width) {
                    features.extend_from_slice(&row[..nf]);
                }
                &features
            };
            margins.resize(n * n_out, 0.0);
            reading
                .predictor
                .predict_margins(Rows::new(rows, nf), &mut margins)
                .map_err(|e| AnalyzerError::input(format!("the model failed: {e}")))?;
            let mut response = vec![0.0; n_out];
            for (r, m) in margins.chunks(n_out).enumerate() {
                response.copy_from_slice(m);
                link.apply(&mut response);
                for k in 0..n_out {
                    side.margin_sums[k] += m[k];
                    side.score_sums[k] += response[k];
                    side.scores[k].add(response[k]);
                }
                if side.labelled {
                    let label = values[r * width + nf];
                    if !label.is_nan() {
                        side.responses.extend_from_slice(&response);
                        side.labels.push(label);
                    }
                }
            }
        }
        Ok::<_, AnalyzerError>(())
    })?;
    Ok(side)
}

/// Reports the progress of reading a dataset, `done` rows in.
fn report_progress(reading: &Reading, progress: &Progress, done: usize) {
    let fraction = match progress.total {
        Some(t) if t > 0 => progress.done as f64 / t as f64,
        _ => 0.0,
    };
    let (before, share) = reading.progress;
    reading
        .input
        .report_fraction(done as u64, before + share * fraction.min(1.0));
}

/// Computes a drift job.
pub fn drift(input: &PartInput) -> AnalyzerResult<PartOutput> {
    let task = input.task;
    let model = input.model;
    let spec = &task.spec;
    let reference = spec.dataset(InputRole::Reference).ok_or_else(|| {
        AnalyzerError::input("a drift job needs a reference dataset to compare the data with")
    })?;
    let reference_file = typed_path(&input.fetch(reference)?, &reference.key)?;
    let reference_columns = table_columns(&reference_file)
        .map_err(|e| AnalyzerError::input(format!("cannot read the reference dataset: {e}")))?;
    let label_in = |columns: &[String]| task.schema.label.clone().filter(|l| columns.contains(l));
    let predictor = ModelPredictor::new(model);
    let book = NewCategories::new();
    let seed = spec.options.seed.unwrap_or(0);
    let shard = input.shard;
    let sketched = features_of_part(shard.index, shard.count, model.n_features());
    let scoring = shard.index == 0;
    let reading = Reading {
        input,
        predictor: &predictor,
        book: &book,
        sketched: &sketched,
        score: scoring,
        label: label_in(&reference_columns),
        ranges: None,
        which: "reference",
        progress: (0.0, 0.45),
        seed,
    };
    let reference_side = read(&reading, &reference_file)?;
    if reference_side.features.rows == 0 {
        return Err(AnalyzerError::input(format!(
            "the reference dataset {:?} has no rows",
            reference.name
        )));
    }
    let ranges: Vec<Option<(f64, f64)>> = reference_side
        .features
        .columns
        .iter()
        .map(|s| s.range)
        .collect();
    let current_columns = table_columns(input.data)
        .map_err(|e| AnalyzerError::input(format!("cannot read the current dataset: {e}")))?;
    let current_side = read(
        &Reading {
            label: label_in(&current_columns),
            ranges: Some(ranges),
            which: "current",
            progress: (0.45, 0.45),
            seed: seed ^ 0x5bd1_e995,
            ..reading
        },
        input.data,
    )?;
    if current_side.features.rows == 0 {
        return Err(AnalyzerError::input(format!(
            "the current dataset {:?} has no rows",
            spec.data().name
        )));
    }
    let names = Names::new(model, &book);
    let features: Vec<_> = sketched
        .iter()
        .enumerate()
        .map(|(i, &j)| {
            column_drift(
                &model.features()[j].name,
                names.categorical(j),
                &reference_side.features.columns[i],
                &current_side.features.columns[i],
                reference_side.features.rows,
                current_side.features.rows,
                &names,
                j,
            )
        })
        .collect();
    // A sketching shard's report has its features alone; the merge takes the rest from shard 0.
    let (score, contributors, attribution) = if scoring {
        let outputs = (0..model.n_outputs())
            .map(|k| {
                column_drift(
                    &output_name(model, k),
                    false,
                    &reference_side.scores[k],
                    &current_side.scores[k],
                    reference_side.features.rows,
                    current_side.features.rows,
                    &names,
                    usize::MAX,
                )
            })
            .collect();
        let score = score_drift(input, &reference_side, &current_side, outputs);
        input.report_fraction(current_side.features.rows, 0.92);
        let (contributors, attribution) = contributors(
            input,
            &predictor,
            &reference_side.sample,
            &current_side.sample,
        )?;
        (score, contributors, Some(attribution))
    } else {
        (ScoreDrift::default(), Vec::new(), None)
    };
    let mut report = DriftReport {
        version: DRIFT_VERSION,
        job: None,
        model: spec.model().name.clone(),
        reference: reference.name.clone(),
        dataset: spec.data().name.clone(),
        rows_reference: reference_side.features.rows,
        rows_current: current_side.features.rows,
        thresholds: DriftThresholds::default(),
        drifted: 0,
        features,
        score,
        contributors,
        attribution,
    };
    report.judge(DriftThresholds::default());
    let columns = write_bins(input, &report, &sketched, model.n_features())?;
    Ok(PartOutput {
        rows: current_side.features.rows,
        columns,
        documents: Documents {
            drift: Some(report),
            metrics: None,
            importance: None,
        },
        additivity: None,
    })
}

/// `score` for a model of one output, else the class's name.
fn output_name(model: &Model, k: usize) -> String {
    if model.n_outputs() == 1 {
        "score".into()
    } else {
        format!("class {k}")
    }
}

/// Means, quality on each side, and the change of each metric where both sides have labels.
fn score_drift(
    input: &PartInput,
    reference: &Side,
    current: &Side,
    outputs: Vec<sextant_api::FeatureDrift>,
) -> ScoreDrift {
    let schema = &input.task.schema;
    let threshold = input.task.spec.options.threshold.unwrap_or(0.5);
    let quality = |side: &Side| {
        (!side.labels.is_empty()).then(|| {
            Metrics::of(
                schema.task,
                schema.classes,
                threshold,
                &side.responses,
                &side.labels,
            )
        })
    };
    let (metrics_reference, metrics_current) = (quality(reference), quality(current));
    let mut metric_changes = Vec::new();
    if let (Some(r), Some(c)) = (&metrics_reference, &metrics_current) {
        let names: &[&str] = match schema.task {
            Task::Regression => &REGRESSION_METRICS,
            _ => &CLASSIFICATION_METRICS,
        };
        for name in names {
            let (a, b) = (r.named(name).flatten(), c.named(name).flatten());
            metric_changes.push(MetricChange {
                metric: (*name).to_string(),
                reference: a,
                current: b,
                change: a.zip(b).map(|(a, b)| b - a),
            });
        }
    }
    let mean = |sums: &[f64], side: &Side| {
        sums.iter()
            .map(|s| s / side.features.rows as f64)
            .collect::<Vec<f64>>()
    };
    ScoreDrift {
        outputs,
        mean_margin_reference: mean(&reference.margin_sums, reference),
        mean_margin_current: mean(&current.margin_sums, current),
        mean_reference: mean(&reference.score_sums, reference),
        mean_current: mean(&current.score_sums, current),
        metrics_reference,
        metrics_current,
        metric_changes,
    }
}

/// The histograms as a table: `feature` (its index in the model, `sketched[i]` for the
/// report's i-th; the score's outputs after the features), `bin`, `lower`, `upper`,
/// `reference`, `current` (shares); bounds are NaN where open or for a category. Returns the
/// value columns.
fn write_bins(
    input: &PartInput,
    report: &DriftReport,
    sketched: &[usize],
    n_features: usize,
) -> AnalyzerResult<Vec<String>> {
    let columns: Vec<String> = ["feature", "bin", "lower", "upper", "reference", "current"]
        .map(String::from)
        .to_vec();
    let mut writer = TableWriter::create(input.out_file, &columns)?;
    let mut values = Vec::new();
    let indices = sketched
        .iter()
        .copied()
        .chain((0..report.score.outputs.len()).map(|k| n_features + k));
    for (i, f) in indices.zip(report.features.iter().chain(report.score.outputs.iter())) {
        for (b, bin) in f.bins.iter().enumerate() {
            values.extend_from_slice(&[
                i as f64,
                b as f64,
                bin.lower.unwrap_or(f64::NAN),
                bin.upper.unwrap_or(f64::NAN),
                bin.reference,
                bin.current,
            ]);
        }
    }
    writer.write_rows(&values)?;
    writer.finish()?;
    Ok(columns)
}

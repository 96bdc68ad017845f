//! The views reduced for plotting, as tables: `curves` (ROC, precision-recall, calibration,
//! confusion counts by threshold; residuals), `points` (influences at sampled rows with the
//! data's values) and `explanation` (one row's waterfall).

use clap::Args;
use sextant_api::{CurvesQuery, CurvesReport, ExplanationQuery, PointsQuery};
use sextant_client::Client;

use super::job::MethodArg;
use super::print_json_sorted;
use super::results::WhichResult;
use crate::Failure;
use crate::report::{figure, print_table};

#[derive(Args)]
pub struct CurvesArgs {
    project: String,
    #[arg(long)]
    model: String,
    #[arg(long)]
    dataset: String,
    /// The result over the first N rows (default: the result over the whole dataset).
    #[arg(long)]
    rows: Option<u64>,
    /// The classification threshold the predict job used (default: none given).
    #[arg(long)]
    threshold: Option<f64>,
    /// The result of this job (its id), whatever the other options.
    #[arg(long)]
    job: Option<uuid::Uuid>,
    /// Only the rows of this segment (a segment's name, or an expression).
    #[arg(long)]
    segment: Option<String>,
}

pub fn curves(client: &Client, json_out: bool, args: CurvesArgs) -> Result<(), Failure> {
    let query = CurvesQuery {
        dataset: args.dataset,
        rows: args.rows,
        threshold: args.threshold,
        job: args.job,
        segment: args.segment,
    };
    let report = client.curves(&args.project, &args.model, &query)?;
    if json_out {
        print_json_sorted(&report)?;
        return Ok(());
    }
    print_curves(&report);
    Ok(())
}

/// The area under a curve of points in increasing `x`, by trapezoids.
fn area(points: &[(f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

fn print_curves(report: &CurvesReport) {
    let source = &report.source;
    println!(
        "curves of {} on {} ({} labelled rows, job {})",
        source.model, source.dataset, report.labelled, source.job
    );
    crate::report::print_segment(source);
    if let Some(b) = &report.binary {
        let roc: Vec<(f64, f64)> = b.roc.iter().map(|p| (p.x, p.y)).collect();
        println!(
            "ROC: {} points, area {}",
            roc.len(),
            figure(Some(area(&roc)))
        );
        let rows: Vec<Vec<String>> = b
            .thresholds
            .iter()
            .step_by(10)
            .map(|t| {
                let called = t.tp + t.fp;
                let positives = t.tp + t.fn_;
                let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
                vec![
                    format!("{:.2}", t.threshold),
                    t.tp.to_string(),
                    t.fp.to_string(),
                    t.tn.to_string(),
                    t.fn_.to_string(),
                    figure(ratio(t.tp, called)),
                    figure(ratio(t.tp, positives)),
                ]
            })
            .collect();
        print_table(
            &["THRESHOLD", "TP", "FP", "TN", "FN", "PRECISION", "RECALL"],
            &rows,
        );
        println!("calibration");
        let rows: Vec<Vec<String>> = b
            .calibration
            .iter()
            .map(|c| {
                vec![
                    format!("{:.1}–{:.1}", c.from, c.to),
                    figure(Some(c.predicted)),
                    figure(Some(c.observed)),
                    c.rows.to_string(),
                ]
            })
            .collect();
        print_table(&["BIN", "PREDICTED", "OBSERVED", "ROWS"], &rows);
    }
    if let Some(r) = &report.regression {
        println!(
            "residuals (label − prediction) of every labelled row; {} rows sampled for plots (--json)",
            r.points.len()
        );
        let rows: Vec<Vec<String>> = r
            .residuals
            .iter()
            .map(|h| {
                vec![
                    figure(Some(h.from)),
                    figure(Some(h.to)),
                    h.count.to_string(),
                ]
            })
            .collect();
        print_table(&["FROM", "TO", "ROWS"], &rows);
    }
    if report.binary.is_none() && report.regression.is_none() {
        println!("no curves for a multiclass model: its confusion matrix is in `sextant metrics`");
    }
}

#[derive(Args)]
pub struct PointsArgs {
    #[command(flatten)]
    result: WhichResult,
    /// Features, comma-separated (default: the 12 most important).
    #[arg(long)]
    features: Option<String>,
    /// Rows sampled, evenly spread over the result (default 1,000, at most 5,000).
    #[arg(long)]
    points: Option<u32>,
    /// For a multiclass model: the class whose influences to give (default 0).
    #[arg(long)]
    class: Option<u32>,
    /// The result over the first N rows (default: the result over the whole dataset).
    #[arg(long)]
    rows: Option<u64>,
    /// Only the rows of this segment (a segment's name, or an expression).
    #[arg(long)]
    segment: Option<String>,
}

pub fn points(client: &Client, json_out: bool, args: PointsArgs) -> Result<(), Failure> {
    let on = args.result;
    let query = PointsQuery {
        dataset: on.dataset,
        method: on.method.map(MethodArg::method),
        background: on.background,
        rows: args.rows,
        job: on.job,
        features: args.features,
        points: args.points,
        class: args.class,
        segment: args.segment,
    };
    let points = client.influence_points(&on.project, &on.model, &query)?;
    if json_out {
        print_json_sorted(&points)?;
        return Ok(());
    }
    // One line per feature and sampled row, so that the table fits a terminal however many
    // features are asked for.
    let mut rows: Vec<Vec<String>> = Vec::new();
    for f in &points.features {
        for (i, row) in points.rows.iter().enumerate() {
            let value = match (f.values[i], &f.categories) {
                (Some(v), Some(names)) => names
                    .get(v as usize)
                    .cloned()
                    .unwrap_or_else(|| figure(Some(v))),
                (v, _) => figure(v),
            };
            rows.push(vec![
                f.feature.clone(),
                row.to_string(),
                value,
                figure(f.influences[i]),
            ]);
        }
    }
    print_table(&["FEATURE", "ROW", "VALUE", "INFLUENCE"], &rows);
    println!(
        "{} rows of {} sampled evenly (job {})",
        points.rows.len(),
        points.source.rows_total,
        points.source.job
    );
    Ok(())
}

#[derive(Args)]
pub struct ExplanationArgs {
    #[command(flatten)]
    result: WhichResult,
    /// The row's index in the dataset (from 0).
    #[arg(long, required_unless_present = "id", conflicts_with = "id")]
    row: Option<u64>,
    /// The row's value in the project's id column.
    #[arg(long)]
    id: Option<f64>,
    /// For a multiclass model: the class explained (default 0).
    #[arg(long)]
    class: Option<u32>,
}

pub fn explanation(client: &Client, json_out: bool, args: ExplanationArgs) -> Result<(), Failure> {
    let on = args.result;
    let query = ExplanationQuery {
        dataset: on.dataset,
        method: on.method.map(MethodArg::method),
        background: on.background,
        job: on.job,
        row: args.row,
        id: args.id,
        class: args.class,
    };
    let e = client.explanation(&on.project, &on.model, &query)?;
    if json_out {
        print_json_sorted(&e)?;
        return Ok(());
    }
    let id = e.id.map(|id| format!(" (id {id})")).unwrap_or_default();
    println!(
        "row {}{id} of {}: base value {} + influences = margin {}",
        e.row,
        e.source.dataset,
        figure(Some(e.base_value)),
        figure(Some(e.margin))
    );
    let mut running = e.base_value;
    let rows: Vec<Vec<String>> = e
        .contributions
        .iter()
        .map(|c| {
            running += c.influence;
            vec![
                c.feature.clone(),
                c.value.clone().unwrap_or_else(|| "missing".into()),
                figure(Some(c.influence)),
                figure(Some(running)),
            ]
        })
        .collect();
    print_table(&["FEATURE", "VALUE", "INFLUENCE", "RUNNING"], &rows);
    Ok(())
}

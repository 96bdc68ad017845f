//! `sextant hotspots`: the segments of a dataset where a model's loss is worst, each with its
//! confidence interval and an expression `sextant segment add` can save.

use clap::Args;
use sextant_api::{HotspotQuery, HotspotRank, HotspotReport, RowLoss};
use sextant_client::Client;

use super::print_json_sorted;
use crate::Failure;
use crate::report::{figure, print_table};

#[derive(Args)]
pub struct HotspotArgs {
    project: String,
    #[arg(long)]
    model: String,
    /// The labelled dataset the model's predictions were computed on (run a predict job first).
    #[arg(long)]
    dataset: String,
    /// The per-row loss searched: error_rate (classifiers' default), log_loss, brier;
    /// absolute_error (regressions' default), squared_error.
    #[arg(long, value_parser = parse_metric)]
    metric: Option<RowLoss>,
    /// What hotspots are ranked by: excess (the loss they hold beyond the overall rate) or lift
    /// (their mean loss over the overall mean).
    #[arg(long, value_parser = parse_rank)]
    rank: Option<HotspotRank>,
    /// The fewest labelled rows a hotspot may hold (default 1 % of them, at least 20).
    #[arg(long)]
    min_size: Option<u64>,
    /// Hotspots listed.
    #[arg(long, default_value_t = sextant_api::DEFAULT_HOTSPOTS)]
    limit: u32,
    /// Quantile bins each numeric column is cut into.
    #[arg(long, default_value_t = sextant_api::DEFAULT_BINS)]
    bins: u32,
    /// The columns searched, comma-separated (default: all but the label and the id).
    #[arg(long)]
    columns: Option<String>,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = sextant_api::DEFAULT_CONFIDENCE)]
    confidence: f64,
    /// Bootstrap resamples behind the interval of a loss other than the error rate.
    #[arg(long, default_value_t = sextant_api::DEFAULT_RESAMPLES)]
    resamples: u32,
    /// Seed of the resampling.
    #[arg(long, default_value_t = sextant_api::DEFAULT_SEED)]
    seed: u64,
    /// The predictions of this predict job (its id).
    #[arg(long)]
    job: Option<uuid::Uuid>,
}

pub(crate) fn parse_metric(text: &str) -> Result<RowLoss, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        format!(
            "{text:?} is not a loss: one of error_rate, log_loss, brier, absolute_error, squared_error"
        )
    })
}

fn parse_rank(text: &str) -> Result<HotspotRank, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
        .map_err(|_| format!("{text:?} is not a ranking: excess or lift"))
}

pub fn hotspots(client: &Client, json_out: bool, args: HotspotArgs) -> Result<(), Failure> {
    let query = HotspotQuery {
        dataset: args.dataset,
        metric: args.metric,
        rank: args.rank,
        min_size: args.min_size,
        limit: Some(args.limit),
        bins: Some(args.bins),
        columns: args.columns,
        confidence: Some(args.confidence),
        resamples: Some(args.resamples),
        seed: Some(args.seed),
        job: args.job,
    };
    let project = args.project;
    let report = client.hotspots(&project, &args.model, &query)?;
    if json_out {
        print_json_sorted(&report)?;
    } else {
        print_hotspots(&project, &report);
    }
    Ok(())
}

fn print_hotspots(project: &str, r: &HotspotReport) {
    println!(
        "hotspots of {} on {} by {}, ranked by {} (job {})",
        r.source.model,
        r.source.dataset,
        r.metric.name(),
        match r.rank {
            HotspotRank::Excess => "excess",
            HotspotRank::Lift => "lift",
        },
        r.source.job,
    );
    println!(
        "overall {} over {} labelled rows; {} candidates of at least {} rows weighed",
        figure(Some(r.overall)),
        r.rows,
        r.candidates,
        r.min_size,
    );
    if r.hotspots.is_empty() {
        println!(
            "no segment of at least {} rows has a loss above the overall rate",
            r.min_size
        );
        return;
    }
    let interval = match r.interval.as_str() {
        "clopper_pearson" => "exact binomial",
        _ => "bootstrap",
    };
    println!(
        "{} % intervals ({interval}); save one with: sextant segment add {} NAME 'EXPRESSION'",
        r.confidence * 100.0,
        project
    );
    let rows: Vec<Vec<String>> = r
        .hotspots
        .iter()
        .map(|h| {
            vec![
                h.expression.clone(),
                h.rows.to_string(),
                format!("{:.1} %", h.share * 100.0),
                figure(Some(h.value)),
                figure(Some(h.low)),
                figure(Some(h.high)),
                figure(h.lift),
                figure(Some(h.excess)),
            ]
        })
        .collect();
    print_table(
        &[
            "SEGMENT", "ROWS", "SHARE", "VALUE", "LOW", "HIGH", "LIFT", "EXCESS",
        ],
        &rows,
    );
}

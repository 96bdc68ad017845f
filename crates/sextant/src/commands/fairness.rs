//! `sextant fairness`: a binary classifier's decisions compared between a protected group and a
//! reference group, with fairlearn's measures and their confidence intervals.

use clap::Args;
use sextant_api::{FairnessQuery, FairnessReport, GroupRates, SegmentScope};
use sextant_client::Client;

use super::print_json_sorted;
use crate::Failure;
use crate::report::{figure, print_table, scope_line};

#[derive(Args)]
pub struct FairnessArgs {
    project: String,
    #[arg(long)]
    model: String,
    /// The dataset the model's predictions were computed on (run a predict job first).
    #[arg(long)]
    dataset: String,
    /// The protected group: a segment's name, or an expression such as 'age < 25'.
    #[arg(long)]
    protected: String,
    /// The group it is compared with, likewise (default: every other row).
    #[arg(long)]
    reference: Option<String>,
    /// The probability at or above which a row is selected (default: the predict job's, else
    /// 0.5).
    #[arg(long)]
    threshold: Option<f64>,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = sextant_api::DEFAULT_CONFIDENCE)]
    confidence: f64,
    /// Bootstrap resamples behind the intervals.
    #[arg(long, default_value_t = sextant_api::DEFAULT_RESAMPLES)]
    resamples: u32,
    /// Seed of the resampling.
    #[arg(long, default_value_t = sextant_api::DEFAULT_SEED)]
    seed: u64,
    /// The result over the first N rows (default: the result over the whole dataset).
    #[arg(long)]
    rows: Option<u64>,
    /// The predictions of this predict job (its id).
    #[arg(long)]
    job: Option<uuid::Uuid>,
}

pub fn fairness(client: &Client, json_out: bool, args: FairnessArgs) -> Result<(), Failure> {
    let query = FairnessQuery {
        dataset: args.dataset,
        protected: args.protected,
        reference: args.reference,
        threshold: args.threshold,
        confidence: Some(args.confidence),
        resamples: Some(args.resamples),
        seed: Some(args.seed),
        rows: args.rows,
        job: args.job,
    };
    let report = client.fairness(&args.project, &args.model, &query)?;
    if json_out {
        print_json_sorted(&report)?;
    } else {
        print_fairness(&report);
    }
    Ok(())
}

fn group_line(side: &str, scope: &SegmentScope) -> String {
    format!("{side}: {}", scope_line(scope))
}

fn rates_row(side: &str, g: &GroupRates) -> Vec<String> {
    vec![
        side.to_string(),
        g.rows.to_string(),
        g.selected.to_string(),
        figure(g.selection_rate),
        figure(g.true_positive_rate),
        figure(g.false_positive_rate),
        figure(g.false_negative_rate),
        figure(g.precision),
        figure(g.accuracy),
    ]
}

fn print_fairness(r: &FairnessReport) {
    println!(
        "fairness of {} on {} at threshold {} (job {}): {} % intervals from {} resamples, seed {}",
        r.source.model,
        r.source.dataset,
        r.threshold,
        r.source.job,
        r.confidence * 100.0,
        r.resamples,
        r.seed
    );
    println!("{}", group_line("protected", &r.protected));
    println!("{}", group_line("reference", &r.reference));
    print_table(
        &[
            "GROUP",
            "ROWS",
            "SELECTED",
            "SELECTION_RATE",
            "TPR",
            "FPR",
            "FNR",
            "PRECISION",
            "ACCURACY",
        ],
        &[
            rates_row("protected", &r.groups.protected),
            rates_row("reference", &r.groups.reference),
        ],
    );
    let rows: Vec<Vec<String>> = r
        .measures()
        .iter()
        .map(|(name, m)| {
            vec![
                name.to_string(),
                figure(m.value),
                figure(m.low),
                figure(m.high),
            ]
        })
        .collect();
    print_table(&["MEASURE", "VALUE", "LOW", "HIGH"], &rows);
    match r.four_fifths_rule_violated {
        Some(true) => println!(
            "four-fifths rule: violated (selection-rate ratio {} < 0.8)",
            figure(r.demographic_parity_ratio.value)
        ),
        Some(false) => println!(
            "four-fifths rule: met (selection-rate ratio {} ≥ 0.8)",
            figure(r.demographic_parity_ratio.value)
        ),
        None => println!("four-fifths rule: undefined (neither group has a row selected)"),
    }
}

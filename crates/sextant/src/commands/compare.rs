//! `sextant compare`: several models of a project on one dataset — a leaderboard by a metric,
//! importance side by side, agreement pair by pair, and the rows where they disagree most.

use clap::Args;
use sextant_api::{CompareQuery, CompareReport};
use sextant_client::Client;

use super::print_json_sorted;
use crate::Failure;
use crate::report::{figure, print_table, scope_line};

#[derive(Args)]
pub struct CompareArgs {
    project: String,
    /// The models, comma-separated (2 to 10), each with a predict result on the dataset.
    #[arg(long)]
    models: String,
    #[arg(long)]
    dataset: String,
    /// The metric to rank by (default roc_auc for classifiers, rmse for a regression).
    #[arg(long)]
    metric: Option<String>,
    /// Only the rows of this segment (a segment's name, or an expression).
    #[arg(long)]
    segment: Option<String>,
    /// Rows listed where the models disagree most.
    #[arg(long, default_value_t = sextant_api::DEFAULT_DISAGREEMENTS)]
    disagreements: u32,
    /// Features shown side by side (the JSON has every one).
    #[arg(long, default_value_t = 10)]
    top: usize,
}

pub fn compare(client: &Client, json_out: bool, args: CompareArgs) -> Result<(), Failure> {
    let query = CompareQuery {
        models: args.models,
        dataset: args.dataset,
        metric: args.metric,
        segment: args.segment,
        disagreements: Some(args.disagreements),
    };
    let report = client.compare(&args.project, &query)?;
    if json_out {
        print_json_sorted(&report)?;
    } else {
        print_compare(&report, args.top);
    }
    Ok(())
}

fn print_compare(r: &CompareReport, top: usize) {
    println!(
        "{} models on {} ({} rows), ranked by {} ({} is better)",
        r.models.len(),
        r.dataset,
        r.rows,
        r.metric,
        if r.higher_is_better {
            "higher"
        } else {
            "lower"
        }
    );
    if let Some(s) = &r.segment {
        println!("segment {}", scope_line(s));
    }
    let board: Vec<Vec<String>> = r
        .leaderboard
        .iter()
        .map(|e| {
            vec![
                e.rank.map_or("-".into(), |k| k.to_string()),
                e.model.clone(),
                figure(e.value),
                e.job.to_string(),
            ]
        })
        .collect();
    print_table(&["RANK", "MODEL", &r.metric.to_uppercase(), "JOB"], &board);
    let mut header = vec!["FEATURE".to_string()];
    header.extend(r.models.iter().cloned());
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let sides: Vec<Vec<String>> = r
        .importance
        .iter()
        .take(top)
        .map(|s| {
            std::iter::once(s.feature.clone())
                .chain(s.mean_abs.iter().map(|v| figure(*v)))
                .collect()
        })
        .collect();
    if !sides.is_empty() {
        println!("mean |influence| side by side");
        print_table(&header, &sides);
    }
    let pairs: Vec<Vec<String>> = r
        .agreement
        .iter()
        .map(|a| {
            vec![
                format!("{} · {}", a.a, a.b),
                figure(a.decision_agreement),
                figure(a.score_correlation),
                figure(Some(a.mean_abs_difference)),
            ]
        })
        .collect();
    print_table(
        &["PAIR", "SAME_DECISION", "CORRELATION", "MEAN_ABS_DIFF"],
        &pairs,
    );
    if !r.disagreements.is_empty() {
        println!("rows where they disagree most");
        let mut header = vec!["ROW".to_string(), "ID".to_string(), "LABEL".to_string()];
        header.extend(r.models.iter().cloned());
        header.push("SPREAD".into());
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = r
            .disagreements
            .iter()
            .map(|d| {
                let mut row = vec![d.row.to_string(), figure(d.id), figure(d.label)];
                match (&d.scores, &d.decisions) {
                    (Some(scores), _) => row.extend(scores.iter().map(|s| figure(Some(*s)))),
                    (None, Some(decisions)) => {
                        row.extend(decisions.iter().map(|k| format!("class {k}")))
                    }
                    (None, None) => {}
                }
                row.push(figure(Some(d.spread)));
                row
            })
            .collect();
        print_table(&header, &rows);
    }
    for note in &r.notes {
        println!("note: {note}");
    }
}

//! The results of jobs: pages of `influences` and `predictions`, `importance`, `metrics`.

use clap::Args;
use sextant_api::ResultQuery;
use sextant_client::Client;

use super::job::MethodArg;
use super::print_json_sorted;
use crate::Failure;
use crate::report::{figure, print_importance, print_metrics, print_table};

#[derive(Args)]
pub struct ResultArgs {
    project: String,
    #[arg(long)]
    model: String,
    #[arg(long)]
    dataset: String,
    /// Influence method (default: interventional with --background, else path-dependent).
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// The background dataset of interventional influences (default: any).
    #[arg(long)]
    background: Option<String>,
    /// The result over the first N rows (default: the result over the whole dataset).
    #[arg(long)]
    rows: Option<u64>,
    /// The classification threshold of predictions and metrics (default: none given).
    #[arg(long)]
    threshold: Option<f64>,
    /// The result of this job (its id), whatever the other options.
    #[arg(long)]
    job: Option<uuid::Uuid>,
    /// First row.
    #[arg(long, default_value_t = 0)]
    offset: u64,
    /// Rows.
    #[arg(long, default_value_t = 20)]
    limit: u64,
}

fn result_query(args: &ResultArgs, paged: bool) -> ResultQuery {
    ResultQuery {
        dataset: args.dataset.clone(),
        method: args.method.map(MethodArg::method),
        background: args.background.clone(),
        rows: args.rows,
        threshold: args.threshold,
        job: args.job,
        offset: paged.then_some(args.offset),
        limit: paged.then_some(args.limit),
    }
}

/// `influences` or `predictions`: a page of a per-row result table.
pub fn table_page(
    client: &Client,
    json_out: bool,
    what: &str,
    args: ResultArgs,
) -> Result<(), Failure> {
    let query = result_query(&args, true);
    let page = match what {
        "influences" => client.influences(&args.project, &args.model, &query)?,
        _ => client.predictions(&args.project, &args.model, &query)?,
    };
    if json_out {
        print_json_sorted(&page)?;
        return Ok(());
    }
    let columns: Vec<&str> = page.columns.iter().map(String::as_str).collect();
    let rows: Vec<Vec<String>> = page
        .rows
        .iter()
        .map(|r| r.iter().map(|&v| figure(v)).collect())
        .collect();
    print_table(&columns, &rows);
    let method = page
        .source
        .method
        .map(|m| format!("{} ", m.as_str()))
        .unwrap_or_default();
    println!(
        "rows {}–{} of {} ({method}{what}, job {})",
        args.offset,
        args.offset + rows.len() as u64,
        page.source.rows_total,
        page.source.job
    );
    Ok(())
}

pub fn importance(client: &Client, json_out: bool, args: ResultArgs) -> Result<(), Failure> {
    let doc = client.importance(&args.project, &args.model, &result_query(&args, false))?;
    if json_out {
        print_json_sorted(&doc)?;
    } else {
        print_importance(&doc);
    }
    Ok(())
}

pub fn metrics(client: &Client, json_out: bool, args: ResultArgs) -> Result<(), Failure> {
    let doc = client.metrics(&args.project, &args.model, &result_query(&args, false))?;
    if json_out {
        print_json_sorted(&doc)?;
    } else {
        print_metrics(&doc);
    }
    Ok(())
}

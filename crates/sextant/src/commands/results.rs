//! The results of jobs: pages of `influences` and `predictions`, `importance`, `metrics`.

use clap::Args;
use sextant_api::{ResultQuery, TableQuery};
use sextant_client::Client;

use super::job::MethodArg;
use super::print_json_sorted;
use crate::Failure;
use crate::report::{figure, print_importance, print_metrics, print_table};

/// Which result: the options that pick it, shared by the result commands and their views.
#[derive(Args)]
pub struct WhichResult {
    pub(super) project: String,
    #[arg(long)]
    pub(super) model: String,
    #[arg(long)]
    pub(super) dataset: String,
    /// Influence method (default: interventional with --background, else path-dependent).
    #[arg(long, value_enum)]
    pub(super) method: Option<MethodArg>,
    /// The background dataset of interventional influences (default: any).
    #[arg(long)]
    pub(super) background: Option<String>,
    /// With --errors: the loss the result explains (default: the newest result's).
    #[arg(long, value_parser = super::hotspots::parse_metric)]
    pub(super) loss: Option<sextant_api::RowLoss>,
    /// The result of this job (its id), whatever the other options.
    #[arg(long)]
    pub(super) job: Option<uuid::Uuid>,
}

#[derive(Args)]
pub struct ResultArgs {
    #[command(flatten)]
    on: WhichResult,
    /// The result over the first N rows (default: the result over the whole dataset).
    #[arg(long)]
    rows: Option<u64>,
    /// The classification threshold of predictions and metrics (default: none given).
    #[arg(long)]
    threshold: Option<f64>,
    /// First row.
    #[arg(long, default_value_t = 0)]
    offset: u64,
    /// Rows.
    #[arg(long, default_value_t = 20)]
    limit: u64,
    /// With `importance`: also each feature group's importance (its members' influences
    /// summed on each row).
    #[arg(long)]
    groups: bool,
    /// Only the rows of this segment: a segment's name, or an expression such as
    /// 'age >= 30 and region == "EU"'.
    #[arg(long)]
    segment: Option<String>,
    /// Write the whole table (every row) to this Parquet file instead of printing a page
    /// (`influences` and `predictions`).
    #[arg(long)]
    output: Option<std::path::PathBuf>,
    /// With `influences` and `importance`: the error influences (of an error-influences job),
    /// each feature's influence on each row's loss, rather than on its score.
    #[arg(long)]
    errors: bool,
}

/// Refuses `--output` where there is no table to write.
fn no_output(args: &ResultArgs, what: &str) -> Result<(), Failure> {
    match &args.output {
        Some(_) => Err(Failure::Input(anyhow::anyhow!(
            "--output writes a whole table: {what} is a document (print it with --json)"
        ))),
        None => Ok(()),
    }
}

/// Refuses `--groups` where there is no importance to group.
fn no_groups(args: &ResultArgs) -> Result<(), Failure> {
    if args.groups {
        return Err(Failure::Input(anyhow::anyhow!(
            "--groups applies to importance only"
        )));
    }
    Ok(())
}

/// Writes a whole result table to the `--output` Parquet file.
fn whole_table(
    client: &Client,
    json_out: bool,
    what: &str,
    args: &ResultArgs,
    output: &std::path::Path,
) -> Result<(), Failure> {
    if args.segment.is_some() {
        return Err(Failure::Input(anyhow::anyhow!(
            "--output writes the whole table, every row: page through a segment without it, or filter the Parquet file by its `row` column"
        )));
    }
    if output.extension().is_none_or(|e| e != "parquet") {
        return Err(Failure::Input(anyhow::anyhow!(
            "{}: the whole table is written as Parquet: name a .parquet file",
            output.display()
        )));
    }
    let job = client.table(
        &args.on.project,
        &args.on.model,
        what,
        &table_query(args),
        output,
    )?;
    let bytes = std::fs::metadata(output).map(|m| m.len()).unwrap_or(0);
    if json_out {
        super::print_json(&serde_json::json!({
            "path": output, "job": job, "bytes": bytes
        }));
    } else {
        println!(
            "wrote the {what} of job {job} to {} ({bytes} bytes)",
            output.display()
        );
    }
    Ok(())
}

fn table_query(args: &ResultArgs) -> TableQuery {
    TableQuery {
        dataset: args.on.dataset.clone(),
        method: args.on.method.map(MethodArg::method),
        background: args.on.background.clone(),
        rows: args.rows,
        threshold: args.threshold,
        loss: args.on.loss,
        job: args.on.job,
    }
}

fn result_query(args: &ResultArgs, paged: bool) -> ResultQuery {
    ResultQuery {
        offset: paged.then_some(args.offset),
        limit: paged.then_some(args.limit),
        segment: args.segment.clone(),
        ..table_query(args).into()
    }
}

/// `influences` or `predictions`: a page of a per-row result table.
pub fn table_page(
    client: &Client,
    json_out: bool,
    what: &str,
    args: ResultArgs,
) -> Result<(), Failure> {
    no_groups(&args)?;
    let what = match (what, args.errors) {
        ("influences", true) => "error-influences",
        (_, true) => {
            return Err(Failure::Input(anyhow::anyhow!(
                "--errors applies to influences and importance only"
            )));
        }
        (what, false) => what,
    };
    if let Some(output) = &args.output {
        return whole_table(client, json_out, what, &args, output);
    }
    let query = result_query(&args, true);
    let (project, model) = (&args.on.project, &args.on.model);
    let page = match what {
        "influences" => client.influences(project, model, &query)?,
        "error-influences" => client.error_influences(project, model, &query)?,
        _ => client.predictions(project, model, &query)?,
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
    crate::report::print_segment(&page.source);
    let method = page
        .source
        .method
        .map(|m| format!("{} ", m.as_str()))
        .unwrap_or_default();
    let total = page
        .source
        .segment
        .as_ref()
        .map_or(page.source.rows_total, |s| s.rows);
    println!(
        "rows {}–{} of {total} ({method}{what}, job {})",
        args.offset,
        args.offset + rows.len() as u64,
        page.source.job
    );
    Ok(())
}

pub fn importance(client: &Client, json_out: bool, args: ResultArgs) -> Result<(), Failure> {
    no_output(&args, "importance")?;
    let query = result_query(&args, false);
    let doc = if args.errors {
        client.error_importance(&args.on.project, &args.on.model, &query, args.groups)?
    } else if args.groups {
        client.group_importance(&args.on.project, &args.on.model, &query)?
    } else {
        client.importance(&args.on.project, &args.on.model, &query)?
    };
    if json_out {
        print_json_sorted(&doc)?;
    } else {
        print_importance(&doc);
    }
    Ok(())
}

pub fn metrics(client: &Client, json_out: bool, args: ResultArgs) -> Result<(), Failure> {
    no_output(&args, "metrics")?;
    no_groups(&args)?;
    if args.errors {
        return Err(Failure::Input(anyhow::anyhow!(
            "--errors applies to influences and importance only"
        )));
    }
    let doc = client.metrics(
        &args.on.project,
        &args.on.model,
        &result_query(&args, false),
    )?;
    if json_out {
        print_json_sorted(&doc)?;
    } else {
        print_metrics(&doc);
    }
    Ok(())
}

//! `sextant drift`: a model's data and score compared between a reference dataset and a current
//! one — runs the drift job (answered at once when its result is stored), then prints each
//! feature's statistics and verdict, the score's change, and the features that contribute to
//! it.

use anyhow::anyhow;
use clap::Args;
use sextant_api::{CreateJob, DriftQuery, DriftReport, JobKind, JobOptions, JobState};
use sextant_client::Client;

use super::job::MethodArg;
use super::{print_json_sorted, wait_for};
use crate::Failure;
use crate::report::{figure, print_table};

#[derive(Args)]
pub struct DriftArgs {
    project: String,
    #[arg(long)]
    model: String,
    /// The reference dataset (training or test data, last quarter's).
    #[arg(long)]
    reference: String,
    /// The current dataset (production data).
    #[arg(long)]
    dataset: String,
    /// Background dataset of the contributors' influences (default: 100 rows of the
    /// reference).
    #[arg(long)]
    background: Option<String>,
    /// Contributors' influences: interventional (TreeSHAP, the default for trees) or sampled
    /// (any model).
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Rows of each dataset whose influences give the contributors (default 1000).
    #[arg(long)]
    contributor_rows: Option<u64>,
    /// Drifted at a population stability index at or above this (default 0.2).
    #[arg(long)]
    psi: Option<f64>,
    /// Drifted at a Jensen–Shannon distance at or above this (default: not used).
    #[arg(long)]
    jensen_shannon: Option<f64>,
    /// Drifted at a KS or χ² p-value below this (default: not used).
    #[arg(long)]
    pvalue: Option<f64>,
    /// Drifted at a change of the missing share at or above this (default 0.05).
    #[arg(long)]
    missing: Option<f64>,
    /// Drifted at a share of new categories or out-of-range values at or above this (default
    /// 0.01).
    #[arg(long)]
    new_values: Option<f64>,
    /// Only the first N rows of each dataset.
    #[arg(long)]
    rows: Option<u64>,
    /// Analyzer memory limit in MiB.
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Analyzers sharing the job: one scores both datasets, the others sketch a share of the
    /// features each (default: one, or as the launcher sizes it).
    #[arg(long)]
    shards: Option<u32>,
    /// Contributors shown (the JSON has every one).
    #[arg(long, default_value_t = 10)]
    top: usize,
}

pub fn drift(client: &Client, json_out: bool, args: DriftArgs) -> Result<(), Failure> {
    let request = CreateJob {
        kind: JobKind::Drift,
        model: args.model.clone(),
        dataset: args.dataset.clone(),
        background: args.background.clone(),
        reference: Some(args.reference.clone()),
        options: JobOptions {
            method: args.method.map(MethodArg::method),
            rows: args.rows,
            contributor_rows: args.contributor_rows,
            ..JobOptions::default()
        },
        memory_mib: args.memory_mib,
        shards: args.shards,
    };
    let job = client.submit_job(&args.project, &request)?;
    let job = if job.state.is_terminal() || json_out {
        client.follow(job.id, |_| {})?
    } else {
        wait_for(client, job.id, "drift")?
    };
    if job.state != JobState::Succeeded {
        return Err(Failure::Check(anyhow!(
            "drift job {} {}: {}",
            job.id,
            job.state.as_str(),
            job.reason.unwrap_or_default()
        )));
    }
    let query = DriftQuery {
        dataset: args.dataset,
        reference: args.reference,
        job: Some(job.id),
        psi: args.psi,
        jensen_shannon: args.jensen_shannon,
        pvalue: args.pvalue,
        missing: args.missing,
        new_values: args.new_values,
    };
    let report = client.drift(&args.project, &args.model, &query)?;
    if json_out {
        print_json_sorted(&report)?;
    } else {
        print_drift(&report, args.top);
    }
    Ok(())
}

fn print_drift(r: &DriftReport, top: usize) {
    println!(
        "drift of model {} from {} ({} rows) to {} ({} rows): {} of {} features drifted (psi ≥ {})",
        r.model,
        r.reference,
        r.rows_reference,
        r.dataset,
        r.rows_current,
        r.drifted,
        r.features.len(),
        r.thresholds.psi
    );
    let rows: Vec<Vec<String>> = r
        .features
        .iter()
        .chain(r.score.outputs.iter())
        .map(|f| {
            vec![
                f.feature.clone(),
                figure(f.psi),
                figure(f.ks),
                pvalue(f.ks_pvalue.or(f.chi2_pvalue)),
                figure(f.wasserstein),
                figure(f.jensen_shannon),
                format!("{:.3} → {:.3}", f.missing_reference, f.missing_current),
                if f.drifted { "DRIFT" } else { "" }.into(),
                f.problem.clone().unwrap_or_else(|| f.reasons.join("; ")),
            ]
        })
        .collect();
    print_table(
        &[
            "FEATURE",
            "PSI",
            "KS",
            "P-VALUE",
            "WASSERSTEIN",
            "JS",
            "MISSING",
            "VERDICT",
            "WHY",
        ],
        &rows,
    );
    for (k, (a, b)) in r
        .score
        .mean_reference
        .iter()
        .zip(&r.score.mean_current)
        .enumerate()
    {
        println!("mean score (output {k}): {a:.6} → {b:.6}");
    }
    for m in &r.score.metric_changes {
        println!(
            "{}: {} → {} ({})",
            m.metric,
            figure(m.reference),
            figure(m.current),
            figure(m.change)
        );
    }
    if let Some(a) = &r.attribution {
        println!(
            "contributors to the change of the mean margin over {} reference and {} current rows ({}, against {} background rows of {}):",
            a.rows_reference,
            a.rows_current,
            a.method.as_str(),
            a.background_rows,
            a.background.as_deref().unwrap_or("the reference"),
        );
        for (k, change) in a.change.iter().enumerate() {
            let rows: Vec<Vec<String>> = r
                .contributors
                .iter()
                .filter(|c| c.output as usize == k)
                .take(top)
                .map(|c| {
                    vec![
                        c.feature.clone(),
                        format!("{:+.6}", c.contribution),
                        c.share
                            .map_or("-".into(), |s| format!("{:.1} %", 100.0 * s)),
                    ]
                })
                .collect();
            println!("output {k}: mean margin changed by {change:+.6}");
            print_table(&["FEATURE", "CONTRIBUTION", "SHARE"], &rows);
        }
    }
}

/// A p-value: six decimals, or two significant digits in e-notation once
/// six decimals would print it as zero.
fn pvalue(p: Option<f64>) -> String {
    match p {
        Some(p) if p.is_finite() && p > 0.0 && p < 1e-4 => format!("{p:.2e}"),
        p => figure(p),
    }
}

#[cfg(test)]
mod tests {
    use super::pvalue;

    #[test]
    fn a_tiny_p_value_is_printed_in_e_notation_not_as_zero() {
        assert_eq!(pvalue(Some(3.2e-34)), "3.20e-34");
        assert_eq!(pvalue(Some(0.0412)), "0.041200");
        assert_eq!(pvalue(Some(0.0)), "0");
        assert_eq!(pvalue(None), "-");
    }
}

//! Contributors to instability: the rows kept of each dataset explained against one background,
//! and each feature's mean influence on the current rows minus on the reference rows.

use sextant_algo::drift::Reservoir;
use sextant_algo::{Explainer, Interventional, ModelPredictor, Sampled};
use sextant_api::{Attribution, Contributor, InfluenceMethod};
use sextant_model::Rows;

use crate::kinds::influences::compute::{background, sampling_options};
use crate::part::PartInput;
use crate::{AnalyzerError, AnalyzerResult};

/// Rows explained at a time.
const EXPLAIN_ROWS: usize = 256;

/// Each sampled row's influences against one background, averaged per side: the contributions
/// are the differences of the means, and add up to the change of the mean margin.
pub(super) fn contributors(
    input: &PartInput,
    predictor: &ModelPredictor,
    reference: &Reservoir,
    current: &Reservoir,
) -> AnalyzerResult<(Vec<Contributor>, Attribution)> {
    let model = input.model;
    let options = &input.task.spec.options;
    let (nf, n_out) = (model.n_features(), model.n_outputs());
    let given = background(input)?;
    let background_rows: &[f64] = match &given {
        Some(b) => &b.values,
        None => {
            let take = reference
                .len()
                .min(sextant_api::DEFAULT_DRIFT_BACKGROUND_ROWS);
            &reference.rows()[..take * nf]
        }
    };
    let background = Rows::new(background_rows, nf);
    let method = options.method.unwrap_or(InfluenceMethod::Interventional);
    let explainer = match method {
        InfluenceMethod::Sampled => Explainer::Sampled(
            Sampled::new(predictor, background, sampling_options(options)).map_err(|e| {
                AnalyzerError::input(format!("the model failed on the background rows: {e}"))
            })?,
        ),
        _ => Explainer::Interventional(Interventional::new(
            model.trees().ok_or_else(|| {
                AnalyzerError::input("interventional contributors need a tree ensemble")
            })?,
            background,
        )),
    };
    // Per side: the mean influence of each feature on each output, and the mean margin.
    let means = |sample: &Reservoir, first_row: u64| -> AnalyzerResult<(Vec<f64>, Vec<f64>)> {
        let rows = sample.rows();
        let n = sample.len();
        let mut phi_sums = vec![0.0; n_out * nf];
        let mut margin_sums = vec![0.0; n_out];
        for (c, chunk) in rows.chunks(EXPLAIN_ROWS * nf).enumerate() {
            let m = chunk.len() / nf;
            let mut phi = vec![0.0; m * n_out * (nf + 1)];
            let mut stderr = vec![
                0.0;
                if explainer.has_stderr() {
                    m * n_out * nf
                } else {
                    0
                }
            ];
            let mut margins = vec![0.0; m * n_out];
            let block = Rows::new(chunk, nf);
            let model_failed = |e: String| AnalyzerError::input(format!("the model failed: {e}"));
            explainer
                .explain(
                    block,
                    first_row + (c * EXPLAIN_ROWS) as u64,
                    &mut phi,
                    &mut stderr,
                )
                .map_err(model_failed)?;
            predictor
                .predict_margins(block, &mut margins)
                .map_err(model_failed)?;
            for r in 0..m {
                for k in 0..n_out {
                    let values = &phi[(r * n_out + k) * (nf + 1)..][..nf];
                    for (j, v) in values.iter().enumerate() {
                        phi_sums[k * nf + j] += v;
                    }
                    margin_sums[k] += margins[r * n_out + k];
                }
            }
        }
        let n = n.max(1) as f64;
        Ok((
            phi_sums.into_iter().map(|s| s / n).collect(),
            margin_sums.into_iter().map(|s| s / n).collect(),
        ))
    };
    let (phi_reference, margin_reference) = means(reference, 0)?;
    let (phi_current, margin_current) = means(current, 1 << 40)?;
    let change: Vec<f64> = (0..n_out)
        .map(|k| margin_current[k] - margin_reference[k])
        .collect();
    let mut contributors = Vec::with_capacity(n_out * nf);
    let mut residual = 0f64;
    for k in 0..n_out {
        let mut sum = 0.0;
        for (j, feature) in model.features().iter().enumerate() {
            let contribution = phi_current[k * nf + j] - phi_reference[k * nf + j];
            sum += contribution;
            contributors.push(Contributor {
                feature: feature.name.clone(),
                output: k as u32,
                contribution,
                share: (change[k] != 0.0).then(|| contribution / change[k]),
            });
        }
        residual = residual.max((sum - change[k]).abs());
    }
    contributors.sort_by(|a, b| {
        a.output
            .cmp(&b.output)
            .then(b.contribution.abs().total_cmp(&a.contribution.abs()))
    });
    let attribution = Attribution {
        method,
        background: input.task.spec.background().map(|b| b.name.clone()),
        background_rows: (background_rows.len() / nf.max(1)) as u64,
        rows_reference: reference.len() as u64,
        rows_current: current.len() as u64,
        mean_margin_reference: margin_reference,
        mean_margin_current: margin_current,
        change,
        residual,
    };
    Ok((contributors, attribution))
}

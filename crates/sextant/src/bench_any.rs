//! `sextant bench` on ONNX workloads (a folder with `model.onnx`): prediction against
//! onnxruntime; for a tree ensemble, interventional TreeSHAP against shap's `TreeExplainer` on
//! the original scikit-learn model; for a graph, sampled Shapley against shap's
//! `PermutationExplainer` and `KernelExplainer`, each with its mean error against the workload's
//! reference values, and our sampling's error against exact values on a small graph.

use std::path::Path;

use anyhow::anyhow;
use sextant_algo::{
    DEFAULT_EXACT_MAX_FEATURES, Interventional, ModelPredictor, Sampled, SampledOptions,
};
use sextant_data::read_table;
use sextant_model::{Feature, FeatureKind, Model, Rows};

use crate::Failure;
use crate::bench::{BenchArgs, Figure, first_present, median_time, print_report, run_peers};

/// A small graph (6 features) with its rows and background, carried inside the binary: the
/// sampled values' error against exact enumeration is measured on it.
const SMALL_MODEL: &[u8] = include_bytes!("../../../tests/data/onnx/mlp_regression.onnx");
const SMALL_ROWS: &str = include_str!("../../../tests/data/onnx/rows.csv");
const SMALL_BACKGROUND: &str = include_str!("../../../tests/data/onnx/background.csv");

/// Sampling budgets measured (model evaluations per row); the first is the CLI's default.
const BUDGETS: [u64; 4] = [100_000, 20_000, 10_000, 5_000];

pub fn bench_onnx(folder: &Path, name: &str, args: &BenchArgs) -> Result<(), Failure> {
    let model = crate::load_model(&folder.join("model.onnx"))?;
    let explain = read_table(
        &first_present(folder, &["explain.parquet", "explain.csv"])?,
        model.features(),
        None,
    )?;
    let background = read_table(
        &first_present(folder, &["background.parquet", "background.csv"])?,
        model.features(),
        None,
    )?;
    let m = model.n_features();
    let all = Rows::new(&explain.values, m);
    let background = Rows::new(&background.values, m);
    let threads = rayon::current_num_threads();
    let np = args.predict_rows.unwrap_or(all.n_rows()).min(all.n_rows());
    let ni = args.interventional_rows.min(all.n_rows());
    let ns = args.sampled_rows.min(all.n_rows());
    println!(
        "\n## {name}: ONNX {}, {m} features, {} outputs; {threads} threads, median of {} runs after a warm-up",
        match model.tree_shape() {
            Some(t) => format!(
                "{} trees, {} leaves, max depth {}",
                t.trees, t.leaves, t.max_depth
            ),
            None => "graph (tract)".into(),
        },
        model.n_outputs(),
        args.runs
    );

    let mut ours = Vec::new();
    let predictor = ModelPredictor::new(&model);
    let mut out = vec![0.0; np * model.n_outputs()];
    let mut predict_all = || {
        predictor
            .predict_margins(all.slice(0, np), &mut out)
            .expect("the model ran at import");
        let link = model.link();
        out.chunks_mut(model.n_outputs())
            .for_each(|o| link.apply(o));
    };
    let once = median_time(1, &mut predict_all);
    let repeat = ((0.25 / once.max(1e-6)).ceil() as usize).clamp(1, 1000);
    let t = median_time(args.runs, || (0..repeat).for_each(|_| predict_all()));
    ours.push(Figure {
        method: format!(
            "sextant predict ({})",
            if model.trees().is_some() {
                "our trees"
            } else {
                "tract"
            }
        ),
        kind: "predict",
        rows: np * repeat,
        median_s: t,
        note: String::new(),
    });

    let saved = std::env::temp_dir().join(format!(
        "sextant-bench-interventional-{}.csv",
        std::process::id()
    ));
    let mut our_interventional = Vec::new();
    match model.trees() {
        Some(forest) => {
            let explainer = Interventional::new(forest, background);
            our_interventional = vec![0.0; ni * forest.n_outputs() * (m + 1)];
            let t = median_time(args.runs, || {
                explainer.explain(all.slice(0, ni), &mut our_interventional)
            });
            ours.push(Figure {
                method: "sextant interventional".into(),
                kind: "interventional",
                rows: ni,
                median_s: t,
                note: format!("{}-row background", background.n_rows()),
            });
        }
        None => {
            let reference = references(folder, &model)?;
            for budget in BUDGETS {
                ours.push(sampled_figure(
                    &predictor,
                    background,
                    all.slice(0, ns),
                    budget,
                    &reference,
                    args.runs,
                )?);
            }
            for line in exact_check()? {
                println!("{line}");
            }
        }
    }

    let peers = if args.no_peers {
        Vec::new()
    } else {
        let peers = run_peers(
            folder,
            args,
            &[ns, ni, np, repeat, threads],
            model.trees().map(|_| saved.as_path()),
        );
        if model.trees().is_some() {
            println!("{}", agreement(&saved, &our_interventional, m));
            let _ = std::fs::remove_file(&saved);
        }
        peers
    };
    print_report(&ours, &peers);
    Ok(())
}

/// The workload's reference values (`shap.csv`, then `shap_permutation.csv`): per file, its
/// name and rows of `features + 1` values (the last the base value).
fn references(folder: &Path, model: &Model) -> Result<Vec<(String, Vec<f64>)>, Failure> {
    let mut columns: Vec<Feature> = model.features().to_vec();
    columns.push(Feature {
        name: "bias".into(),
        kind: FeatureKind::Numeric,
    });
    let mut found = Vec::new();
    for file in ["shap.csv", "shap_permutation.csv"] {
        let path = folder.join(file);
        if path.exists() {
            found.push((file.to_string(), read_table(&path, &columns, None)?.values));
        }
    }
    Ok(found)
}

/// Sampled Shapley on `rows` within `budget` model evaluations a row: its speed, and its mean
/// |Δ| against each reference.
fn sampled_figure(
    predictor: &ModelPredictor<'_>,
    background: Rows<'_>,
    rows: Rows<'_>,
    budget: u64,
    references: &[(String, Vec<f64>)],
    runs: usize,
) -> Result<Figure, Failure> {
    let sampler = Sampled::new(predictor, background, options(budget, 0))
        .map_err(|e| anyhow!("the model failed on the background: {e}"))?;
    let (n, m, k) = (rows.n_rows(), rows.n_features(), predictor.n_outputs());
    let mut phi = vec![0.0; n * k * (m + 1)];
    let mut stderr = vec![0.0; n * k * m];
    let mut stats = Default::default();
    let t = median_time(runs, || {
        stats = sampler
            .explain(rows, 0, &mut phi, &mut stderr)
            .expect("the model ran on the background");
    });
    let mut note = format!(
        "max_evals {budget}, target_stderr 0.001: {:.0} model rows per explained row; mean standard error {:.1e}",
        stats.evals as f64 / n as f64,
        stderr.iter().sum::<f64>() / stderr.len().max(1) as f64
    );
    for (file, values) in references {
        let width = m + 1;
        let compared = (values.len() / width).min(n);
        let error: f64 = (0..compared)
            .flat_map(|r| (0..m).map(move |j| (r, j)))
            .map(|(r, j)| (phi[r * width + j] - values[r * width + j]).abs())
            .sum::<f64>()
            / (compared * m).max(1) as f64;
        note += &format!("; mean |Δ| vs {file} {error:.2e}");
    }
    Ok(Figure {
        method: format!("sextant sampled ({budget} evals)"),
        kind: "sampled",
        rows: n,
        median_s: t,
        note,
    })
}

fn options(max_evals: u64, exact_max_features: usize) -> SampledOptions {
    SampledOptions {
        target_stderr: 1e-3,
        max_evals,
        seed: 0,
        exact_max_features,
    }
}

/// Sampling against exact enumeration on the embedded 6-feature graph: the mean |error| and the
/// share of values within 4 standard errors, per budget.
fn exact_check() -> Result<Vec<String>, Failure> {
    let model = sextant_import::parse_model(SMALL_MODEL, None)?;
    let parse = |text: &str| -> Vec<f64> {
        text.lines()
            .skip(1)
            .flat_map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap_or(f64::NAN)))
            .collect()
    };
    let (rows, background) = (parse(SMALL_ROWS), parse(SMALL_BACKGROUND));
    let m = model.n_features();
    let rows = Rows::new(&rows[..50 * m], m);
    let background = Rows::new(&background, m);
    let predictor = ModelPredictor::new(&model);
    let exact = Sampled::new(
        &predictor,
        background,
        options(u64::MAX, DEFAULT_EXACT_MAX_FEATURES),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let mut truth = vec![0.0; 50 * (m + 1)];
    let mut zeros = vec![0.0; 50 * m];
    exact
        .explain(rows, 0, &mut truth, &mut zeros)
        .map_err(|e| anyhow!("{e}"))?;
    let mut lines = vec![format!(
        "sampled against exact values (tests/data/onnx/mlp_regression.onnx, {m} features, {} background rows, 50 rows):",
        background.n_rows()
    )];
    for budget in [5_000u64, 1_000, 250] {
        let sampler =
            Sampled::new(&predictor, background, options(budget, 0)).map_err(|e| anyhow!("{e}"))?;
        let mut phi = vec![0.0; truth.len()];
        let mut se = vec![0.0; zeros.len()];
        sampler
            .explain(rows, 0, &mut phi, &mut se)
            .map_err(|e| anyhow!("{e}"))?;
        let (mut error, mut within) = (0.0, 0);
        for r in 0..50 {
            for j in 0..m {
                let d = (phi[r * (m + 1) + j] - truth[r * (m + 1) + j]).abs();
                error += d;
                within += usize::from(d <= 4.0 * se[r * m + j] + 1e-12);
            }
        }
        lines.push(format!(
            "- max_evals {budget}: mean |Δ| {:.2e}, mean standard error {:.2e}, {:.1} % within 4 standard errors",
            error / (50 * m) as f64,
            se.iter().sum::<f64>() / se.len() as f64,
            100.0 * within as f64 / (50 * m) as f64
        ));
    }
    Ok(lines)
}

/// Our interventional values against the ones shap's TreeExplainer wrote to `saved`.
fn agreement(saved: &Path, ours: &[f64], m: usize) -> String {
    let Ok(text) = std::fs::read_to_string(saved) else {
        return "shap's interventional values were not saved: no agreement check".into();
    };
    let theirs: Vec<f64> = text
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').map(|c| c.parse::<f64>().unwrap_or(f64::NAN)))
        .collect();
    let rows = theirs.len() / m;
    let worst = (0..rows)
        .flat_map(|r| (0..m).map(move |j| (r, j)))
        .filter(|&(r, _)| (r + 1) * (m + 1) <= ours.len())
        .map(|(r, j)| (ours[r * (m + 1) + j] - theirs[r * m + j]).abs())
        .fold(0.0f64, f64::max);
    format!(
        "interventional TreeSHAP on the ONNX forest against shap's TreeExplainer on the scikit-learn forest, {rows} rows: max |Δ| {worst:.1e}"
    )
}

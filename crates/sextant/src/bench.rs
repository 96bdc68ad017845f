//! `sextant bench`: our figures beside the established tools', measured in the same run on the
//! same rows with the same number of threads. A benchmark, not a test: it asserts no time.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::anyhow;
use clap::Args;
use sextant_algo::{Interventional, PathDependent, Predictor, explanation_len};
use sextant_data::read_table;
use sextant_model::{Feature, FeatureKind, Forest, Rows};

use crate::Failure;

/// The peer script, carried inside the binary so `sextant bench` works from any directory.
const PEERS_SCRIPT: &str = include_str!("../../../tools/bench_peers.py");

#[derive(Args)]
pub struct BenchArgs {
    /// Workload folders (model.json or model.txt, explain.parquet or .csv, background.parquet or
    /// .csv, optionally shap.csv), e.g. ../shared/bench-data/xgb_cls; repeat for several.
    #[arg(long, required = true)]
    workload: Vec<PathBuf>,
    /// Rows explained by path-dependent TreeSHAP (ours and each peer).
    #[arg(long, default_value_t = 1000)]
    rows: usize,
    /// Rows explained by interventional TreeSHAP (against the workload's background rows).
    #[arg(long, default_value_t = 100)]
    pub(crate) interventional_rows: usize,
    /// Rows predicted (default: every explain row).
    #[arg(long)]
    pub(crate) predict_rows: Option<usize>,
    /// Timed runs after one warm-up; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub(crate) runs: usize,
    /// The Python that has the peers (xgboost, lightgbm, shap, fasttreeshap); default: python3.
    #[arg(long, env = "SEXTANT_BENCH_PYTHON")]
    python: Option<PathBuf>,
    /// Rows explained by sampled Shapley on a graph (ours and shap's explainers; the workload's
    /// reference values cover the first 50).
    #[arg(long, default_value_t = 50)]
    pub(crate) sampled_rows: usize,
    /// Measure only Sextant.
    #[arg(long)]
    pub(crate) no_peers: bool,
}

/// One line of the report.
pub(crate) struct Figure {
    pub method: String,
    pub kind: &'static str,
    pub rows: usize,
    pub median_s: f64,
    pub note: String,
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    println!("{}", machine_line());
    for folder in &args.workload {
        bench_workload(folder, &args)?;
    }
    Ok(())
}

fn bench_workload(folder: &Path, args: &BenchArgs) -> Result<(), Failure> {
    let name = folder.file_name().map_or_else(
        || folder.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if folder.join("model.onnx").exists() {
        return crate::bench_any::bench_onnx(folder, &name, args);
    }
    let model_path = ["model.json", "model.txt"]
        .iter()
        .map(|f| folder.join(f))
        .find(|p| p.exists());
    let model_path =
        model_path.ok_or_else(|| anyhow!("{}: no model.json or model.txt", folder.display()))?;
    let model = crate::load_model(&model_path)?;
    let forest = crate::tree_ensemble(&model, &model_path)?;
    let explain = read_table(
        &first_present(folder, &["explain.parquet", "explain.csv"])?,
        forest.features(),
        None,
    )?;
    let background = read_table(
        &first_present(folder, &["background.parquet", "background.csv"])?,
        forest.features(),
        None,
    )?;
    let m = forest.n_features();
    let all = Rows::new(&explain.values, m);
    let (n, ni) = (
        args.rows.min(all.n_rows()),
        args.interventional_rows.min(all.n_rows()),
    );
    let np = args.predict_rows.unwrap_or(all.n_rows()).min(all.n_rows());
    let threads = rayon::current_num_threads();
    println!(
        "\n## {name}: {} trees, {} leaves, max depth {}, {m} features, {} outputs; {threads} threads, median of {} runs after a warm-up",
        forest.trees().len(),
        forest.leaf_count(),
        forest.max_depth(),
        forest.n_outputs(),
        args.runs
    );

    let mut ours = Vec::new();
    let mut out = vec![0.0; np * forest.n_outputs()];
    // Like an analyzer: the compact layout is built once per model, outside the timing. One
    // pass over the rows takes milliseconds, so each timed run repeats it (and so do the peers)
    // until it lasts a quarter of a second, which keeps scheduler noise out of the median.
    let predictor = Predictor::new(forest);
    let mut predict_all = || {
        predictor.predict_margins(all.slice(0, np), &mut out);
        let link = forest.link();
        out.chunks_mut(forest.n_outputs())
            .for_each(|o| link.apply(o));
    };
    let once = median_time(1, &mut predict_all);
    let repeat = ((0.25 / once.max(1e-6)).ceil() as usize).clamp(1, 1000);
    let t = median_time(args.runs, || (0..repeat).for_each(|_| predict_all()));
    ours.push(Figure {
        method: "sextant predict".into(),
        kind: "predict",
        rows: np * repeat,
        median_s: t,
        note: String::new(),
    });

    let started = Instant::now();
    let explainer = PathDependent::new(forest);
    let prepare = started.elapsed().as_secs_f64();
    let strategy = explainer.strategy();
    let mut phi = vec![0.0; explanation_len(forest, n)];
    let t = median_time(args.runs, || explainer.explain(all.slice(0, n), &mut phi));
    let check = compare_with_reference(folder, forest, &phi, n)?;
    let note = format!(
        "{} leaves tabulated (O(d)), {} by classic extend/unwind (O(d²)); tables {:.1} MiB, prepared once in {:.2} s; {check}",
        strategy.table_leaves,
        strategy.path_leaves,
        strategy.table_bytes as f64 / (1 << 20) as f64,
        prepare
    );
    ours.push(Figure {
        method: "sextant path-dependent".into(),
        kind: "shap",
        rows: n,
        median_s: t,
        note,
    });

    let interventional = Interventional::new(forest, Rows::new(&background.values, m));
    let mut phi = vec![0.0; explanation_len(forest, ni)];
    let t = median_time(args.runs, || {
        interventional.explain(all.slice(0, ni), &mut phi)
    });
    let note = format!("{}-row background", background.n_rows);
    ours.push(Figure {
        method: "sextant interventional".into(),
        kind: "interventional",
        rows: ni,
        median_s: t,
        note,
    });

    let peers = if args.no_peers {
        Vec::new()
    } else {
        run_peers(folder, args, &[n, ni, np, repeat, threads], None)
    };
    print_report(&ours, &peers);
    Ok(())
}

/// The median wall time of `runs` calls after one warm-up call.
pub(crate) fn median_time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The first of `names` present in `folder`.
pub(crate) fn first_present(folder: &Path, names: &[&str]) -> anyhow::Result<PathBuf> {
    names
        .iter()
        .map(|n| folder.join(n))
        .find(|p| p.exists())
        .ok_or_else(|| {
            anyhow!(
                "{}: none of {} is there",
                folder.display(),
                names.join(", ")
            )
        })
}

/// Our first rows against the library's own SHAP values (`shap.csv`, margin space).
fn compare_with_reference(
    folder: &Path,
    forest: &Forest,
    phi: &[f64],
    n: usize,
) -> Result<String, Failure> {
    let Ok(path) = first_present(folder, &["shap.csv", "shap_head.csv"]) else {
        return Ok("no reference to compare".into());
    };
    if forest.n_outputs() != 1 {
        return Ok("no reference to compare".into());
    }
    let mut columns: Vec<Feature> = forest
        .features()
        .iter()
        .map(|f| Feature {
            name: f.name.clone(),
            kind: FeatureKind::Numeric,
        })
        .collect();
    columns.push(Feature {
        name: "bias".into(),
        kind: FeatureKind::Numeric,
    });
    let reference = read_table(&path, &columns, None)?;
    let width = forest.n_features() + 1;
    let rows = reference.n_rows.min(n);
    let (mut worst, mut over) = (0.0f64, 0);
    for r in 0..rows {
        let expected = &reference.values[r * width..(r + 1) * width];
        let tolerance = 1e-5 + 4e-6 * expected.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let diff = (0..width)
            .map(|j| (phi[r * width + j] - expected[j]).abs())
            .fold(0.0f64, f64::max);
        worst = worst.max(diff);
        over += usize::from(diff > tolerance);
    }
    Ok(format!(
        "first {rows} rows vs the library's SHAP: max |Δ| {worst:.1e}, {over} rows over tolerance"
    ))
}

/// Runs the peer script on `folder` with our counts (`[rows, interventional rows, predicted rows,
/// predictions per timed run, threads]`); `save_interventional` asks it to write its
/// interventional values there, for comparison with ours.
pub(crate) fn run_peers(
    folder: &Path,
    args: &BenchArgs,
    counts: &[usize; 5],
    save_interventional: Option<&Path>,
) -> Vec<Result<Figure, String>> {
    let [n, ni, np, repeat, threads] = *counts;
    let python = args
        .python
        .clone()
        .unwrap_or_else(|| PathBuf::from("python3"));
    let script =
        std::env::temp_dir().join(format!("sextant-bench-peers-{}.py", std::process::id()));
    if let Err(e) =
        std::fs::File::create(&script).and_then(|mut f| f.write_all(PEERS_SCRIPT.as_bytes()))
    {
        return vec![Err(format!("cannot write the peer script: {e}"))];
    }
    eprintln!(
        "running the peers with {} (this takes a while)…",
        python.display()
    );
    let output = Command::new(&python)
        .arg(&script)
        .args(["--workload", &folder.display().to_string()])
        .args([
            "--rows",
            &n.to_string(),
            "--interventional-rows",
            &ni.to_string(),
            "--predict-rows",
            &np.to_string(),
            "--predict-repeat",
            &repeat.to_string(),
        ])
        .args([
            "--threads",
            &threads.to_string(),
            "--runs",
            &args.runs.to_string(),
        ])
        .args(["--sampled-rows", &args.sampled_rows.to_string()])
        .args(
            save_interventional
                .map(|p| vec!["--save-interventional".to_string(), p.display().to_string()])
                .unwrap_or_default(),
        )
        .env("OMP_NUM_THREADS", threads.to_string())
        .output();
    let _ = std::fs::remove_file(&script);
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            return vec![Err(format!(
                "peers not measured: cannot run {}: {e}",
                python.display()
            ))];
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return vec![Err(format!(
            "peers not measured ({} failed: {last}); pass --python with xgboost, lightgbm, shap installed",
            python.display()
        ))];
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(parse_peer_line)
        .collect()
}

fn parse_peer_line(line: &str) -> Option<Result<Figure, String>> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let method = v["method"].as_str()?.to_string();
    if let Some(e) = v["error"].as_str() {
        return Some(Err(format!("{method}: {e}")));
    }
    let kind = match v["kind"].as_str()? {
        "predict" => "predict",
        "shap" => "shap",
        "sampled" => "sampled",
        _ => "interventional",
    };
    let mut note = v["note"].as_str().unwrap_or("").to_string();
    if let Some(d) = v["max_abs_diff"].as_f64() {
        note = format!(
            "{}max |Δ| vs reference {d:.1e}",
            if note.is_empty() {
                String::new()
            } else {
                format!("{note}; ")
            }
        );
    }
    Some(Ok(Figure {
        method,
        kind,
        rows: v["rows"].as_u64()? as usize,
        median_s: v["median_s"].as_f64()?,
        note,
    }))
}

/// The report: per kind, our figures (the first is what the ratios divide), then the peers'.
pub(crate) fn print_report(ours: &[Figure], peers: &[Result<Figure, String>]) {
    println!("| method | kind | rows | median s | rows/s | sextant ÷ this | note |");
    println!("|---|---|---:|---:|---:|---:|---|");
    for kind in ["shap", "interventional", "sampled", "predict"] {
        let Some(mine) = ours.iter().find(|f| f.kind == kind) else {
            continue;
        };
        let mine_rate = mine.rows as f64 / mine.median_s;
        for f in ours.iter().filter(|f| f.kind == kind) {
            println!(
                "| **{}** | {kind} | {} | {:.4} | **{}** | | {} |",
                f.method,
                f.rows,
                f.median_s,
                rate(f.rows as f64 / f.median_s),
                f.note
            );
        }
        for peer in peers.iter().flatten().filter(|p| p.kind == kind) {
            let peer_rate = peer.rows as f64 / peer.median_s;
            println!(
                "| {} | {kind} | {} | {:.4} | {} | **{:.1}×** | {} |",
                peer.method,
                peer.rows,
                peer.median_s,
                rate(peer_rate),
                mine_rate / peer_rate,
                peer.note
            );
        }
    }
    for e in peers.iter().filter_map(|p| p.as_ref().err()) {
        println!("- {e}");
    }
}

fn rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Cores and CPU model, for the report's machine line.
fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "machine: {cores} cores, {cpu}; sextant {}",
        env!("CARGO_PKG_VERSION")
    )
}

//! `sextant bench-isolation`: do analyzers starve the services? Latency of a results query
//! against an idle server, then again while `max_concurrent_analyzers` analyzers compute
//! influences; both printed with their ratio. Also the server's idle memory and the time from
//! job submission to result. A benchmark: it asserts nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use clap::Args;
use sextant_api::{
    CreateJob, CreateProject, InfluenceMethod, Job, JobKind, JobOptions, JobState, ProjectSchema,
    ResultQuery, ScoreType, Task,
};
use sextant_client::{Client, DatasetUpload, ModelUpload};

use crate::Failure;
use crate::schema_inference::infer_features;

#[derive(Args)]
pub struct IsolationArgs {
    /// A workload folder with model.json (or model.txt), explain.parquet and background.parquet,
    /// e.g. ../shared/bench-data/xgb_cls.
    #[arg(long)]
    workload: PathBuf,
    /// Queries timed in each phase.
    #[arg(long, default_value_t = 400)]
    queries: usize,
    /// Rows per queried page.
    #[arg(long, default_value_t = 100)]
    page_rows: u64,
    /// Analyzers at once (default: cores − 1, at least 1, as `sextant serve` would choose).
    #[arg(long)]
    analyzers: Option<usize>,
    /// Where the benchmark's server keeps its data (default: a fresh temporary directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

struct ServerChild(Child);

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn find(folder: &Path, names: &[&str]) -> anyhow::Result<PathBuf> {
    names
        .iter()
        .map(|n| folder.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("{}: none of {} found", folder.display(), names.join(", ")))
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// p50 and p99 of latencies in milliseconds.
fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

fn time_queries(client: &Client, n: usize, rows_total: u64, page: u64) -> anyhow::Result<Vec<f64>> {
    let mut ms = Vec::with_capacity(n);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..n {
        // A cheap deterministic spread of offsets over the table.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let offset = state % rows_total.saturating_sub(page).max(1);
        let start = Instant::now();
        let query = ResultQuery {
            dataset: "explain".into(),
            method: Some(InfluenceMethod::PathDependent),
            offset: Some(offset),
            limit: Some(page),
            ..ResultQuery::default()
        };
        client.influences("bench", "model", &query)?;
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(ms)
}

/// An influences job of the benchmark's model on its rows.
fn influences_job() -> CreateJob {
    CreateJob {
        reference: None,
        kind: JobKind::Influences,
        model: "model".into(),
        dataset: "explain".into(),
        background: None,
        options: JobOptions::default(),
        memory_mib: None,
        shards: None,
    }
}

pub fn run(args: IsolationArgs) -> Result<(), Failure> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let analyzers = args.analyzers.unwrap_or(cores.saturating_sub(1).max(1));
    let model = find(&args.workload, &["model.json", "model.txt"])?;
    let explain = find(&args.workload, &["explain.parquet", "explain.csv"])?;
    let background = find(&args.workload, &["background.parquet", "background.csv"])?;
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("sextant-isolation-{}", std::process::id())),
    };
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(data_dir.join("server.log"))?;
    let server = ServerChild(
        Command::new(std::env::current_exe()?)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--max-concurrent-analyzers", &analyzers.to_string()])
            .env("SEXTANT_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .context("cannot start sextant serve")?,
    );
    let pid = server.0.id();
    let client = Client::new(&url);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client.ready() {
        if Instant::now() > deadline {
            return Err(anyhow!("the server did not become ready").into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // The fresh server's first admin: the benchmark's queries are authenticated, as users' are.
    let token_file = sextant_server::auth::bootstrap::token_path(&data_dir);
    let token = std::fs::read_to_string(&token_file)
        .with_context(|| format!("cannot read {}", token_file.display()))?;
    let client = client.with_token(token.trim());
    println!(
        "isolation benchmark: {} on {cores} cores, {analyzers} analyzer(s) at once, {} queries per phase",
        args.workload.display(),
        args.queries
    );
    let schema = ProjectSchema {
        features: infer_features(&explain, None, None)?,
        label: None,
        id: None,
        task: Task::Binary,
        score_type: ScoreType::Probability,
        classes: None,
    };
    client.create_project(&CreateProject {
        name: "bench".into(),
        schema,
    })?;
    let upload = ModelUpload {
        name: "model",
        format: None,
    };
    client.upload_model("bench", &upload, &model)?;
    for (name, file) in [("explain", &explain), ("background", &background)] {
        let upload = DatasetUpload { name, role: None };
        client.upload_dataset("bench", &upload, file)?;
    }

    // One job end to end: submission to stored result.
    let started = Instant::now();
    let job = client.submit_job("bench", &influences_job())?;
    let job = client.follow(job.id, |_| {})?;
    let to_result = started.elapsed().as_secs_f64();
    if job.state != JobState::Succeeded {
        return Err(anyhow!(
            "the influences job {}: {}",
            job.state.as_str(),
            job.reason.unwrap_or_default()
        )
        .into());
    }
    let rows_total = job.progress.rows_done;
    let to_start = job
        .running_at
        .map(|s| (s - job.created_at).num_milliseconds() as f64)
        .unwrap_or(f64::NAN);
    std::thread::sleep(Duration::from_secs(1));
    let idle_rss = rss_mib(pid);

    time_queries(&client, 20, rows_total, args.page_rows)?;
    let idle = time_queries(&client, args.queries, rows_total, args.page_rows)?;

    // The same queries while analyzers compute (interventional: the slowest, longest jobs).
    let load_jobs: Vec<Job> = (0..analyzers)
        .map(|i| {
            let job = CreateJob {
                background: Some("background".into()),
                options: JobOptions {
                    rows: Some(rows_total - i as u64),
                    ..JobOptions::default()
                },
                ..influences_job()
            };
            client.submit_job("bench", &job)
        })
        .collect::<Result<_, _>>()?;
    let running = |jobs: &[Job]| {
        jobs.iter()
            .filter(|j| client.job(j.id).is_ok_and(|j| j.state == JobState::Running))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if running(&load_jobs) == load_jobs.len() {
            break;
        }
        if Instant::now() > deadline {
            return Err(anyhow!("the load jobs did not all start within 60 s").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let loaded = time_queries(&client, args.queries, rows_total, args.page_rows)?;
    let still_running = running(&load_jobs);
    let loaded_rss = rss_mib(pid);
    for j in &load_jobs {
        let _ = client.cancel_job(j.id);
    }

    let (idle50, idle99) = percentiles(idle);
    let (load50, load99) = percentiles(loaded);
    println!("\n| phase | p50 ms | p99 ms |\n|---|---:|---:|");
    println!("| idle | {idle50:.2} | {idle99:.2} |");
    println!("| {analyzers} analyzer(s) computing | {load50:.2} | {load99:.2} |");
    println!(
        "\np99 under load / p99 idle = {:.2}× (goal ≤ 2×); p50 ratio {:.2}×",
        load99 / idle99,
        load50 / idle50
    );
    if still_running < load_jobs.len() {
        println!(
            "note: only {still_running} of {} analyzers were still computing when the last query ran",
            load_jobs.len()
        );
    }
    println!(
        "influences of {rows_total} rows (path-dependent): {to_result:.2} s from submission to stored result; {to_start:.0} ms from submission to the analyzer's first report"
    );
    println!("server RSS: {idle_rss:.1} MiB idle, {loaded_rss:.1} MiB while analyzers ran");
    println!("data and server log: {}", data_dir.display());
    Ok(())
}

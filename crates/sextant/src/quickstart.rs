//! `sextant quickstart`: a server on embedded defaults, a demo project made from the model and
//! data this binary carries, predictions and influences with live progress, the results, and the
//! server kept running until Ctrl-C.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use sextant_api::{
    CreateJob, CreateProject, DatasetRole, InfluenceMethod, Job, JobKind, JobOptions, JobState,
    ProjectSchema, ResultQuery, ScoreType, Task,
};
use sextant_client::{Client, ClientResult, DatasetUpload, ModelUpload};

use crate::Failure;
use crate::commands::wait_for;
use crate::report::{print_importance, print_metrics};
use crate::schema_inference::infer_features;
use crate::serve::{LogFormat, init_logging, load_config, shutdown_signal};

const DEMO_MODEL: &[u8] = include_bytes!("../../../demo/credit_model.json");
const DEMO_APPLICANTS: &[u8] = include_bytes!("../../../demo/applicants.csv");
const DEMO_BACKGROUND: &[u8] = include_bytes!("../../../demo/background.csv");
const PROJECT: &str = "credit-demo";
const MODEL: &str = "credit-xgb";

#[derive(Args)]
pub struct QuickstartArgs {
    /// Where the demo server keeps its data: `SEXTANT_DATA_DIR` if set (the container image
    /// sets `/data`), else `sextant-quickstart` in the current folder.
    #[arg(long, env = "SEXTANT_DATA_DIR", default_value = "sextant-quickstart")]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8640")]
    listen: String,
    /// Stop the server once the demo has run, instead of serving until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

pub fn run(args: QuickstartArgs) -> Result<(), Failure> {
    let config = load_config(
        None,
        &[
            (
                "SEXTANT_DATA_DIR",
                Some(args.data_dir.display().to_string()),
            ),
            ("SEXTANT_LISTEN", Some(args.listen.clone())),
        ],
    )?;
    // Quiet logs: the demo's own output is the point here; SEXTANT_LOG shows more.
    init_logging(LogFormat::Text, "warn");
    let data_dir = config.data_dir.clone();
    usable(&data_dir)?;
    sextant_server::housekeeping::limit_malloc_arenas();
    let runtime = tokio::runtime::Runtime::new()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(config.listen))
        .map_err(|e| {
            anyhow!(
                "cannot listen on {}: {e} (pick another with --listen)",
                config.listen
            )
        })?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(async move {
        let stop = async move {
            tokio::select! {
                _ = shutdown_signal() => {}
                _ = stop_rx => {}
            }
        };
        sextant_server::run(config, listener, stop).await
    });
    let client = Client::new(&url);
    // Ready, or stopped: then say why at once.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client.ready() {
        if server.is_finished() {
            let why = match runtime.block_on(server) {
                Ok(Err(e)) => e,
                Ok(Ok(())) => "it stopped".into(),
                Err(e) => e.to_string(),
            };
            return Err(Failure::Input(anyhow!("the server could not start: {why}")));
        }
        if Instant::now() > deadline {
            let _ = stop_tx.send(());
            return Err(Failure::Check(anyhow!(
                "the server at {url} did not become ready within 30 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "Sextant quickstart: serving at {url}, data in {}",
        data_dir.display()
    );
    let demo = sign_in(client, &data_dir, &url).and_then(|client| demo(&client, &data_dir, &url));
    if demo.is_ok() && !args.exit {
        println!("\nThe server keeps running; press Ctrl-C to stop it.");
        let outcome = runtime.block_on(server);
        return outcome
            .map_err(|e| Failure::Input(anyhow!(e)))?
            .map_err(|e| Failure::Input(anyhow!(e)));
    }
    let _ = stop_tx.send(());
    let _ = runtime.block_on(server);
    demo.map_err(Failure::Check)
}

/// Signs the quickstart in as the first admin (whose token the server wrote to the data folder
/// on its first start) and saves the token for the CLI, so that every `sextant` command on this
/// machine works against the demo server at once.
fn sign_in(client: Client, data_dir: &Path, url: &str) -> anyhow::Result<Client> {
    let path = sextant_server::auth::bootstrap::token_path(data_dir);
    let token = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Authentication off, or the file was removed: a token saved earlier may still do.
            let saved = crate::credentials::Credentials::load()?;
            let client = match saved.token_for(url) {
                Some(token) => client.with_token(token),
                None => client,
            };
            client.whoami().map_err(|e| {
                anyhow!(
                    "{} is gone and the server refuses the CLI's saved token ({e}): log in with `sextant login --server {url}`",
                    path.display()
                )
            })?;
            return Ok(client);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let client = client.with_token(token.clone());
    let me = client.whoami().map_err(|e| {
        anyhow!(
            "the server refuses the token in {} ({e}): was the data folder's metastore replaced?",
            path.display()
        )
    })?;
    let saved_in = crate::credentials::Credentials::load()?.save(
        url,
        crate::credentials::Saved {
            token,
            user: Some(me.user.name),
        },
    )?;
    println!(
        "signed in as admin (token in {}, saved for the CLI in {})",
        path.display(),
        saved_in.display()
    );
    Ok(client)
}

/// The file the first admin's GUI password is written to, in the data folder.
const PASSWORD_FILE: &str = "admin.password";

/// Gives the first admin a GUI password when they have none (made up, written to the data
/// folder readable by this user only) and returns the file; `None` when authentication is off.
fn gui_password(client: &Client, data_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let me = client.whoami()?;
    let path = data_dir.join(PASSWORD_FILE);
    if me.user.name != sextant_server::auth::bootstrap::ADMIN || !me.user.admin {
        return Ok(None);
    }
    if me.user.has_password {
        return Ok(path.exists().then_some(path));
    }
    let password = uuid::Uuid::new_v4().simple().to_string();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{password}").with_context(|| format!("cannot write {}", path.display()))?;
    client.update_user(
        &me.user.name,
        &sextant_api::UpdateUser {
            password: Some(password),
            ..Default::default()
        },
    )?;
    Ok(Some(path))
}

fn write_demo_files(dir: &Path) -> anyhow::Result<(PathBuf, PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let files = [
        ("credit_model.json", DEMO_MODEL),
        ("applicants.csv", DEMO_APPLICANTS),
        ("background.csv", DEMO_BACKGROUND),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes)?;
    }
    Ok((
        dir.join("credit_model.json"),
        dir.join("applicants.csv"),
        dir.join("background.csv"),
    ))
}

/// Creates something unless it exists (a rerun of the quickstart reuses what it made).
fn ensure<T>(result: ClientResult<T>) -> anyhow::Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(409) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A job of the demo model on the applicants.
fn demo_job(kind: JobKind) -> CreateJob {
    CreateJob {
        reference: None,
        kind,
        model: MODEL.into(),
        dataset: "applicants".into(),
        background: None,
        options: JobOptions::default(),
        memory_mib: None,
        shards: None,
    }
}

fn run_job(client: &Client, label: &str, request: CreateJob) -> anyhow::Result<Job> {
    let job = client.submit_job(PROJECT, &request)?;
    let started = Instant::now();
    let job = wait_for(client, job.id, label)?;
    if job.state != JobState::Succeeded {
        bail!(
            "the {label} job {}: {}",
            job.state.as_str(),
            job.reason.unwrap_or_default()
        );
    }
    println!(
        "{label:>12}: {} rows in {:.2} s{}",
        job.progress
            .rows_done
            .max(job.progress.rows_total.unwrap_or(0)),
        started.elapsed().as_secs_f64(),
        if job.cached {
            " (stored result reused)"
        } else {
            ""
        }
    );
    Ok(job)
}

/// Checks that the data folder can be made and written to, naming it and the fix if not.
fn usable(dir: &Path) -> Result<(), Failure> {
    let probe = dir.join(".sextant-write-check");
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| {
            Failure::Input(anyhow!(
                "cannot write the data folder {}: {e} (choose a writable one with --data-dir DIR)",
                dir.display()
            ))
        })
}

fn demo(client: &Client, data_dir: &Path, url: &str) -> anyhow::Result<()> {
    let (model, applicants, background) = write_demo_files(&data_dir.join("demo"))?;
    let schema = ProjectSchema {
        features: infer_features(&applicants, Some("defaulted"), Some("applicant_id"))?,
        label: Some("defaulted".into()),
        id: Some("applicant_id".into()),
        task: Task::Binary,
        score_type: ScoreType::Probability,
        classes: None,
    };
    println!(
        "\n1. project {PROJECT}: a credit-risk XGBoost model, 1,000 applicants, 100 background rows"
    );
    ensure(client.create_project(&CreateProject {
        name: PROJECT.into(),
        schema,
    }))?;
    ensure(client.upload_model(
        PROJECT,
        &ModelUpload {
            name: MODEL,
            format: None,
        },
        &model,
    ))?;
    for (name, role, file) in [
        ("applicants", DatasetRole::Test, &applicants),
        ("background", DatasetRole::Background, &background),
    ] {
        let upload = DatasetUpload {
            name,
            role: Some(role),
        };
        ensure(client.upload_dataset(PROJECT, &upload, file))?;
    }
    println!("\n2. jobs, each in its own analyzer process");
    run_job(client, "predict", demo_job(JobKind::Predict))?;
    run_job(client, "influences", demo_job(JobKind::Influences))?;
    run_job(
        client,
        "interventional",
        CreateJob {
            background: Some("background".into()),
            options: JobOptions {
                method: Some(InfluenceMethod::Interventional),
                ..JobOptions::default()
            },
            ..demo_job(JobKind::Influences)
        },
    )?;
    let base = format!("/api/v1/projects/{PROJECT}/models/{MODEL}");
    println!("\n3. results");
    let applicants = ResultQuery {
        dataset: "applicants".into(),
        ..ResultQuery::default()
    };
    let importance = client.importance(
        PROJECT,
        MODEL,
        &ResultQuery {
            method: Some(InfluenceMethod::PathDependent),
            ..applicants.clone()
        },
    )?;
    print_importance(&importance);
    println!();
    print_metrics(&client.metrics(PROJECT, MODEL, &applicants)?);
    let token_file = sextant_server::auth::bootstrap::token_path(data_dir);
    if let Some(password_file) = gui_password(client, data_dir)? {
        println!("\n4. the web GUI   {url}/");
        println!(
            "  sign in as admin with the password in {} (change it: sextant user passwd admin)",
            password_file.display()
        );
    }
    println!("\n5. explore the API (it needs the admin's token; the CLI has it saved)");
    println!("  API document   {url}/api/v1/openapi.json");
    println!(
        "  with curl      curl -H \"Authorization: Bearer $(cat {})\" {url}/api/v1/projects",
        token_file.display()
    );
    println!("  influences     {url}{base}/influences?dataset=applicants&limit=5");
    println!("  importance     {url}{base}/importance?dataset=applicants");
    println!("  metrics        {url}{base}/metrics?dataset=applicants");
    println!("  jobs           {url}/api/v1/jobs");
    println!("  health         {url}/healthz   {url}/metrics");
    println!(
        "  CLI            sextant importance {PROJECT} --model {MODEL} --dataset applicants --server {url}"
    );
    Ok(())
}

//! The CLI client: `project`, `model`, `data`, `job`, `influences`, `importance`, `metrics`.
//! Human tables by default, `--json` for scripts.

use std::fmt::Display;
use std::path::PathBuf;

use anyhow::{anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use sextant_api::{
    CreateJob, CreateProject, DatasetRole, FeatureSpec, FeatureType, InfluenceMethod, Job, JobKind,
    JobOptions, JobState, ModelSummary, ProjectSchema, ResultQuery, ScoreType, Task,
};
use sextant_client::{Client, DatasetUpload, ModelUpload};

use crate::Failure;
use crate::report::{figure, print_importance, print_metrics, print_table};
use crate::schema_inference::infer_features;

#[derive(Args)]
pub struct ClientArgs {
    /// The Sextant server.
    #[arg(long, global = true, env = "SEXTANT_SERVER", default_value = sextant_client::DEFAULT_SERVER)]
    pub server: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Create a project.
    Create(ProjectCreate),
    /// List projects.
    List,
    /// Show a project's schema.
    Show { name: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TaskArg {
    Binary,
    Multiclass,
    Regression,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ScoreArg {
    Probability,
    Logit,
    Raw,
}

#[derive(Args)]
pub struct ProjectCreate {
    name: String,
    #[arg(long, value_enum)]
    task: TaskArg,
    /// Features, comma-separated; `name:categorical` marks a categorical one.
    #[arg(long, value_delimiter = ',')]
    features: Vec<String>,
    /// The label column.
    #[arg(long)]
    label: Option<String>,
    /// A numeric column identifying rows.
    #[arg(long)]
    id: Option<String>,
    /// Number of classes (multiclass).
    #[arg(long)]
    classes: Option<u32>,
    #[arg(long, value_enum)]
    score_type: Option<ScoreArg>,
    /// Take the features from this CSV or Parquet file: every column but the label and id,
    /// categorical where the values are text.
    #[arg(long)]
    from_data: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Upload a model file.
    Add {
        project: String,
        file: PathBuf,
        #[arg(long)]
        name: String,
        /// The file's format: xgboost-json or lightgbm-text (default: recognised from its
        /// content).
        #[arg(long)]
        format: Option<String>,
    },
    /// List a project's models.
    List { project: String },
    /// Delete a model.
    Delete { project: String, name: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Train,
    Test,
    Production,
    Background,
    Custom,
}

#[derive(Subcommand)]
pub enum DataCommand {
    /// Upload a dataset (CSV with a header, or Parquet).
    Add {
        project: String,
        file: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "custom")]
        role: RoleArg,
        /// The label column this file should carry (checked against the project's).
        #[arg(long)]
        label: Option<String>,
    },
    /// List a project's datasets.
    List { project: String },
    /// Delete a dataset.
    Delete { project: String, name: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum KindArg {
    Predict,
    Influences,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum MethodArg {
    PathDependent,
    Interventional,
}

impl MethodArg {
    fn method(self) -> InfluenceMethod {
        match self {
            MethodArg::PathDependent => InfluenceMethod::PathDependent,
            MethodArg::Interventional => InfluenceMethod::Interventional,
        }
    }
}

#[derive(Args)]
pub struct JobRun {
    project: String,
    #[arg(long, value_enum)]
    kind: KindArg,
    #[arg(long)]
    model: String,
    #[arg(long)]
    dataset: String,
    /// Background dataset (interventional influences).
    #[arg(long)]
    background: Option<String>,
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Only the first N rows.
    #[arg(long)]
    rows: Option<u64>,
    /// Classification threshold for metrics (binary).
    #[arg(long)]
    threshold: Option<f64>,
    /// Analyzer memory limit in MiB.
    #[arg(long)]
    memory_mib: Option<u64>,
    /// Analyzers that share the rows of an influences job (default: the server decides).
    #[arg(long)]
    shards: Option<u32>,
    /// Follow the job with a progress bar until it finishes.
    #[arg(long)]
    wait: bool,
}

#[derive(Subcommand)]
pub enum JobCommand {
    /// Submit a job.
    Run(JobRun),
    /// List recent jobs.
    List { project: Option<String> },
    /// Show a job.
    Show { id: String },
    /// Cancel a job.
    Cancel { id: String },
    /// Follow a job until it finishes.
    Wait { id: String },
}

#[derive(Args)]
pub struct ResultArgs {
    project: String,
    #[arg(long)]
    model: String,
    #[arg(long)]
    dataset: String,
    /// Influence method (default: the latest result of either).
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// First row.
    #[arg(long, default_value_t = 0)]
    offset: u64,
    /// Rows.
    #[arg(long, default_value_t = 20)]
    limit: u64,
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("values serialise")
    );
}

/// Prints a result document as JSON with its keys sorted: the result commands have always
/// printed them so, and scripts may compare their output.
fn print_json_sorted(value: &impl serde::Serialize) -> anyhow::Result<()> {
    print_json(&serde_json::to_value(value)?);
    Ok(())
}

pub fn project_schema(args: &ProjectCreate) -> anyhow::Result<ProjectSchema> {
    let features = match (&args.from_data, args.features.is_empty()) {
        (Some(path), true) => infer_features(path, args.label.as_deref(), args.id.as_deref())?,
        (None, false) => args
            .features
            .iter()
            .map(|f| {
                let (name, kind) = match f.split_once(':') {
                    Some((n, "categorical")) => (n, FeatureType::Categorical),
                    Some((n, "numeric")) => (n, FeatureType::Numeric),
                    Some((_, other)) => {
                        bail!("feature type {other:?} is not numeric or categorical")
                    }
                    None => (f.as_str(), FeatureType::Numeric),
                };
                Ok(FeatureSpec {
                    name: name.trim().to_string(),
                    kind,
                    categories: None,
                })
            })
            .collect::<anyhow::Result<_>>()?,
        (Some(_), false) => bail!("give --features or --from-data, not both"),
        (None, true) => bail!("give the features: --features f1,f2,… or --from-data FILE"),
    };
    let task = match args.task {
        TaskArg::Binary => Task::Binary,
        TaskArg::Multiclass => Task::Multiclass,
        TaskArg::Regression => Task::Regression,
    };
    let score_type = match (args.score_type, task) {
        (Some(ScoreArg::Probability), _) => ScoreType::Probability,
        (Some(ScoreArg::Logit), _) => ScoreType::Logit,
        (Some(ScoreArg::Raw), _) => ScoreType::Raw,
        (None, Task::Regression) => ScoreType::Raw,
        (None, _) => ScoreType::Probability,
    };
    Ok(ProjectSchema {
        features,
        label: args.label.clone(),
        id: args.id.clone(),
        task,
        score_type,
        classes: args.classes,
    })
}

pub fn project(client: &Client, json_out: bool, command: ProjectCommand) -> Result<(), Failure> {
    match command {
        ProjectCommand::Create(args) => {
            let schema = project_schema(&args)?;
            let project = client.create_project(&CreateProject {
                name: args.name.clone(),
                schema,
            })?;
            if json_out {
                print_json(&project);
            } else {
                println!(
                    "created project {} ({} features, task {:?})",
                    project.name,
                    project.schema.features.len(),
                    project.schema.task
                );
            }
        }
        ProjectCommand::List => {
            let projects = client.projects()?;
            if json_out {
                print_json(&projects);
            } else {
                let rows: Vec<Vec<String>> = projects
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            format!("{:?}", p.schema.task).to_lowercase(),
                            p.schema.features.len().to_string(),
                            p.schema.label.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                print_table(&["NAME", "TASK", "FEATURES", "LABEL"], &rows);
            }
        }
        ProjectCommand::Show { name } => {
            let project = client.project(&name)?;
            if json_out {
                print_json(&project);
            } else {
                let rows: Vec<Vec<String>> = project
                    .schema
                    .features
                    .iter()
                    .map(|f| vec![f.name.clone(), format!("{:?}", f.kind).to_lowercase()])
                    .collect();
                println!(
                    "project {}: task {:?}, score type {:?}, label {}, id {}",
                    project.name,
                    project.schema.task,
                    project.schema.score_type,
                    project.schema.label.as_deref().unwrap_or("-"),
                    project.schema.id.as_deref().unwrap_or("-")
                );
                print_table(&["FEATURE", "TYPE"], &rows);
            }
        }
    }
    Ok(())
}

pub fn model(client: &Client, json_out: bool, command: ModelCommand) -> Result<(), Failure> {
    match command {
        ModelCommand::Add {
            project,
            file,
            name,
            format,
        } => {
            let upload = ModelUpload {
                name: &name,
                format: format.as_deref(),
            };
            let model = client.upload_model(&project, &upload, &file)?;
            if json_out {
                print_json(&model);
            } else {
                println!(
                    "added model {} to {project}: {} ({}), {} trees, sha256 {}",
                    model.name,
                    model.summary.format,
                    model.summary.objective,
                    tree_count(&model.summary),
                    &model.sha256[..12]
                );
            }
        }
        ModelCommand::List { project } => {
            let models = client.models(&project)?;
            if json_out {
                print_json(&models);
            } else {
                let rows: Vec<Vec<String>> = models
                    .iter()
                    .map(|m| {
                        vec![
                            m.name.clone(),
                            m.summary.format.clone(),
                            m.summary.objective.clone(),
                            m.summary.trees.map_or("-".into(), |t| t.trees.to_string()),
                            m.sha256[..12].to_string(),
                        ]
                    })
                    .collect();
                print_table(&["NAME", "FORMAT", "OBJECTIVE", "TREES", "SHA256"], &rows);
            }
        }
        ModelCommand::Delete { project, name } => {
            client.delete_model(&project, &name)?;
            if !json_out {
                println!("deleted model {name}");
            }
        }
    }
    Ok(())
}

pub fn data(client: &Client, json_out: bool, command: DataCommand) -> Result<(), Failure> {
    match command {
        DataCommand::Add {
            project,
            file,
            name,
            role,
            label,
        } => {
            if let Some(label) = &label {
                let p = client.project(&project)?;
                if p.schema.label.as_deref() != Some(label) {
                    return Err(anyhow!(
                        "--label {label:?} is not project {project}'s label column ({})",
                        p.schema.label.as_deref().unwrap_or("none")
                    )
                    .into());
                }
            }
            let role = match role {
                RoleArg::Train => DatasetRole::Train,
                RoleArg::Test => DatasetRole::Test,
                RoleArg::Production => DatasetRole::Production,
                RoleArg::Background => DatasetRole::Background,
                RoleArg::Custom => DatasetRole::Custom,
            };
            let upload = DatasetUpload {
                name: &name,
                role: Some(role),
            };
            let dataset = client.upload_dataset(&project, &upload, &file)?;
            if json_out {
                print_json(&dataset);
            } else {
                println!(
                    "added dataset {} to {project}: {} rows, {}{}",
                    dataset.name,
                    dataset.summary.rows,
                    dataset.summary.format,
                    if dataset.summary.has_label {
                        ", labelled"
                    } else {
                        ""
                    }
                );
            }
        }
        DataCommand::List { project } => {
            let datasets = client.datasets(&project)?;
            if json_out {
                print_json(&datasets);
            } else {
                let rows: Vec<Vec<String>> = datasets
                    .iter()
                    .map(|d| {
                        vec![
                            d.name.clone(),
                            format!("{:?}", d.summary.role).to_lowercase(),
                            d.summary.rows.to_string(),
                            d.summary.format.clone(),
                            d.summary.has_label.to_string(),
                        ]
                    })
                    .collect();
                print_table(&["NAME", "ROLE", "ROWS", "FORMAT", "LABELLED"], &rows);
            }
        }
        DataCommand::Delete { project, name } => {
            client.delete_dataset(&project, &name)?;
            if !json_out {
                println!("deleted dataset {name}");
            }
        }
    }
    Ok(())
}

/// How many trees a model has, for messages: a count, or `no` for a model without trees.
fn tree_count(summary: &ModelSummary) -> String {
    summary
        .trees
        .map_or_else(|| "no".into(), |t| t.trees.to_string())
}

fn job_row(job: &Job) -> Vec<String> {
    vec![
        job.id.to_string(),
        job.project.clone(),
        format!("{:?}", job.spec.kind).to_lowercase(),
        job.spec.model().name.clone(),
        job.spec.data().name.clone(),
        job.state.as_str().to_string(),
        format!("{:.0}%", job.progress.percent),
        job.reason.clone().unwrap_or_default(),
    ]
}

const JOB_HEADER: [&str; 8] = [
    "ID", "PROJECT", "KIND", "MODEL", "DATASET", "STATE", "PROGRESS", "REASON",
];

/// Follows a job with a progress bar; returns it finished.
pub fn wait_for(client: &Client, id: impl Display, label: &str) -> anyhow::Result<Job> {
    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>12} [{bar:40}] {percent:>3}% {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    let job = client.follow(id, |job| {
        bar.set_position((job.progress.percent * 10.0) as u64);
        let eta = job
            .progress
            .eta_seconds
            .map(|s| format!(", eta {s:.0} s"))
            .unwrap_or_default();
        bar.set_message(format!(
            "{} {} rows{eta}",
            job.state.as_str(),
            job.progress.rows_done
        ));
    })?;
    if job.state == JobState::Succeeded {
        bar.set_position(1000);
    }
    bar.finish_with_message(format!(
        "{}{}",
        job.state.as_str(),
        if job.cached { " (stored result)" } else { "" }
    ));
    Ok(job)
}

pub fn job(client: &Client, json_out: bool, command: JobCommand) -> Result<(), Failure> {
    match command {
        JobCommand::Run(args) => {
            let request = CreateJob {
                kind: match args.kind {
                    KindArg::Predict => JobKind::Predict,
                    KindArg::Influences => JobKind::Influences,
                },
                model: args.model.clone(),
                dataset: args.dataset.clone(),
                background: args.background.clone(),
                options: JobOptions {
                    method: args.method.map(MethodArg::method),
                    rows: args.rows,
                    threshold: args.threshold,
                },
                memory_mib: args.memory_mib,
                shards: args.shards,
            };
            let job = client.submit_job(&args.project, &request)?;
            let job = if args.wait {
                let label = format!("{:?}", job.spec.kind).to_lowercase();
                wait_for(client, job.id, &label)?
            } else {
                job
            };
            if json_out {
                print_json(&job);
            } else {
                println!("job {} {}", job.id, job.state.as_str());
                if let Some(reason) = &job.reason {
                    println!("reason: {reason}");
                }
            }
            if args.wait && job.state != JobState::Succeeded {
                return Err(Failure::Check(anyhow!(
                    "job {} {}: {}",
                    job.id,
                    job.state.as_str(),
                    job.reason.unwrap_or_default()
                )));
            }
        }
        JobCommand::List { project } => {
            let jobs = client.jobs(project.as_deref(), None)?;
            if json_out {
                print_json(&jobs);
            } else {
                let rows: Vec<Vec<String>> = jobs.iter().map(job_row).collect();
                print_table(&JOB_HEADER, &rows);
            }
        }
        JobCommand::Show { id } => {
            let job = client.job(&id)?;
            if json_out {
                print_json(&job);
            } else {
                print_table(&JOB_HEADER, &[job_row(&job)]);
            }
        }
        JobCommand::Cancel { id } => {
            let job = client.cancel_job(&id)?;
            if json_out {
                print_json(&job);
            } else {
                println!("job {} {}", job.id, job.state.as_str());
            }
        }
        JobCommand::Wait { id } => {
            let job = wait_for(client, &id, "job")?;
            if json_out {
                print_json(&job);
            } else {
                print_table(&JOB_HEADER, &[job_row(&job)]);
            }
        }
    }
    Ok(())
}

fn result_query(args: &ResultArgs, paged: bool) -> ResultQuery {
    ResultQuery {
        dataset: args.dataset.clone(),
        method: args.method.map(MethodArg::method),
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
    let query = ResultQuery {
        dataset: args.dataset.clone(),
        ..ResultQuery::default()
    };
    let doc = client.metrics(&args.project, &args.model, &query)?;
    if json_out {
        print_json_sorted(&doc)?;
    } else {
        print_metrics(&doc);
    }
    Ok(())
}

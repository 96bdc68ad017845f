//! `sextant project`: create, list, show.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};
use sextant_api::{CreateProject, FeatureSpec, ProjectSchema, Role, ScoreType, Task};
use sextant_client::Client;

use super::print_json;
use crate::Failure;
use crate::report::print_table;
use crate::schema_inference::infer_features;

#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Create a project.
    Create(ProjectCreate),
    /// List projects.
    List,
    /// Show a project's schema.
    Show { name: String },
    /// Give a user a role on a project (owners).
    Grant {
        project: String,
        user: String,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Take a user's role on a project away (owners).
    Revoke { project: String, user: String },
    /// List a project's members and their roles.
    Members { project: String },
    /// Delete a project with its models, datasets, jobs and results (owners).
    Delete { project: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Reads everything in the project.
    Viewer,
    /// Also uploads, runs and cancels jobs, deletes models and datasets.
    Editor,
    /// Also grants and revokes roles and deletes the project.
    Owner,
}

impl RoleArg {
    fn role(self) -> Role {
        match self {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Editor => Role::Editor,
            RoleArg::Owner => Role::Owner,
        }
    }
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

pub fn project_schema(args: &ProjectCreate) -> anyhow::Result<ProjectSchema> {
    let features = match (&args.from_data, args.features.is_empty()) {
        (Some(path), true) => infer_features(path, args.label.as_deref(), args.id.as_deref())?,
        (None, false) => FeatureSpec::parse_list(&args.features).map_err(anyhow::Error::msg)?,
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
        ProjectCommand::Grant {
            project,
            user,
            role,
        } => {
            let member = client.grant(&project, &user, role.role())?;
            if json_out {
                print_json(&member);
            } else {
                println!(
                    "{} is now {} of project {}",
                    member.user,
                    member.role.as_str(),
                    member.project
                );
            }
        }
        ProjectCommand::Revoke { project, user } => {
            client.revoke(&project, &user)?;
            if !json_out {
                println!("{user} has no role on project {project} any more");
            }
        }
        ProjectCommand::Members { project } => {
            let members = client.members(&project)?;
            if json_out {
                print_json(&members);
            } else {
                let rows: Vec<Vec<String>> = members
                    .iter()
                    .map(|m| {
                        vec![
                            m.user.clone(),
                            m.role.as_str().to_string(),
                            m.granted_at.format("%Y-%m-%d %H:%M").to_string(),
                            m.granted_by.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                print_table(&["USER", "ROLE", "GRANTED", "BY"], &rows);
            }
        }
        ProjectCommand::Delete { project } => {
            let deleted = client.delete_project(&project)?;
            if json_out {
                print_json(&deleted);
            } else {
                println!("deleted project {}", deleted.name);
            }
        }
    }
    Ok(())
}

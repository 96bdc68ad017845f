//! `sextant data`: add (upload), list, delete.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Subcommand, ValueEnum};
use sextant_api::DatasetRole;
use sextant_client::{Client, DatasetUpload};

use super::print_json;
use crate::Failure;
use crate::report::print_table;

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

//! `sextant model`: add (upload), list, delete.

use std::path::PathBuf;

use clap::Subcommand;
use sextant_api::ModelSummary;
use sextant_client::{Client, ModelUpload};

use super::print_json;
use crate::Failure;
use crate::report::print_table;

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

/// How many trees a model has, for messages: a count, or `no` for a model without trees.
fn tree_count(summary: &ModelSummary) -> String {
    summary
        .trees
        .map_or_else(|| "no".into(), |t| t.trees.to_string())
}

//! `sextant segment` and `sextant group`: add, list, remove a project's segments and feature
//! groups.

use clap::Subcommand;
use sextant_api::{CreateFeatureGroup, CreateSegment};
use sextant_client::Client;

use super::print_json;
use crate::Failure;
use crate::report::print_table;

#[derive(Subcommand)]
pub enum SegmentCommand {
    /// Add a segment: a named filter over a dataset's columns, e.g.
    /// 'age >= 30 and region in ("EU", "UK")', 'income is missing', 'not (score > 0.8)'.
    Add {
        project: String,
        name: String,
        expression: String,
        /// The segment group to file it under.
        #[arg(long)]
        group: Option<String>,
        /// Mark it as a protected group (for fairness).
        #[arg(long)]
        protected: bool,
    },
    /// List a project's segments.
    List { project: String },
    /// Remove a segment.
    Remove { project: String, name: String },
}

pub fn segment(client: &Client, json_out: bool, command: SegmentCommand) -> Result<(), Failure> {
    match command {
        SegmentCommand::Add {
            project,
            name,
            expression,
            group,
            protected,
        } => {
            let request = CreateSegment {
                name,
                expression,
                group,
                protected,
            };
            let segment = client.add_segment(&project, &request)?;
            if json_out {
                print_json(&segment);
            } else {
                println!(
                    "added segment {} to {project}: {}",
                    segment.name, segment.expression
                );
            }
        }
        SegmentCommand::List { project } => {
            let segments = client.segments(&project)?;
            if json_out {
                print_json(&segments);
            } else {
                let rows: Vec<Vec<String>> = segments
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.group.clone().unwrap_or_else(|| "-".into()),
                            if s.protected { "yes" } else { "no" }.into(),
                            s.expression.clone(),
                        ]
                    })
                    .collect();
                print_table(&["NAME", "GROUP", "PROTECTED", "EXPRESSION"], &rows);
            }
        }
        SegmentCommand::Remove { project, name } => {
            let removed = client.delete_segment(&project, &name)?;
            if json_out {
                print_json(&removed);
            } else {
                println!("removed segment {name} ({})", removed.expression);
            }
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Add a feature group: features whose influences `importance --groups` reports together
    /// (summed on each row), e.g. one variable's one-hot columns.
    Add {
        project: String,
        name: String,
        /// Its features, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        features: Vec<String>,
    },
    /// List a project's feature groups.
    List { project: String },
    /// Remove a feature group.
    Remove { project: String, name: String },
}

pub fn group(client: &Client, json_out: bool, command: GroupCommand) -> Result<(), Failure> {
    match command {
        GroupCommand::Add {
            project,
            name,
            features,
        } => {
            let features = features.into_iter().map(|f| f.trim().to_string()).collect();
            let group =
                client.add_feature_group(&project, &CreateFeatureGroup { name, features })?;
            if json_out {
                print_json(&group);
            } else {
                println!(
                    "added feature group {} to {project}: {}",
                    group.name,
                    group.features.join(", ")
                );
            }
        }
        GroupCommand::List { project } => {
            let groups = client.feature_groups(&project)?;
            if json_out {
                print_json(&groups);
            } else {
                let rows: Vec<Vec<String>> = groups
                    .iter()
                    .map(|g| vec![g.name.clone(), g.features.join(", ")])
                    .collect();
                print_table(&["NAME", "FEATURES"], &rows);
            }
        }
        GroupCommand::Remove { project, name } => {
            let removed = client.delete_feature_group(&project, &name)?;
            if json_out {
                print_json(&removed);
            } else {
                println!("removed feature group {name}");
            }
        }
    }
    Ok(())
}

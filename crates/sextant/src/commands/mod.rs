//! The CLI client, a module per noun: `project`, `model`, `data`, `job`, and the results
//! (`influences`, `predictions`, `importance`, `metrics`). Human tables by default, `--json` for
//! scripts.

mod data;
mod job;
mod model;
mod project;
mod results;

use clap::Args;

pub use data::{DataCommand, data};
pub use job::{JobCommand, job, wait_for};
pub use model::{ModelCommand, model};
pub use project::{ProjectCommand, project};
pub use results::{ResultArgs, importance, metrics, table_page};

#[derive(Args)]
pub struct ClientArgs {
    /// The Sextant server.
    #[arg(long, global = true, env = "SEXTANT_SERVER", default_value = sextant_client::DEFAULT_SERVER)]
    pub server: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

pub(crate) fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("values serialise")
    );
}

/// Prints a result document as JSON with its keys sorted: the result commands have always
/// printed them so, and scripts may compare their output.
pub(crate) fn print_json_sorted(value: &impl serde::Serialize) -> anyhow::Result<()> {
    print_json(&serde_json::to_value(value)?);
    Ok(())
}

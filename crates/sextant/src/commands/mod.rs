//! The CLI client, a module per noun: `project`, `model`, `data`, `segment`, `job`, and the results
//! (`influences`, `predictions`, `importance`, `metrics`) and their views (`curves`, `points`,
//! `explanation`), `hotspots` where a model fails, `fairness` between two groups of rows, and
//! `compare` for several models. Human tables by default, `--json` for scripts.

mod accounts;
mod compare;
mod data;
mod drift;
mod fairness;
mod hotspots;
mod job;
mod model;
mod project;
mod results;
mod segment;
mod views;

use clap::Args;

pub use accounts::{
    AuditArgs, LoginArgs, TokenCommand, UserCommand, audit, login, token, user, whoami,
};
pub use compare::{CompareArgs, compare};
pub use data::{DataCommand, data};
pub use drift::{DriftArgs, drift};
pub use fairness::{FairnessArgs, fairness};
pub use hotspots::{HotspotArgs, hotspots};
pub use job::{JobCommand, job, wait_for};
pub use model::{ModelCommand, model};
pub use project::{ProjectCommand, project};
pub use results::{ResultArgs, importance, metrics, table_page};
pub use segment::{GroupCommand, SegmentCommand, group, segment};
pub use views::{CurvesArgs, ExplanationArgs, PointsArgs, curves, explanation, points};

#[derive(Args)]
pub struct ClientArgs {
    /// The Sextant server (default: the one `sextant login` saved, else http://127.0.0.1:8640).
    #[arg(long, global = true, env = "SEXTANT_SERVER")]
    pub server: Option<String>,
    /// The API token (default: the one `sextant login` saved for the server).
    #[arg(long, global = true, env = "SEXTANT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

impl ClientArgs {
    /// The client these arguments name: the server and token given, else those saved by
    /// `sextant login`.
    pub fn client(&self) -> anyhow::Result<sextant_client::Client> {
        let saved = crate::credentials::Credentials::load()?;
        let server = self
            .server
            .clone()
            .or_else(|| saved.default.clone())
            .unwrap_or_else(|| sextant_client::DEFAULT_SERVER.to_string());
        let client = sextant_client::Client::new(&server);
        let token = self
            .token
            .clone()
            .or_else(|| saved.token_for(&server).map(String::from));
        Ok(match token {
            Some(token) => client.with_token(token),
            None => client,
        })
    }
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

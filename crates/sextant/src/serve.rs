//! `sextant serve`: the services, on one listener, until Ctrl-C or SIGTERM.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use sextant_server::ServerConfig;

use crate::Failure;

#[derive(Args)]
pub struct ServeArgs {
    /// A TOML config file (see docs/operations.md); flags and SEXTANT_* variables override it.
    #[arg(long, env = "SEXTANT_CONFIG")]
    config: Option<PathBuf>,
    /// Where the metastore, artifacts and logs live (default ~/.sextant).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8640).
    #[arg(long)]
    listen: Option<String>,
    /// The services to run, comma-separated (default: ingest,intelligence,scheduler,gateway).
    #[arg(long)]
    services: Option<String>,
    /// Analyzers at once (default: cores − 1, at least 1).
    #[arg(long)]
    max_concurrent_analyzers: Option<usize>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text", env = "SEXTANT_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs to standard error, filtered by `SEXTANT_LOG`, else by `default_filter`.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEXTANT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The config from the file, the environment and the flags (flags win).
pub fn load_config(
    file: Option<&std::path::Path>,
    overrides: &[(&str, Option<String>)],
) -> Result<ServerConfig, Failure> {
    let mut env: HashMap<String, String> = std::env::vars().collect();
    for (name, value) in overrides {
        if let Some(v) = value {
            env.insert(name.to_string(), v.clone());
        }
    }
    ServerConfig::load(file, &env, cores()).map_err(|e| Failure::Input(anyhow!("config: {e}")))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}

pub fn run(args: ServeArgs) -> Result<(), Failure> {
    let config = load_config(
        args.config.as_deref(),
        &[
            (
                "SEXTANT_DATA_DIR",
                args.data_dir.map(|d| d.display().to_string()),
            ),
            ("SEXTANT_LISTEN", args.listen),
            ("SEXTANT_SERVICES", args.services),
            (
                "SEXTANT_MAX_CONCURRENT_ANALYZERS",
                args.max_concurrent_analyzers.map(|n| n.to_string()),
            ),
        ],
    )?;
    init_logging(args.log_format, "info");
    sextant_server::housekeeping::limit_malloc_arenas();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow!("cannot listen on {}: {e}", config.listen))?;
        sextant_server::run(config, listener, shutdown_signal())
            .await
            .map_err(|e| Failure::Input(anyhow!(e)))
    })
}

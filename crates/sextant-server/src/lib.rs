//! Sextant's long-lived services, each behind a `start_<service>` function that returns its
//! routes over shared dependencies:
//!
//! - [`ingest::start_ingest`]: projects, model and dataset uploads;
//! - [`intelligence::start_intelligence`]: results, importance, metrics;
//! - [`scheduler::start_scheduler`]: jobs and the analyzers that run them;
//! - [`gateway::start_gateway`]: health, readiness, metrics, the OpenAPI document, and the web
//!   GUI ([`gui`]).
//!
//! [`run`] composes the services a process is configured for on one listener.

pub mod auth;
pub mod clients;
pub mod config;
pub mod connections;
pub mod error;
pub mod gateway;
pub mod gui;
pub mod housekeeping;
pub mod ingest;
pub mod intelligence;
pub mod origins;
pub mod scheduler;
pub mod telemetry;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use sextant_store::{Artifacts, Metastore, open_metastore};
use tokio::net::TcpListener;

pub use config::{LauncherKind, ServerConfig, Service};
use scheduler::{Launcher, ProcessLauncher};
use telemetry::Telemetry;

/// What every service is built from.
#[derive(Clone)]
pub struct Deps {
    /// Projects, models, datasets, jobs, results.
    pub metastore: Arc<dyn Metastore>,
    /// File contents.
    pub artifacts: Artifacts,
    /// The configuration.
    pub config: Arc<ServerConfig>,
    /// Metrics.
    pub telemetry: Arc<Telemetry>,
    /// Local copies of remote result tables, under the configured cap.
    pub scratch: Arc<housekeeping::ScratchCopies>,
    /// Credentials: checks, their cache, the limit on failures.
    pub auth: Arc<auth::Authenticator>,
}

impl Deps {
    /// Opens the stores the config names.
    pub async fn open(config: ServerConfig) -> Result<Deps, String> {
        for dir in [
            config.data_dir.clone(),
            config.scratch_dir(),
            config.log_dir(),
        ] {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let metastore = open_metastore(&config.metastore_uri)
            .await
            .map_err(|e| e.to_string())?;
        let artifacts = Artifacts::open(&config.artifacts_uri).map_err(|e| e.to_string())?;
        let scratch =
            housekeeping::ScratchCopies::new(config.scratch_dir(), config.scratch_max_mib << 20);
        let auth = Arc::new(auth::Authenticator::new(metastore.clone(), &config.auth)?);
        Ok(Deps {
            auth,
            metastore,
            artifacts,
            scratch,
            config: Arc::new(config),
            telemetry: Arc::new(Telemetry::default()),
        })
    }
}

/// The analyzer launcher the config asks for.
pub async fn launcher(config: &ServerConfig) -> Result<Arc<dyn Launcher>, String> {
    match config.scheduler.launcher {
        LauncherKind::Process => process_launcher(config),
        LauncherKind::Docker => Ok(Arc::new(scheduler::DockerLauncher::connect(config).await?)),
        LauncherKind::Kubernetes => Ok(Arc::new(
            scheduler::KubernetesLauncher::connect(config).await?,
        )),
    }
}

/// The process launcher the config describes.
pub fn process_launcher(config: &ServerConfig) -> Result<Arc<dyn Launcher>, String> {
    let binary = match &config.scheduler.analyzer_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?,
    };
    Ok(Arc::new(ProcessLauncher::new(
        binary,
        config.log_dir(),
        config.scheduler.analyzer_nice,
    )))
}

/// The router of the configured services. `server_url` is where analyzers reach the scheduler.
pub fn compose(
    deps: &Deps,
    launcher: Arc<dyn Launcher>,
    server_url: String,
) -> Result<Router, String> {
    let mut router = gateway::health_routes(deps.clone());
    let local = &deps.config.services;
    // The GUI asks the API through the composed router, filled in below.
    let api: gui::ApiHandle = Default::default();
    if local.contains(&Service::Gateway) {
        router = router.merge(gateway::forward::forward_routes(local, &deps.config.peers)?);
        router = router.merge(gui::gui_routes(api.clone()));
    }
    for service in &deps.config.services {
        router = router.merge(match service {
            Service::Ingest => ingest::start_ingest(deps.clone()),
            Service::Intelligence => intelligence::start_intelligence(deps.clone()),
            Service::Scheduler => {
                scheduler::start_scheduler(deps.clone(), launcher.clone(), server_url.clone())
            }
            Service::Gateway => gateway::start_gateway(deps.clone()),
        });
    }
    let router = router
        .fallback(gateway::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            ingest::JSON_BODY_LIMIT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            deps.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            deps.clone(),
            auth::audit::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            origins::AllowedHosts::from_config(&deps.config),
            origins::check,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(deps.config.http.trusted_proxies.clone()),
            clients::identify,
        ))
        .layer(axum::middleware::from_fn_with_state(
            deps.telemetry.clone(),
            telemetry::track_http,
        ));
    let _ = api.set(router.clone());
    Ok(router)
}

/// Serves the configured services on `listener` until `shutdown` completes.
pub async fn run(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if !config.auth.enabled && !addr.ip().is_loopback() {
        return Err(format!(
            "authentication is off (auth.enabled = false, SEXTANT_AUTH_ENABLED) and {addr} is reachable from other machines: listen on 127.0.0.1, or turn authentication on"
        ));
    }
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let server_url = match &config.advertise_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("http://{host}:{}", addr.port()),
    };
    // Only a process that runs the scheduler launches analyzers (and talks to Docker or
    // Kubernetes); the others never use their launcher.
    let launcher = if config.services.contains(&Service::Scheduler) {
        launcher(&config).await?
    } else {
        process_launcher(&config)?
    };
    let services: Vec<&str> = config.services.iter().map(|s| s.name()).collect();
    let deps = Deps::open(config.clone()).await?;
    auth::bootstrap::bootstrap(&deps).await?;
    housekeeping::start_sweeping(&deps);
    let router = compose(&deps, launcher, server_url.clone())?;
    tracing::info!(
        url = %server_url,
        services = %services.join(","),
        data_dir = %config.data_dir.display(),
        "sextant serving"
    );
    // Graceful shutdown waits for open connections, and an event stream may stay open for long:
    // after the signal, requests in flight get a short grace period, then the server stops.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let open_files = connections::raise_open_file_limit();
    let cap = connections::connection_cap(config.http.max_connections, open_files);
    let header_timeout =
        std::time::Duration::from_secs_f64(config.http.header_read_timeout_seconds);
    tracing::info!(open_files, connections = cap, "connection limits");
    let serve = connections::serve(listener, router, cap, header_timeout, stop_rx.clone());
    let mut stopping = stop_rx;
    tokio::select! {
        () = serve => Ok(()),
        _ = async {
            let _ = stopping.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => Ok(()),
    }
}

/// How long requests in flight may finish after a shutdown signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

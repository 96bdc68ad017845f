//! Server configuration: one TOML file, then environment overrides, then defaults. An unknown key
//! is an error, so a typo never silently falls back to a default.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use sextant_analyzer::Fault;

mod auth;
mod http;
mod launchers;

pub use auth::AuthConfig;
pub use http::HttpConfig;
pub use launchers::{DockerConfig, KubernetesConfig, LauncherKind};

/// The services one process can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// Projects, model and dataset uploads.
    Ingest,
    /// Results, importance, metrics.
    Intelligence,
    /// Jobs and analyzers.
    Scheduler,
    /// Health, metrics, the OpenAPI document; routes to the others.
    Gateway,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 4] = [
        Service::Ingest,
        Service::Intelligence,
        Service::Scheduler,
        Service::Gateway,
    ];

    /// Its name on the command line and in config.
    pub fn name(self) -> &'static str {
        match self {
            Service::Ingest => "ingest",
            Service::Intelligence => "intelligence",
            Service::Scheduler => "scheduler",
            Service::Gateway => "gateway",
        }
    }
}

impl FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Service, String> {
        Service::ALL
            .into_iter()
            .find(|service| service.name() == s.trim())
            .ok_or_else(|| {
                format!(
                    "unknown service {s:?} (expected ingest, intelligence, scheduler or gateway)"
                )
            })
    }
}

/// Parses `ingest,intelligence,…`.
pub fn parse_services(list: &str) -> Result<Vec<Service>, String> {
    let mut services = Vec::new();
    for name in list.split(',').filter(|s| !s.trim().is_empty()) {
        let service: Service = name.parse()?;
        if !services.contains(&service) {
            services.push(service);
        }
    }
    if services.is_empty() {
        return Err("no services named".into());
    }
    Ok(services)
}

/// The configuration file's layout (every key optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    version: Option<u32>,
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    services: Option<Vec<Service>>,
    metastore_uri: Option<String>,
    artifacts_uri: Option<String>,
    max_upload_bytes: Option<u64>,
    scratch_max_mib: Option<u64>,
    advertise_url: Option<String>,
    peers: Option<BTreeMap<Service, String>>,
    scheduler: Option<FileSchedulerConfig>,
    http: Option<http::FileHttpConfig>,
    auth: Option<auth::FileAuthConfig>,
    docker: Option<launchers::FileDockerConfig>,
    kubernetes: Option<launchers::FileKubernetesConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSchedulerConfig {
    max_concurrent_analyzers: Option<usize>,
    analyzer_memory_mib: Option<u64>,
    max_analyzer_memory_mib: Option<u64>,
    analyzer_threads: Option<usize>,
    analyzer_nice: Option<i32>,
    heartbeat_interval_seconds: Option<f64>,
    heartbeat_timeout_seconds: Option<f64>,
    max_attempts: Option<u32>,
    retry_backoff_seconds: Option<f64>,
    analyzer_binary: Option<PathBuf>,
    launcher: Option<LauncherKind>,
    analyzer_fault: Option<String>,
}

/// How the scheduler runs analyzers.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Analyzers at once; more jobs wait queued.
    pub max_concurrent_analyzers: usize,
    /// Memory limit of an analyzer unless its job asks otherwise.
    pub analyzer_memory_mib: u64,
    /// The most memory a job may ask for its analyzer.
    pub max_analyzer_memory_mib: u64,
    /// Compute threads per analyzer.
    pub analyzer_threads: usize,
    /// Niceness of analyzer processes (services run at 0).
    pub analyzer_nice: i32,
    /// How often an analyzer reports, at the least.
    pub heartbeat_interval_seconds: f64,
    /// Silence after which an analyzer is presumed hung and stopped.
    pub heartbeat_timeout_seconds: f64,
    /// Launches of a job at most: a job whose analyzer failed for a reason that may pass (the
    /// artifact store or the network, an analyzer that could not be started) is queued again
    /// until it has had this many. A failure of the inputs or the computation is never retried.
    pub max_attempts: u32,
    /// The pause before the first retry; it doubles with each further one.
    pub retry_backoff_seconds: f64,
    /// The `sextant` executable analyzers run (default: this one).
    pub analyzer_binary: Option<PathBuf>,
    /// Where analyzers run.
    pub launcher: LauncherKind,
    /// A fault every analyzer injects (`crash`, `oom`, `hang`, `slow`): for tests of the
    /// scheduler's fault handling only.
    pub analyzer_fault: Option<Fault>,
    /// Variables passed on to analyzers that do not inherit this process's environment
    /// (containers, pods): S3 credentials and settings, logging, the CA bundle. Taken from the
    /// environment the config was loaded from.
    pub analyzer_environment: Vec<(String, String)>,
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// Where the embedded metastore, artifacts, logs and scratch files live.
    pub data_dir: PathBuf,
    /// The HTTP listener.
    pub listen: SocketAddr,
    /// The services this process runs.
    pub services: Vec<Service>,
    /// `sqlite://…`.
    pub metastore_uri: String,
    /// `file://…`.
    pub artifacts_uri: String,
    /// Largest accepted upload.
    pub max_upload_bytes: u64,
    /// The most MiB of result-table copies downloaded from a remote artifact store that the
    /// scratch directory keeps (least recently used evicted first).
    pub scratch_max_mib: u64,
    /// Where analyzers (and other services' processes) reach this one, when that is not the
    /// listening address (a Kubernetes Service, a container's name).
    pub advertise_url: Option<String>,
    /// Base URLs of services in other processes, for the gateway to route to (one list can serve
    /// every process: a service run here is served here).
    pub peers: BTreeMap<Service, String>,
    /// Analyzer settings.
    pub scheduler: SchedulerConfig,
    /// Client connections.
    pub http: HttpConfig,
    /// Credentials.
    pub auth: AuthConfig,
    /// The Docker launcher's settings.
    pub docker: DockerConfig,
    /// The Kubernetes launcher's settings.
    pub kubernetes: KubernetesConfig,
}

/// Configuration values from environment variables: empty ones count as unset.
pub(crate) struct Env<'a>(&'a HashMap<String, String>);

impl Env<'_> {
    /// The variables analyzers in containers and pods are given: `AWS_*` (S3 credentials and
    /// settings), `SEXTANT_LOG` and `SSL_CERT_FILE`, sorted by name.
    pub(crate) fn passed_to_analyzers(&self) -> Vec<(String, String)> {
        let mut passed: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(name, _)| {
                name.starts_with("AWS_") || matches!(name.as_str(), "SEXTANT_LOG" | "SSL_CERT_FILE")
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        passed.sort();
        passed
    }

    /// A variable's value.
    pub(crate) fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// A variable parsed, with an error naming it when it does not parse.
    pub(crate) fn num<T: FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.var(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("{name}={v:?} is not a valid value"))
            })
            .transpose()
    }
}

/// The configuration format version this build reads.
pub const CONFIG_VERSION: u32 = 1;

/// The default port.
pub const DEFAULT_PORT: u16 = 8640;

impl ServerConfig {
    /// Reads the config: the file (if any), then `SEXTANT_*` variables from `env`, then defaults.
    /// `cores` sizes the analyzer pool.
    pub fn load(
        file: Option<&Path>,
        env: &HashMap<String, String>,
        cores: usize,
    ) -> Result<ServerConfig, String> {
        let parsed: FileConfig = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        if let Some(v) = parsed.version
            && v != CONFIG_VERSION
        {
            return Err(format!(
                "config version {v} is not supported (this build reads version {CONFIG_VERSION})"
            ));
        }
        let env = Env(env);
        let var = |name: &str| env.var(name);
        let sched = parsed.scheduler.unwrap_or_default();
        let data_dir = var("SEXTANT_DATA_DIR")
            .map(PathBuf::from)
            .or(parsed.data_dir)
            .or_else(|| var("HOME").map(|h| Path::new(&h).join(".sextant")))
            .unwrap_or_else(|| PathBuf::from(".sextant"));
        let listen = env
            .num("SEXTANT_LISTEN")?
            .or(parsed.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)));
        let services = match var("SEXTANT_SERVICES") {
            Some(list) => parse_services(&list)?,
            None => parsed.services.unwrap_or_else(|| Service::ALL.to_vec()),
        };
        let metastore_uri = var("SEXTANT_METASTORE_URI")
            .or(parsed.metastore_uri)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("metastore.db").display()));
        let artifacts_uri = var("SEXTANT_ARTIFACTS_URI")
            .or(parsed.artifacts_uri)
            .unwrap_or_else(|| format!("file://{}", data_dir.join("artifacts").display()));
        let max_upload_bytes = env
            .num("SEXTANT_MAX_UPLOAD_BYTES")?
            .or(parsed.max_upload_bytes)
            .unwrap_or(4 << 30);
        let scratch_max_mib = env
            .num("SEXTANT_SCRATCH_MAX_MIB")?
            .or(parsed.scratch_max_mib)
            .unwrap_or(2048);
        let max_concurrent_analyzers = env
            .num("SEXTANT_MAX_CONCURRENT_ANALYZERS")?
            .or(sched.max_concurrent_analyzers)
            .unwrap_or(cores.saturating_sub(1).max(1));
        let scheduler = SchedulerConfig {
            max_concurrent_analyzers,
            analyzer_memory_mib: env
                .num("SEXTANT_ANALYZER_MEMORY_MIB")?
                .or(sched.analyzer_memory_mib)
                .unwrap_or(4096),
            max_analyzer_memory_mib: env
                .num("SEXTANT_MAX_ANALYZER_MEMORY_MIB")?
                .or(sched.max_analyzer_memory_mib)
                .unwrap_or(256 << 10),
            analyzer_threads: sched.analyzer_threads.unwrap_or(cores.max(1)),
            analyzer_nice: sched.analyzer_nice.unwrap_or(19),
            heartbeat_interval_seconds: sched.heartbeat_interval_seconds.unwrap_or(1.0),
            heartbeat_timeout_seconds: env
                .num("SEXTANT_HEARTBEAT_TIMEOUT_SECONDS")?
                .or(sched.heartbeat_timeout_seconds)
                .unwrap_or(30.0),
            max_attempts: env
                .num("SEXTANT_MAX_ATTEMPTS")?
                .or(sched.max_attempts)
                .unwrap_or(3),
            retry_backoff_seconds: env
                .num("SEXTANT_RETRY_BACKOFF_SECONDS")?
                .or(sched.retry_backoff_seconds)
                .unwrap_or(2.0),
            analyzer_binary: sched.analyzer_binary,
            launcher: env
                .num("SEXTANT_LAUNCHER")?
                .or(sched.launcher)
                .unwrap_or(LauncherKind::Process),
            analyzer_fault: match env.num("SEXTANT_ANALYZER_FAULT")? {
                Some(fault) => Some(fault),
                None => sched
                    .analyzer_fault
                    .as_deref()
                    .map(|name| {
                        name.parse()
                            .map_err(|e| format!("scheduler.analyzer_fault: {e}"))
                    })
                    .transpose()?,
            },
            analyzer_environment: env.passed_to_analyzers(),
        };
        let mut peers = parsed.peers.unwrap_or_default();
        for service in [Service::Ingest, Service::Intelligence, Service::Scheduler] {
            let name = format!("SEXTANT_PEER_{}", service.name().to_uppercase());
            if let Some(url) = var(&name) {
                peers.insert(service, url);
            }
        }
        let http = HttpConfig::load(parsed.http.unwrap_or_default(), &env)?;
        let auth = AuthConfig::load(parsed.auth.unwrap_or_default(), &env)?;
        let docker = DockerConfig::load(parsed.docker.unwrap_or_default(), &env);
        let kubernetes = KubernetesConfig::load(parsed.kubernetes.unwrap_or_default(), &env)?;
        let config = ServerConfig {
            data_dir,
            listen,
            services,
            metastore_uri,
            artifacts_uri,
            max_upload_bytes,
            scratch_max_mib,
            advertise_url: var("SEXTANT_ADVERTISE_URL").or(parsed.advertise_url),
            peers,
            scheduler,
            http,
            auth,
            docker,
            kubernetes,
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        let s = &self.scheduler;
        if s.max_concurrent_analyzers == 0 {
            return Err("scheduler.max_concurrent_analyzers must be at least 1".into());
        }
        if s.analyzer_memory_mib > s.max_analyzer_memory_mib {
            return Err(format!(
                "scheduler.analyzer_memory_mib ({}) is above scheduler.max_analyzer_memory_mib ({})",
                s.analyzer_memory_mib, s.max_analyzer_memory_mib
            ));
        }
        if s.max_attempts == 0 {
            return Err("scheduler.max_attempts must be at least 1".into());
        }
        if !(0.0..=3600.0).contains(&s.retry_backoff_seconds) {
            return Err("scheduler.retry_backoff_seconds must be between 0 and 3600".into());
        }
        if s.analyzer_threads == 0 {
            return Err("scheduler.analyzer_threads must be at least 1".into());
        }
        if s.analyzer_memory_mib < 64 {
            return Err("scheduler.analyzer_memory_mib must be at least 64".into());
        }
        if !(0..=19).contains(&s.analyzer_nice) {
            return Err("scheduler.analyzer_nice must be between 0 and 19".into());
        }
        if !(s.heartbeat_interval_seconds > 0.0
            && s.heartbeat_timeout_seconds > 2.0 * s.heartbeat_interval_seconds)
        {
            return Err(
                "scheduler.heartbeat_timeout_seconds must exceed twice heartbeat_interval_seconds"
                    .into(),
            );
        }
        let split = Service::ALL.iter().any(|s| !self.services.contains(s));
        if split && self.metastore_uri.starts_with("sqlite:") {
            let running: Vec<&str> = self.services.iter().map(|s| s.name()).collect();
            return Err(format!(
                "this process runs only {} of the services, so others run elsewhere and must share its metastore: an embedded SQLite file cannot be shared between processes; set metastore_uri to a postgres:// database",
                running.join(",")
            ));
        }
        for (service, url) in &self.peers {
            if *service == Service::Gateway {
                return Err("peers.gateway: the gateway is what routes to peers; name ingest, intelligence or scheduler".into());
            }
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "peers.{} = {url:?}: expected an http:// or https:// URL",
                    service.name()
                ));
            }
        }
        if let Some(url) = &self.advertise_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "advertise_url = {url:?}: expected an http:// or https:// URL"
            ));
        }
        if !self.docker.cpus.is_finite() || self.docker.cpus <= 0.0 || self.docker.pids_limit < 16 {
            return Err("docker.cpus must be positive and docker.pids_limit at least 16".into());
        }
        if self.kubernetes.lease_duration_seconds < 3 {
            return Err("kubernetes.lease_duration_seconds must be at least 3".into());
        }
        if !(1..=64).contains(&self.kubernetes.max_shards) {
            return Err("kubernetes.max_shards must be between 1 and 64".into());
        }
        self.http.check()?;
        self.auth.check()?;
        if self.scratch_max_mib == 0 {
            return Err("scratch_max_mib must be positive".into());
        }
        if self.max_upload_bytes == 0 {
            return Err("max_upload_bytes must be positive".into());
        }
        Ok(())
    }

    /// Scratch space for uploads in progress and downloaded inputs.
    pub fn scratch_dir(&self) -> PathBuf {
        self.data_dir.join("tmp")
    }

    /// Where analyzers' standard error goes, one file per job attempt.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let file = dir.join("sextant.toml");
        std::fs::write(
            &file,
            "version = 1\nlisten = \"127.0.0.1:9000\"\n[scheduler]\nmax_concurrent_analyzers = 3\n",
        )
        .unwrap();
        let c = ServerConfig::load(None, &env(&[("HOME", "/home/u")]), 4).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/home/u/.sextant"));
        assert_eq!(c.scheduler.max_concurrent_analyzers, 3);
        assert_eq!(c.metastore_uri, "sqlite:///home/u/.sextant/metastore.db");
        let c = ServerConfig::load(Some(&file), &env(&[]), 4).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.scheduler.max_concurrent_analyzers, 3);
        let c = ServerConfig::load(
            Some(&file),
            &env(&[
                ("SEXTANT_LISTEN", "127.0.0.1:9100"),
                ("SEXTANT_SERVICES", "ingest,gateway"),
                ("SEXTANT_METASTORE_URI", "postgres://u@db/sextant"),
            ]),
            1,
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.services, vec![Service::Ingest, Service::Gateway]);
        assert_eq!(
            ServerConfig::load(None, &env(&[]), 1)
                .unwrap()
                .scheduler
                .max_concurrent_analyzers,
            1
        );
    }

    #[test]
    fn peers_launchers_and_their_checks() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let file = dir.join("front.toml");
        std::fs::write(
            &file,
            "services = [\"intelligence\", \"gateway\"]\nmetastore_uri = \"postgres://db/s\"\n[peers]\ningest = \"http://ingest:8640\"\n[scheduler]\nlauncher = \"kubernetes\"\n[kubernetes]\nnamespace = \"jobs\"\n",
        )
        .unwrap();
        let c = ServerConfig::load(
            Some(&file),
            &env(&[("SEXTANT_PEER_SCHEDULER", "http://scheduler:8640")]),
            2,
        )
        .unwrap();
        assert_eq!(c.peers[&Service::Ingest], "http://ingest:8640");
        assert_eq!(c.peers[&Service::Scheduler], "http://scheduler:8640");
        assert_eq!(c.scheduler.launcher, LauncherKind::Kubernetes);
        assert_eq!(c.kubernetes.namespace, "jobs");
        assert_eq!(c.docker.network, "host");
        // One config for every process: a peer for a service run here is not used.
        let c = ServerConfig::load(
            Some(&file),
            &env(&[("SEXTANT_PEER_INTELLIGENCE", "http://x:1")]),
            2,
        )
        .unwrap();
        assert!(c.services.contains(&Service::Intelligence));
        let e = ServerConfig::load(
            None,
            &env(&[
                ("SEXTANT_PEER_INGEST", "ingest:8640"),
                ("SEXTANT_SERVICES", "gateway"),
                ("SEXTANT_METASTORE_URI", "postgres://db/s"),
            ]),
            2,
        )
        .unwrap_err();
        assert!(e.contains("http://"), "{e}");
        let e = ServerConfig::load(None, &env(&[("SEXTANT_LAUNCHER", "slurm")]), 2).unwrap_err();
        assert!(e.contains("slurm"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "[scheduler]\nmax_concurent_analyzers = 3\n").unwrap();
        let e = ServerConfig::load(Some(&file), &env(&[]), 2).unwrap_err();
        assert!(e.contains("max_concurent_analyzers"), "{e}");
        std::fs::write(&file, "version = 7\n").unwrap();
        assert!(
            ServerConfig::load(Some(&file), &env(&[]), 2)
                .unwrap_err()
                .contains("version 7")
        );
        let e = ServerConfig::load(None, &env(&[("SEXTANT_LISTEN", "nowhere")]), 2).unwrap_err();
        assert!(e.contains("SEXTANT_LISTEN"), "{e}");
        assert!(
            parse_services("ingest,frontdoor")
                .unwrap_err()
                .contains("frontdoor")
        );
    }
}

//! Server configuration: one TOML file, then environment overrides, then defaults. An unknown key
//! is an error, so a typo never silently falls back to a default.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

/// The services one process can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
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
    scheduler: Option<FileSchedulerConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSchedulerConfig {
    max_concurrent_analyzers: Option<usize>,
    analyzer_memory_mib: Option<u64>,
    analyzer_threads: Option<usize>,
    analyzer_nice: Option<i32>,
    heartbeat_interval_seconds: Option<f64>,
    heartbeat_timeout_seconds: Option<f64>,
    analyzer_binary: Option<PathBuf>,
}

/// How the scheduler runs analyzers.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Analyzers at once; more jobs wait queued.
    pub max_concurrent_analyzers: usize,
    /// Memory limit of an analyzer unless its job asks otherwise.
    pub analyzer_memory_mib: u64,
    /// Compute threads per analyzer.
    pub analyzer_threads: usize,
    /// Niceness of analyzer processes (services run at 0).
    pub analyzer_nice: i32,
    /// How often an analyzer reports, at the least.
    pub heartbeat_interval_seconds: f64,
    /// Silence after which an analyzer is presumed hung and stopped.
    pub heartbeat_timeout_seconds: f64,
    /// The `sextant` executable analyzers run (default: this one).
    pub analyzer_binary: Option<PathBuf>,
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
    /// Analyzer settings.
    pub scheduler: SchedulerConfig,
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
        let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
        fn num<T: FromStr>(name: &str, value: Option<String>) -> Result<Option<T>, String> {
            value
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("{name}={v:?} is not a valid value"))
                })
                .transpose()
        }
        let sched = parsed.scheduler.unwrap_or_default();
        let data_dir = var("SEXTANT_DATA_DIR")
            .map(PathBuf::from)
            .or(parsed.data_dir)
            .or_else(|| var("HOME").map(|h| Path::new(&h).join(".sextant")))
            .unwrap_or_else(|| PathBuf::from(".sextant"));
        let listen = num("SEXTANT_LISTEN", var("SEXTANT_LISTEN"))?
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
        let max_upload_bytes = num("SEXTANT_MAX_UPLOAD_BYTES", var("SEXTANT_MAX_UPLOAD_BYTES"))?
            .or(parsed.max_upload_bytes)
            .unwrap_or(4 << 30);
        let max_concurrent_analyzers = num(
            "SEXTANT_MAX_CONCURRENT_ANALYZERS",
            var("SEXTANT_MAX_CONCURRENT_ANALYZERS"),
        )?
        .or(sched.max_concurrent_analyzers)
        .unwrap_or(cores.saturating_sub(1).max(1));
        let scheduler = SchedulerConfig {
            max_concurrent_analyzers,
            analyzer_memory_mib: num(
                "SEXTANT_ANALYZER_MEMORY_MIB",
                var("SEXTANT_ANALYZER_MEMORY_MIB"),
            )?
            .or(sched.analyzer_memory_mib)
            .unwrap_or(4096),
            analyzer_threads: sched.analyzer_threads.unwrap_or(cores.max(1)),
            analyzer_nice: sched.analyzer_nice.unwrap_or(19),
            heartbeat_interval_seconds: sched.heartbeat_interval_seconds.unwrap_or(1.0),
            heartbeat_timeout_seconds: num(
                "SEXTANT_HEARTBEAT_TIMEOUT_SECONDS",
                var("SEXTANT_HEARTBEAT_TIMEOUT_SECONDS"),
            )?
            .or(sched.heartbeat_timeout_seconds)
            .unwrap_or(30.0),
            analyzer_binary: sched.analyzer_binary,
        };
        let config = ServerConfig {
            data_dir,
            listen,
            services,
            metastore_uri,
            artifacts_uri,
            max_upload_bytes,
            scheduler,
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        let s = &self.scheduler;
        if s.max_concurrent_analyzers == 0 {
            return Err("scheduler.max_concurrent_analyzers must be at least 1".into());
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
        let dir = std::env::temp_dir().join(format!("sextant-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
    fn unknown_keys_and_bad_values_are_errors() {
        let dir = std::env::temp_dir().join(format!("sextant-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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

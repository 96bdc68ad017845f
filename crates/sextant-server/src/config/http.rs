//! The `[http]` section: the names the server answers to and the bounds on client connections.

use serde::Deserialize;

use super::Env;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileHttpConfig {
    public_names: Option<Vec<String>>,
    max_connections: Option<usize>,
    header_read_timeout_seconds: Option<f64>,
}

/// The names clients use and the bounds on their connections.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpConfig {
    /// Host names clients reach this server by, beyond IP addresses, `localhost` and the hosts
    /// of `advertise_url` and the peers: a request for any other host is refused.
    pub public_names: Vec<String>,
    /// Connections served at once (more wait to be accepted); also kept below the open-file
    /// limit.
    pub max_connections: usize,
    /// A client must send a request's headers within this time, and a connection idle between
    /// requests for this long is closed.
    pub header_read_timeout_seconds: f64,
}

impl HttpConfig {
    pub(super) fn load(h: FileHttpConfig, env: &Env) -> Result<HttpConfig, String> {
        Ok(HttpConfig {
            public_names: match env.var("SEXTANT_PUBLIC_NAMES") {
                Some(list) => list
                    .split(',')
                    .map(|n| n.trim().to_string())
                    .filter(|n| !n.is_empty())
                    .collect(),
                None => h.public_names.unwrap_or_default(),
            },
            max_connections: env
                .num("SEXTANT_MAX_CONNECTIONS")?
                .or(h.max_connections)
                .unwrap_or(10_000),
            header_read_timeout_seconds: env
                .num("SEXTANT_HEADER_READ_TIMEOUT_SECONDS")?
                .or(h.header_read_timeout_seconds)
                .unwrap_or(30.0),
        })
    }

    pub(super) fn check(&self) -> Result<(), String> {
        if self.max_connections == 0 {
            return Err("http.max_connections must be at least 1".into());
        }
        if !(0.1..=3600.0).contains(&self.header_read_timeout_seconds) {
            return Err("http.header_read_timeout_seconds must be between 0.1 and 3600".into());
        }
        Ok(())
    }
}

//! The `[http]` section: the names the server answers to, the bounds on client connections and
//! the proxies trusted to say who a client is.

use serde::Deserialize;

use super::Env;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileHttpConfig {
    public_names: Option<Vec<String>>,
    max_connections: Option<usize>,
    header_read_timeout_seconds: Option<f64>,
    trusted_proxies: Option<Vec<String>>,
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
    /// Proxies (addresses or networks) whose `X-Forwarded-For` tells the client's address: the
    /// Ingress controller's or load balancer's, and the gateway's in a split deployment.
    pub trusted_proxies: Vec<crate::clients::Network>,
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
            trusted_proxies: match env.var("SEXTANT_TRUSTED_PROXIES") {
                Some(list) => list
                    .split(',')
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| {
                        n.parse()
                            .map_err(|e| format!("SEXTANT_TRUSTED_PROXIES: {e}"))
                    })
                    .collect::<Result<_, _>>()?,
                // An entry may hold several, comma-separated (a chart value); empty ones are none.
                None => h
                    .trusted_proxies
                    .unwrap_or_default()
                    .iter()
                    .flat_map(|entry| entry.split(','))
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| n.parse().map_err(|e| format!("http.trusted_proxies: {e}")))
                    .collect::<Result<_, _>>()?,
            },
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

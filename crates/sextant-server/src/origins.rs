//! Requests from browsers are held to the names this server answers to: a request whose `Host`
//! is a name not configured (a DNS-rebinding page that points its own name at this server) is
//! refused, and so is a state-changing request whose `Origin` is another site (a page elsewhere
//! posting a form or an upload here). No CORS headers are ever sent, so a browser lets no other
//! site read an answer.
//!
//! A host is allowed when it is an IP address, `localhost`, one of `http.public_names`, or the
//! host of `advertise_url` or of a peer (the names other processes of this deployment use). An
//! origin is allowed when its host is.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::ServerConfig;
use crate::error::{ApiError, ErrorCode, quote};

/// The names this server answers to.
pub struct AllowedHosts(HashSet<String>);

impl AllowedHosts {
    /// The names the configuration gives.
    pub fn from_config(config: &ServerConfig) -> Arc<AllowedHosts> {
        let urls = config.advertise_url.iter().chain(config.peers.values());
        let named = urls.filter_map(|url| host_of_url(url));
        let names = config.http.public_names.iter().cloned().chain(named);
        Arc::new(AllowedHosts(
            names.map(|n| n.to_ascii_lowercase()).collect(),
        ))
    }

    /// Whether `host` (without a port) is one of them.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.parse::<IpAddr>().is_ok()
            || host.eq_ignore_ascii_case("localhost")
            || self.0.contains(&host.to_ascii_lowercase())
    }
}

/// The host of `scheme://host[:port]/…`.
fn host_of_url(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    Some(strip_port(authority).to_string())
}

/// `host` of `host:port` (`[v6]:port` keeps its brackets).
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .split_once(']')
            .map_or(authority, |(h, _)| &authority[..h.len() + 1]);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

/// Refuses a request for a host not allowed, or a state-changing one from another origin.
pub async fn check(
    State(allowed): State<Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(why) = refusal(&allowed, &request) {
        return ApiError::new(ErrorCode::Forbidden, why).into_response();
    }
    next.run(request).await
}

/// Why `request` is refused, if it is.
fn refusal(allowed: &AllowedHosts, request: &Request) -> Option<String> {
    let text = |name| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("(not text)").to_string())
    };
    if let Some(host) = text(header::HOST)
        && !allowed.allows(strip_port(&host))
    {
        return Some(format!(
            "host {} is not a name this server answers to (add it to http.public_names)",
            quote(&host)
        ));
    }
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes
        && let Some(origin) = text(header::ORIGIN)
        && !host_of_url(&origin).is_some_and(|h| allowed.allows(&h))
    {
        return Some(format!(
            "a request from origin {} may not change anything here (cross-site requests are refused)",
            quote(&origin)
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        let allowed = AllowedHosts(["sextant.internal".to_string()].into());
        for host in [
            "127.0.0.1",
            "10.1.2.3",
            "[::1]",
            "localhost",
            "Sextant.Internal",
        ] {
            assert!(allowed.allows(host), "{host}");
        }
        assert!(!allowed.allows("evil.example"));
        assert_eq!(strip_port("[::1]:8640"), "[::1]");
        assert_eq!(strip_port("a.b:8640"), "a.b");
        assert_eq!(
            host_of_url("http://evil.example:80/x").as_deref(),
            Some("evil.example")
        );
        assert_eq!(host_of_url("null"), None);
    }
}

//! Routing to services that run in other processes. The gateway learns which service owns which
//! path from the OpenAPI document (each operation is tagged with its service), so the routing
//! table cannot drift from the handlers; requests and answers are streamed through unchanged,
//! uploads and event streams included.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use std::net::SocketAddr;
use utoipa::OpenApi;

use crate::config::Service;
use crate::error::{ApiError, ErrorCode};

/// How long the gateway waits to connect to a peer service.
const PEER_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// TCP keepalive on connections to peers, so that a dead peer is noticed.
const PEER_KEEPALIVE: Duration = Duration::from_secs(30);

/// Where one service is reached.
struct Peer {
    service: Service,
    base: Option<String>,
    client: reqwest::Client,
}

/// Every API path and the service that serves it, from the OpenAPI document; the analyzers'
/// internal endpoints belong to the scheduler.
pub fn route_table() -> BTreeMap<String, Service> {
    let doc = super::ApiDoc::openapi();
    let mut table = BTreeMap::new();
    for (path, item) in doc.paths.paths {
        let tags: Vec<String> = [&item.get, &item.post, &item.put, &item.delete, &item.patch]
            .into_iter()
            .flatten()
            .flat_map(|op| op.tags.clone().unwrap_or_default())
            .collect();
        let services: Vec<Service> = tags.iter().filter_map(|t| t.parse().ok()).collect();
        let service = services[0];
        assert!(
            services.iter().all(|s| *s == service),
            "{path} is served by several services: {tags:?}"
        );
        table.insert(path, service);
    }
    table.insert("/internal/v1/{*rest}".into(), Service::Scheduler);
    table
}

/// Routes for every service this process does not run: forwarded to its peer, or answered 503
/// naming the setting when no peer is configured.
pub fn forward_routes(
    local: &[Service],
    peers: &BTreeMap<Service, String>,
) -> Result<Router, String> {
    sextant_store::install_crypto();
    let client = reqwest::Client::builder()
        .connect_timeout(PEER_CONNECT_TIMEOUT)
        // Long uploads and event streams: no overall timeout, but notice a dead peer.
        .tcp_keepalive(PEER_KEEPALIVE)
        .build()
        .map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            format!(
                "cannot build the HTTP client for peer services: {e}{cause} (are the system's CA certificates installed? Debian: ca-certificates)"
            )
        })?;
    let mut router = Router::new();
    let mut by_service: BTreeMap<Service, Arc<Peer>> = BTreeMap::new();
    for (path, service) in route_table() {
        if local.contains(&service) {
            continue;
        }
        let peer = by_service
            .entry(service)
            .or_insert_with(|| {
                Arc::new(Peer {
                    service,
                    base: peers
                        .get(&service)
                        .map(|u| u.trim_end_matches('/').to_string()),
                    client: client.clone(),
                })
            })
            .clone();
        router = router.route(&path, any(forward).with_state(peer));
    }
    Ok(router)
}

/// Headers that describe one connection, not the message: never passed on.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "host"
    )
}

fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    headers
        .iter()
        .filter(|(name, _)| !hop_by_hop(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

async fn forward(State(peer): State<Arc<Peer>>, request: Request) -> Response {
    let name = peer.service.name();
    let Some(base) = &peer.base else {
        return ApiError::new(
            ErrorCode::Unavailable,
            format!(
                "the {name} service does not run in this process and no peer is configured for it (set peers.{name} or SEXTANT_PEER_{})",
                name.to_uppercase()
            ),
        )
        .into_response();
    };
    let (parts, body) = request.into_parts();
    let target = match parts.uri.path_and_query() {
        Some(pq) => format!("{base}{pq}"),
        None => format!("{base}{}", parts.uri.path()),
    };
    let mut headers = end_to_end(&parts.headers);
    if let Some(host) = parts.headers.get(header::HOST) {
        headers.insert("x-forwarded-host", host.clone());
    }
    // The client, for services that trust this gateway (http.trusted_proxies).
    if let Some(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        let chain = match parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            Some(before) => format!("{before}, {}", peer.0.ip()),
            None => peer.0.ip().to_string(),
        };
        if let Ok(value) = axum::http::HeaderValue::from_str(&chain) {
            headers.insert("x-forwarded-for", value);
        }
    }
    let sent = peer
        .client
        .request(parts.method, &target)
        .headers(headers)
        .body(reqwest::Body::wrap_stream(body.into_data_stream()))
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(service = name, %target, error = %e, "peer did not answer");
            return ApiError::new(
                ErrorCode::BadGateway,
                format!("the {name} service at {base} did not answer: {e}"),
            )
            .into_response();
        }
    };
    let mut response = Response::builder().status(answer.status());
    if let Some(out) = response.headers_mut() {
        *out = end_to_end(answer.headers());
    }
    response
        .extension(crate::auth::audit::Forwarded)
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|e| {
            ApiError::new(ErrorCode::Internal, format!("bad answer from {name}: {e}"))
                .into_response()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_api_path_has_one_owner() {
        let table = route_table();
        assert_eq!(table["/api/v1/projects"], Service::Ingest);
        assert_eq!(
            table["/api/v1/projects/{project}/models/{model}"],
            Service::Ingest
        );
        assert_eq!(table["/api/v1/jobs/{id}/events"], Service::Scheduler);
        assert_eq!(table["/internal/v1/{*rest}"], Service::Scheduler);
        assert!(
            table
                .iter()
                .any(|(p, s)| p.contains("influences") && *s == Service::Intelligence)
        );
    }
}

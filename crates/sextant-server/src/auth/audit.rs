//! The audit log: every request that changes something and every one refused (401, 403, 429,
//! or a project the caller may not see) is appended — who, what, which resource, when, the
//! outcome and the client's address. Never a secret: no bodies, no headers, no query strings.

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use sextant_api::AuditEntry;

use super::{Caller, client_address};
use crate::Deps;
use crate::error::Denied;

/// Marks an answer the gateway passed on from the service that made it (which records it).
#[derive(Clone, Copy, Debug)]
pub struct Forwarded;

/// The project a path names, if any.
fn project_in_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/api/v1/projects/")?;
    let name = rest.split('/').next().filter(|n| !n.is_empty())?;
    Some(name.to_string())
}

/// The middleware that appends to the audit log.
pub async fn record(State(deps): State<Deps>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if !path.starts_with("/api/") {
        return next.run(request).await;
    }
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let client = client_address(request.extensions());
    let response = next.run(request).await;
    if response.extensions().get::<Forwarded>().is_some() {
        return response;
    }
    let status = response.status();
    let denied = response.extensions().get::<Denied>().is_some()
        || matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
        );
    let changes = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if !(denied || changes) {
        return response;
    }
    let caller = response.extensions().get::<Caller>();
    let outcome = if denied {
        "denied"
    } else if status.is_success() {
        "ok"
    } else {
        "failed"
    };
    let entry = AuditEntry {
        id: 0,
        at: Utc::now(),
        user: caller.map(|c| c.name().to_string()),
        action: format!("{method} {}", route.as_deref().unwrap_or(&path)),
        project: caller
            .and_then(Caller::concerned_project)
            .or_else(|| project_in_path(&path)),
        resource: path,
        status: status.as_u16(),
        outcome: outcome.into(),
        client: client.to_string(),
    };
    if let Err(e) = deps.metastore.append_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, "cannot append to the audit log");
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_is_read_from_the_path() {
        assert_eq!(
            project_in_path("/api/v1/projects/p1/models"),
            Some("p1".into())
        );
        assert_eq!(project_in_path("/api/v1/projects/p1"), Some("p1".into()));
        assert_eq!(project_in_path("/api/v1/projects"), None);
        assert_eq!(project_in_path("/api/v1/jobs/x"), None);
    }
}

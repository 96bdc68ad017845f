//! One browser request to a page: who it comes from (the cookies and addresses the API needs to
//! authenticate it), its CSRF token, and the API calls made on its behalf.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use super::ApiHandle;
use crate::auth::cookie;

/// The name of the cookie that holds a browser's CSRF token.
pub const CSRF_COOKIE: &str = "sextant_csrf";

/// The form field (or, for uploads, the query parameter) that repeats it.
pub const CSRF_FIELD: &str = "csrf";

/// Answers larger than this are not read from the API (a page never needs one).
const ANSWER_LIMIT: usize = 64 << 20;

/// A browser's CSRF token, from its cookie or made for this response.
#[derive(Clone)]
struct CsrfToken(String);

/// Gives every browser a CSRF token: read from its cookie, or made up and set in the response.
pub async fn csrf_cookie(mut request: Request, next: Next) -> Response {
    let existing = cookie(request.headers(), CSRF_COOKIE).filter(|t| t.len() == 64);
    let token = match &existing {
        Some(token) => token.clone(),
        None => {
            let mut bytes = [0u8; 32];
            if getrandom::fill(&mut bytes).is_err() {
                return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness").into_response();
            }
            hex::encode(bytes)
        }
    };
    request.extensions_mut().insert(CsrfToken(token.clone()));
    let mut response = next.run(request).await;
    if existing.is_none()
        && let Ok(value) = HeaderValue::from_str(&format!(
            "{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        ))
    {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// What the API answered instead of what a page asked for.
#[derive(Debug)]
pub struct ApiFailure {
    /// The API's status.
    pub status: StatusCode,
    /// The API's error code (`no_result`, `not_found`, …), when the API gave the answer.
    pub code: Option<String>,
    /// The API's message, as it gave it.
    pub message: String,
}

/// One page request: what the API calls made for it carry.
pub struct Visit {
    api: ApiHandle,
    headers: HeaderMap,
    peer: Option<ConnectInfo<SocketAddr>>,
    /// The CSRF token forms on the page must repeat.
    pub csrf: String,
    /// The path and query asked for (where sign-in returns to).
    pub path: String,
    /// The signed-in user, when the page has looked them up.
    pub user: Option<String>,
    /// Whether the browser takes gzipped answers.
    pub gzip: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Visit {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Visit, Response> {
        let api = parts
            .extensions
            .get::<ApiHandle>()
            .cloned()
            .ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
        let csrf = parts
            .extensions
            .get::<CsrfToken>()
            .map(|t| t.0.clone())
            .unwrap_or_default();
        // Only what authentication and the host checks read is passed on.
        let mut headers = HeaderMap::new();
        for name in [
            header::COOKIE,
            header::HOST,
            header::USER_AGENT,
            header::HeaderName::from_static("x-forwarded-for"),
            header::HeaderName::from_static("x-forwarded-proto"),
        ] {
            for value in parts.headers.get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        Ok(Visit {
            api,
            headers,
            peer: parts.extensions.get::<ConnectInfo<SocketAddr>>().cloned(),
            csrf,
            path: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/ui/projects".into()),
            user: None,
            gzip: super::assets::accepts_gzip(&parts.headers),
        })
    }
}

impl Visit {
    /// Checks a form's CSRF token against the browser's.
    pub fn check_csrf(&self, given: &str) -> Result<(), ApiFailure> {
        if self.csrf.is_empty() || given != self.csrf {
            return Err(ApiFailure {
code: None,
                status: StatusCode::FORBIDDEN,
                message: "the form's security token does not match this browser's (the page may be old, or from another site): reload the page and send it again".into(),
            });
        }
        Ok(())
    }

    /// Asks the API, in-process, with this visit's credentials.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Body,
    ) -> Result<Response, ApiFailure> {
        let router = self.api.get().cloned().ok_or_else(|| ApiFailure {
            code: None,
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the server is starting".into(),
        })?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(body)
            .map_err(|e| ApiFailure {
                code: None,
                status: StatusCode::BAD_REQUEST,
                message: format!("{path}: {e}"),
            })?;
        *request.headers_mut() = self.headers.clone();
        if let Some(kind) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
            request.headers_mut().insert(header::CONTENT_TYPE, kind);
        }
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(peer);
        }
        let response = router
            .oneshot(request)
            .await
            .expect("the router is infallible");
        if response.status().is_success() || response.status().is_redirection() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), ANSWER_LIMIT)
            .await
            .unwrap_or_default();
        let body = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
        let text = |field: &str| {
            body.as_ref()
                .and_then(|v| v["error"][field].as_str().map(str::to_string))
        };
        let code = text("code");
        let message =
            text("message").unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        Err(ApiFailure {
            status,
            code,
            message,
        })
    }

    /// GETs and reads an API document.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        let response = self.call(Method::GET, path, None, Body::empty()).await?;
        read(response).await
    }

    /// Sends `body` as JSON and reads the answer (`()` for none).
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ApiFailure> {
        let json = serde_json::to_vec(body).expect("request bodies serialise");
        let response = self
            .call(method, path, Some("application/json"), Body::from(json))
            .await?;
        read(response).await
    }
}

/// Reads an API answer as `T` (an empty answer reads as JSON `null`).
pub async fn read<T: DeserializeOwned>(response: Response) -> Result<T, ApiFailure> {
    let bytes = axum::body::to_bytes(response.into_body(), ANSWER_LIMIT)
        .await
        .map_err(|e| ApiFailure {
            code: None,
            status: StatusCode::BAD_GATEWAY,
            message: format!("reading the API's answer: {e}"),
        })?;
    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
    serde_json::from_slice(bytes).map_err(|e| ApiFailure {
        code: None,
        status: StatusCode::BAD_GATEWAY,
        message: format!("the API's answer is not what the page expected: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; sextant_csrf=abc; b=2"),
        );
        assert_eq!(cookie(&headers, CSRF_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}

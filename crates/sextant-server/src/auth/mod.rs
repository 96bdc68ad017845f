//! Who is calling and what they may do. Every process checks credentials itself against the
//! shared metastore (a request that reaches a service past the gateway meets the same rules):
//!
//! - [`authenticate`], a middleware over every route: a bearer token or a session cookie
//!   becomes a [`Caller`] (or a 401 that says what is wrong); failed attempts are limited per
//!   client address ([`limits`]);
//! - [`Caller::require`] in each handler: a project the caller has no role on answers 404, as if
//!   it did not exist, and a role too low 403;
//! - [`audit`]: every change and every denial is appended to the audit log;
//! - [`routes`]: login, users, tokens, the audit log; [`bootstrap`]: the first admin.

pub mod audit;
pub mod bootstrap;
mod caller;
mod limits;

pub use caller::Caller;
pub mod routes;
pub mod secrets;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sextant_api::{Role, User};
use sextant_store::{Metastore, TokenRecord, UserRecord};

use crate::Deps;
use crate::config::AuthConfig;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// The name of the web GUI's session cookie.
pub const SESSION_COOKIE: &str = "sextant_session";

/// The most checked tokens kept in memory; beyond it the cache starts again.
const CACHE_ENTRIES: usize = 10_000;

/// A token's last use is written at most this often.
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// The name an unauthenticated server (auth.enabled = false) gives every caller.
const OPEN_CALLER: &str = "anonymous";

/// Why credentials were refused.
#[derive(Debug)]
enum Refusal {
    Missing,
    Malformed(&'static str),
    Unknown,
    Expired(DateTime<Utc>),
    Revoked(DateTime<Utc>),
    Disabled,
}

impl Refusal {
    fn message(&self) -> String {
        match self {
            Refusal::Missing => "this request needs credentials: send \"Authorization: Bearer <token>\" (`sextant login` saves a token for the CLI)".into(),
            Refusal::Malformed(why) => format!("the credentials are malformed: {why}"),
            Refusal::Unknown => "the token is not known to this server".into(),
            Refusal::Expired(at) => format!("the token expired at {}", at.to_rfc3339()),
            Refusal::Revoked(at) => format!("the token was revoked at {}", at.to_rfc3339()),
            Refusal::Disabled => "the token's user is disabled".into(),
        }
    }

    /// Whether the attempt counts against the client's limit (a request with no credentials at
    /// all guesses nothing).
    fn counts(&self) -> bool {
        !matches!(self, Refusal::Missing)
    }
}

/// A checked token, its user and roles, as cached.
struct Checked {
    token: TokenRecord,
    user: Arc<User>,
    roles: Arc<HashMap<String, Role>>,
    read_at: Instant,
    touched_at: Instant,
}

/// Checks credentials, with a short cache, and limits failed attempts per client address.
pub struct Authenticator {
    metastore: Arc<dyn Metastore>,
    config: AuthConfig,
    metrics_token: Option<String>,
    cache: Mutex<HashMap<String, Arc<Checked>>>,
    failures: limits::FailureLimit,
}

impl Authenticator {
    /// An authenticator over the metastore; reads the scrape token's file when one is set.
    pub fn new(
        metastore: Arc<dyn Metastore>,
        config: &AuthConfig,
    ) -> Result<Authenticator, String> {
        let metrics_token = match &config.metrics_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("auth.metrics_token_file {}: {e}", path.display()))?
                    .trim()
                    .to_string(),
            )
            .filter(|t| !t.is_empty()),
            None => None,
        };
        Ok(Authenticator {
            metastore,
            metrics_token,
            failures: limits::FailureLimit::new(config.max_failures_per_minute),
            config: config.clone(),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// Whether requests need credentials.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// The settings.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The caller every request is when authentication is off.
    fn open_caller() -> Caller {
        Caller {
            user: Arc::new(User {
                name: OPEN_CALLER.into(),
                admin: true,
                disabled: false,
                has_password: false,
                created_at: DateTime::<Utc>::UNIX_EPOCH,
            }),
            token_id: None,
            token_hash: None,
            roles: Arc::new(HashMap::new()),
            concerns: Arc::new(Mutex::new(None)),
        }
    }

    async fn read(&self, hash: &str) -> Result<Option<Arc<Checked>>, ApiError> {
        let Some((token, user)) = self.metastore.token_by_hash(hash).await? else {
            return Ok(None);
        };
        let roles = self.roles_of(&user).await?;
        let now = Instant::now();
        let checked = Arc::new(Checked {
            token,
            user: Arc::new(user.user),
            roles: Arc::new(roles),
            read_at: now,
            touched_at: now - TOUCH_INTERVAL,
        });
        let mut cache = self.cache.lock().expect("auth cache lock");
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(hash.to_string(), checked.clone());
        Ok(Some(checked))
    }

    async fn roles_of(&self, user: &UserRecord) -> ApiResult<HashMap<String, Role>> {
        Ok(self
            .metastore
            .memberships(&user.user.name)
            .await?
            .into_iter()
            .map(|m| (m.project, m.role))
            .collect())
    }

    /// The caller a token stands for, or why it is refused.
    async fn check(&self, token: &str) -> Result<Result<Caller, Refusal>, ApiError> {
        if let Err(why) = secrets::check_shape(token) {
            return Ok(Err(Refusal::Malformed(why)));
        }
        let hash = secrets::token_hash(token);
        let ttl = Duration::from_secs_f64(self.config.cache_seconds);
        let cached = self
            .cache
            .lock()
            .expect("auth cache lock")
            .get(&hash)
            .filter(|c| c.read_at.elapsed() < ttl)
            .cloned();
        let checked = match cached {
            Some(c) => c,
            None => match self.read(&hash).await? {
                Some(c) => c,
                None => return Ok(Err(Refusal::Unknown)),
            },
        };
        let info = &checked.token.info;
        if let Some(at) = info.revoked_at {
            return Ok(Err(Refusal::Revoked(at)));
        }
        if let Some(at) = info.expires_at.filter(|at| *at <= Utc::now()) {
            return Ok(Err(Refusal::Expired(at)));
        }
        if checked.user.disabled {
            return Ok(Err(Refusal::Disabled));
        }
        if checked.touched_at.elapsed() >= TOUCH_INTERVAL {
            self.touch(&hash, &checked);
        }
        Ok(Ok(Caller {
            user: checked.user.clone(),
            token_id: Some(info.id),
            token_hash: Some(hash.into()),
            roles: checked.roles.clone(),
            concerns: Arc::new(Mutex::new(None)),
        }))
    }

    /// Records a token's use (at most once a minute per token and process), off the request.
    fn touch(&self, hash: &str, checked: &Arc<Checked>) {
        let touched = Arc::new(Checked {
            token: checked.token.clone(),
            user: checked.user.clone(),
            roles: checked.roles.clone(),
            read_at: checked.read_at,
            touched_at: Instant::now(),
        });
        self.cache
            .lock()
            .expect("auth cache lock")
            .insert(hash.to_string(), touched);
        let metastore = self.metastore.clone();
        let id = checked.token.info.id;
        tokio::spawn(async move {
            if let Err(e) = metastore.touch_token(id, Utc::now()).await {
                tracing::warn!(error = %e, "cannot record a token's use");
            }
        });
    }

    /// The caller's role on a project as the metastore has it now (and the cache updated).
    async fn fresh_role(&self, caller: &Caller, project: &str) -> ApiResult<Option<Role>> {
        let Some(hash) = &caller.token_hash else {
            return Ok(None);
        };
        let checked = self.read(hash).await?;
        Ok(checked.and_then(|c| c.roles.get(project).copied()))
    }

    /// Forgets what is cached of a user's tokens (after a change made here: a role, a
    /// disabled user, a revoked token), so this process acts on it at once.
    pub fn forget(&self, user: &str) {
        self.cache
            .lock()
            .expect("auth cache lock")
            .retain(|_, c| c.user.name != user);
    }

    /// Whether `token` is the scrape token.
    fn is_metrics_token(&self, token: &str) -> bool {
        self.metrics_token
            .as_deref()
            .is_some_and(|t| secrets::same_secret(t.as_bytes(), token.as_bytes()))
    }

    /// Records a failed attempt from `client`.
    pub fn failed(&self, client: IpAddr) {
        self.failures.record(client);
    }

    /// When `client` has failed too often: how long until it may try again.
    pub fn blocked(&self, client: IpAddr) -> Option<Duration> {
        self.failures.blocked(client)
    }
}

/// Paths anyone may reach: health, readiness, the API's description, the login, the
/// analyzers' endpoints (each checks its job's token) and whatever is not the API.
fn open_path(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/readyz" | "/api/v1/openapi.json" | "/api/v1/login"
    ) || path.starts_with("/internal/")
        || !(path.starts_with("/api/") || path == "/metrics")
}

/// The credentials a request carries: a bearer token, else the session cookie.
fn credentials(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| Refusal::Malformed("the Authorization header is not text"))?;
        let token = text.strip_prefix("Bearer ").ok_or(Refusal::Malformed(
            "expected \"Authorization: Bearer <token>\"",
        ))?;
        return Ok(Some(token.trim().to_string()));
    }
    Ok(session_cookie(headers))
}

/// The session cookie's value, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE)
}

/// The value of cookie `name` in a request's headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, value)| value.to_string())
}

/// The address a request came from ([`crate::clients`]; unknown only for requests made inside
/// this process).
pub fn client_address(request_extensions: &axum::http::Extensions) -> IpAddr {
    match request_extensions.get::<crate::clients::ClientAddress>() {
        Some(client) => client.0,
        None => request_extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([0, 0, 0, 0])),
    }
}

/// A 429 for a client that failed too often.
pub fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let mut response = ApiError::new(
        ErrorCode::TooManyRequests,
        format!("too many failed authentications from this address: try again in {seconds} s"),
    )
    .denied()
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The middleware: resolves the caller of every request that needs one, or answers 401 (or
/// 429 to an address that failed too often).
pub async fn authenticate(State(deps): State<Deps>, mut request: Request, next: Next) -> Response {
    let auth = &deps.auth;
    if !auth.enabled() {
        let caller = Authenticator::open_caller();
        request.extensions_mut().insert(caller.clone());
        let mut response = next.run(request).await;
        response.extensions_mut().insert(caller);
        return response;
    }
    let path = request.uri().path().to_string();
    if open_path(&path) {
        return next.run(request).await;
    }
    let client = client_address(request.extensions());
    if let Some(wait) = auth.blocked(client) {
        return too_many(wait);
    }
    let outcome = match credentials(request.headers()) {
        Err(refusal) => Ok(Err(refusal)),
        Ok(None) => Ok(Err(Refusal::Missing)),
        Ok(Some(token)) if path == "/metrics" && auth.is_metrics_token(&token) => {
            return next.run(request).await;
        }
        Ok(Some(token)) => auth.check(&token).await,
    };
    let caller = match outcome {
        Err(e) => return e.into_response(),
        Ok(Ok(caller)) => caller,
        Ok(Err(refusal)) => {
            if refusal.counts() {
                auth.failed(client);
            }
            return unauthorized(refusal.message());
        }
    };
    if path == "/metrics" && !caller.is_admin() {
        return ApiError::new(
            ErrorCode::Forbidden,
            "/metrics is for admins and the scrape token (auth.metrics_token_file)",
        )
        .denied()
        .into_response();
    }
    request.extensions_mut().insert(caller.clone());
    let mut response = next.run(request).await;
    response.extensions_mut().insert(caller);
    response
}

/// A 401 with its challenge.
pub fn unauthorized(message: String) -> Response {
    let mut response = ApiError::new(ErrorCode::Unauthorized, message)
        .denied()
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"sextant\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_api_and_metrics_need_credentials() {
        for open in [
            "/healthz",
            "/readyz",
            "/api/v1/openapi.json",
            "/api/v1/login",
            "/internal/v1/jobs/x/task",
            "/",
        ] {
            assert!(open_path(open), "{open}");
        }
        for closed in [
            "/api/v1/projects",
            "/api/v1/jobs/x",
            "/metrics",
            "/api/v2/x",
        ] {
            assert!(!open_path(closed), "{closed}");
        }
    }

    #[test]
    fn credentials_come_from_the_header_then_the_cookie() {
        let mut headers = HeaderMap::new();
        assert!(matches!(credentials(&headers), Ok(None)));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; sextant_session=sxt_1"),
        );
        assert_eq!(
            credentials(&headers).ok().flatten().as_deref(),
            Some("sxt_1")
        );
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer sxt_2"),
        );
        assert_eq!(
            credentials(&headers).ok().flatten().as_deref(),
            Some("sxt_2")
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(matches!(credentials(&headers), Err(Refusal::Malformed(_))));
    }
}

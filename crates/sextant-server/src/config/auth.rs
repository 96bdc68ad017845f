//! The `[auth]` section: whether requests need credentials, how long checks are cached, the
//! bootstrap and scrape tokens, and the limit on failed attempts.

use std::path::PathBuf;

use serde::Deserialize;

use super::Env;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAuthConfig {
    enabled: Option<bool>,
    cache_seconds: Option<f64>,
    bootstrap_token_file: Option<PathBuf>,
    metrics_token_file: Option<PathBuf>,
    max_failures_per_minute: Option<u32>,
    session_hours: Option<f64>,
    secure_cookies: Option<bool>,
}

/// Who may call the API.
#[derive(Clone, Debug, PartialEq)]
pub struct AuthConfig {
    /// Every `/api/v1` route needs a token or a session (off: anyone who reaches the port acts
    /// as an admin, and the server only listens on loopback).
    pub enabled: bool,
    /// How long a checked token, its user and their roles are trusted before they are read
    /// again: the longest a revocation or a disabled user may take to act on another process.
    pub cache_seconds: f64,
    /// A file holding the first admin's token, for a start on an empty metastore (a Kubernetes
    /// Secret); without it the token is made up and written to `<data-dir>/admin.token`.
    pub bootstrap_token_file: Option<PathBuf>,
    /// A file holding the token Prometheus sends to `/metrics` (without it, `/metrics` is for
    /// admins only).
    pub metrics_token_file: Option<PathBuf>,
    /// Failed authentications a client address may make in a minute before it is answered 429.
    pub max_failures_per_minute: u32,
    /// How long a web GUI login lasts.
    pub session_hours: f64,
    /// Whether session cookies are marked `Secure` whatever the request (they always are when
    /// it came over HTTPS through a proxy that says so with `X-Forwarded-Proto`).
    pub secure_cookies: bool,
}

impl AuthConfig {
    pub(super) fn load(a: FileAuthConfig, env: &Env) -> Result<AuthConfig, String> {
        Ok(AuthConfig {
            enabled: env
                .num("SEXTANT_AUTH_ENABLED")?
                .or(a.enabled)
                .unwrap_or(true),
            cache_seconds: env
                .num("SEXTANT_AUTH_CACHE_SECONDS")?
                .or(a.cache_seconds)
                .unwrap_or(10.0),
            bootstrap_token_file: env
                .var("SEXTANT_BOOTSTRAP_TOKEN_FILE")
                .map(PathBuf::from)
                .or(a.bootstrap_token_file),
            metrics_token_file: env
                .var("SEXTANT_METRICS_TOKEN_FILE")
                .map(PathBuf::from)
                .or(a.metrics_token_file),
            max_failures_per_minute: env
                .num("SEXTANT_MAX_AUTH_FAILURES_PER_MINUTE")?
                .or(a.max_failures_per_minute)
                .unwrap_or(30),
            session_hours: a.session_hours.unwrap_or(12.0),
            secure_cookies: a.secure_cookies.unwrap_or(false),
        })
    }

    pub(super) fn check(&self) -> Result<(), String> {
        if !(0.0..=30.0).contains(&self.cache_seconds) {
            return Err(
                "auth.cache_seconds must be between 0 and 30 (a revocation acts within it)".into(),
            );
        }
        if self.max_failures_per_minute == 0 {
            return Err("auth.max_failures_per_minute must be at least 1".into());
        }
        if !(0.01..=720.0).contains(&self.session_hours) {
            return Err("auth.session_hours must be between 0.01 and 720".into());
        }
        Ok(())
    }
}

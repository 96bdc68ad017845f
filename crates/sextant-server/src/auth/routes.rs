//! The accounts API (served with the gateway): the web GUI's login, who am I, users (admins),
//! API tokens (each user their own), and the audit log.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration as Span, Utc};
use sextant_api::{
    AuditEntry, AuditQuery, CreateToken, CreateUser, CreatedToken, CreatedUser, Login, Role,
    TokenInfo, UpdateUser, User, Whoami,
};
use sextant_store::{TokenRecord, UserChange, UserRecord};
use uuid::Uuid;

use super::{Caller, SESSION_COOKIE, client_address, secrets, session_cookie, too_many};
use crate::Deps;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody, ErrorCode};

/// The accounts routes.
pub fn account_routes(deps: Deps) -> Router {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(whoami))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{user}", get(get_user).patch(update_user))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/api/v1/audit", get(read_audit))
        .with_state(deps)
}

/// The longest token name.
const MAX_TOKEN_NAME: usize = 64;

/// Runs an Argon2 hash or check off the async runtime.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("a password check failed: {e}")))
}

/// Makes a token for `user`: the secret (shown once) and its record (stored).
fn make_token(
    user: &str,
    name: &str,
    kind: &str,
    expires_in: Option<Span>,
) -> ApiResult<(String, TokenRecord)> {
    let token = secrets::new_token()?;
    let now = Utc::now();
    let record = TokenRecord {
        info: TokenInfo {
            id: Uuid::new_v4(),
            user: user.to_string(),
            name: name.to_string(),
            kind: kind.to_string(),
            created_at: now,
            expires_at: expires_in.map(|span| now + span),
            last_used_at: None,
            revoked_at: None,
        },
        hash: secrets::token_hash(&token),
    };
    Ok((token, record))
}

/// Logs in to the web GUI: a password for a session cookie (HttpOnly, SameSite=Strict, Secure
/// over HTTPS). Failures say only that the user or password is wrong, and count against the
/// client's limit.
#[utoipa::path(post, path = "/api/v1/login", tag = "gateway",
    request_body = Login,
    responses((status = 200, body = User), (status = 401, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub async fn login(
    State(deps): State<Deps>,
    request_headers: HeaderMap,
    extensions: axum::http::Extensions,
    ApiJson(login): ApiJson<Login>,
) -> Response {
    let client = client_address(&extensions);
    if let Some(wait) = deps.auth.blocked(client) {
        return too_many(wait);
    }
    let stored = deps.metastore.user(&login.user).await.ok();
    let hash = stored.as_ref().and_then(|u| u.password_hash.clone());
    let password = login.password.clone();
    let matches = match blocking(move || secrets::verify_password(&password, hash.as_deref())).await
    {
        Ok(matches) => matches,
        Err(e) => return e.into_response(),
    };
    let user = match stored {
        Some(u) if matches && !u.user.disabled => u.user,
        _ => {
            deps.auth.failed(client);
            return super::unauthorized("unknown user or wrong password".into());
        }
    };
    let hours = deps.auth.config().session_hours;
    let span = Span::milliseconds((hours * 3_600_000.0) as i64);
    let (token, record) = match make_token(&user.name, "web session", "session", Some(span)) {
        Ok(made) => made,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = deps.metastore.add_token(&record).await {
        return ApiError::from(e).into_response();
    }
    let secure = deps.auth.config().secure_cookies
        || request_headers
            .get("x-forwarded-proto")
            .is_some_and(|p| p.as_bytes() == b"https");
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        span.num_seconds(),
        if secure { "; Secure" } else { "" }
    );
    tracing::info!(user = %user.name, "logged in");
    let mut response = Json(user).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Ends the web GUI session the request carries (its token is revoked) and clears the cookie.
#[utoipa::path(post, path = "/api/v1/logout", tag = "gateway",
    responses((status = 204, description = "Logged out"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(deps): State<Deps>,
    caller: Caller,
    request_headers: HeaderMap,
) -> ApiResult<Response> {
    if session_cookie(&request_headers).is_some()
        && let Some(id) = caller.token_id
    {
        deps.metastore.revoke_token(id, Utc::now()).await?;
        deps.auth.forget(caller.name());
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sextant_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(response)
}

/// Who the caller is, and their roles.
#[utoipa::path(get, path = "/api/v1/me", tag = "gateway",
    responses((status = 200, body = Whoami), (status = 401, body = ErrorBody)))]
pub async fn whoami(State(deps): State<Deps>, caller: Caller) -> ApiResult<Json<Whoami>> {
    let roles = match caller.token_id {
        Some(_) => deps.metastore.memberships(caller.name()).await?,
        None => Vec::new(),
    };
    Ok(Json(Whoami {
        user: (*caller.user).clone(),
        roles,
    }))
}

/// Every user (admins only).
#[utoipa::path(get, path = "/api/v1/users", tag = "gateway",
    responses((status = 200, body = Vec<User>), (status = 401, body = ErrorBody)))]
pub async fn list_users(State(deps): State<Deps>, caller: Caller) -> ApiResult<Json<Vec<User>>> {
    caller.require_admin()?;
    let users = deps.metastore.users().await?;
    Ok(Json(users.into_iter().map(|u| u.user).collect()))
}

/// Creates a user (admins only) with a first API token, shown once.
#[utoipa::path(post, path = "/api/v1/users", tag = "gateway",
    request_body = CreateUser,
    responses((status = 201, body = CreatedUser), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_user(
    State(deps): State<Deps>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    caller.require_admin()?;
    crate::ingest::check_name("user", &request.name)?;
    let password_hash = match request.password {
        Some(password) => {
            secrets::check_password(&password)?;
            Some(blocking(move || secrets::hash_password(&password)).await??)
        }
        None => None,
    };
    let user = User {
        name: request.name.clone(),
        admin: request.admin,
        disabled: false,
        has_password: password_hash.is_some(),
        created_at: Utc::now(),
    };
    deps.metastore
        .create_user(&UserRecord {
            user: user.clone(),
            password_hash,
        })
        .await?;
    let (token, record) = make_token(&user.name, "first token", "api", None)?;
    deps.metastore.add_token(&record).await?;
    tracing::info!(user = %user.name, admin = user.admin, by = %caller.name(), "user created");
    Ok((StatusCode::CREATED, Json(CreatedUser { user, token })))
}

/// Reads `name` as the caller may: admins any user, others only themselves (anyone else is
/// answered 404, so users cannot find out who else exists).
async fn visible_user(deps: &Deps, caller: &Caller, name: &str) -> ApiResult<UserRecord> {
    if !caller.is_admin() && caller.name() != name {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("user {} does not exist", crate::error::quote(name)),
        )
        .denied());
    }
    Ok(deps.metastore.user(name).await?)
}

/// One user (admins, or the user themselves).
#[utoipa::path(get, path = "/api/v1/users/{user}", tag = "gateway",
    params(("user" = String, Path)),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn get_user(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(visible_user(&deps, &caller, &name).await?.user))
}

/// Changes a user: admins may disable, enable, make admin and set passwords; a user may set
/// their own password.
#[utoipa::path(patch, path = "/api/v1/users/{user}", tag = "gateway",
    params(("user" = String, Path)),
    request_body = UpdateUser,
    responses((status = 200, body = User), (status = 401, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_user(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(change): ApiJson<UpdateUser>,
) -> ApiResult<Json<User>> {
    visible_user(&deps, &caller, &name).await?;
    if (change.disabled.is_some() || change.admin.is_some()) && !caller.is_admin() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            "only admins may disable users or make them admins",
        )
        .denied());
    }
    if name == caller.name() && (change.disabled == Some(true) || change.admin == Some(false)) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "admins cannot disable themselves or give up admin (another admin can)",
        ));
    }
    let password_hash = match change.password {
        Some(password) => {
            secrets::check_password(&password)?;
            Some(blocking(move || secrets::hash_password(&password)).await??)
        }
        None => None,
    };
    let changed = deps
        .metastore
        .update_user(
            &name,
            &UserChange {
                disabled: change.disabled,
                admin: change.admin,
                password_hash,
            },
        )
        .await?;
    deps.auth.forget(&name);
    tracing::info!(user = %name, by = %caller.name(), "user changed");
    Ok(Json(changed.user))
}

/// Which tokens to list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokensQuery {
    /// Whose (admins only; default: the caller's own).
    #[serde(default)]
    pub user: Option<String>,
}

/// The caller's tokens (an admin may name another user's).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "gateway",
    params(TokensQuery),
    responses((status = 200, body = Vec<TokenInfo>), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn list_tokens(
    State(deps): State<Deps>,
    caller: Caller,
    ApiQuery(query): ApiQuery<TokensQuery>,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    let user = query.user.unwrap_or_else(|| caller.name().to_string());
    visible_user(&deps, &caller, &user).await?;
    let tokens = deps.metastore.tokens(&user).await?;
    Ok(Json(tokens.into_iter().map(|t| t.info).collect()))
}

/// Makes an API token for the caller, shown once.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "gateway",
    request_body = CreateToken,
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(deps): State<Deps>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    if caller.token_id.is_none() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "authentication is off (auth.enabled = false): there are no tokens to make",
        ));
    }
    let name = request.name.unwrap_or_else(|| "cli".into());
    if name.is_empty() || name.chars().count() > MAX_TOKEN_NAME {
        return Err(ApiError::invalid(format!(
            "a token's name has 1 to {MAX_TOKEN_NAME} characters"
        )));
    }
    let expires_in = match request.expires_in_seconds {
        Some(0) => return Err(ApiError::invalid("expires_in_seconds must be at least 1")),
        Some(s) if s > 100 * 365 * 86_400 => {
            return Err(ApiError::invalid(
                "expires_in_seconds is more than 100 years: leave it out for a token that does not expire",
            ));
        }
        Some(s) => Some(Span::seconds(s as i64)),
        None => None,
    };
    let (token, record) = make_token(caller.name(), &name, "api", expires_in)?;
    deps.metastore.add_token(&record).await?;
    tracing::info!(user = %caller.name(), token_id = %record.info.id, "token created");
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token,
            info: record.info,
        }),
    ))
}

/// Revokes a token: the caller's own, or any (admins). Acts at once on this process and
/// within `auth.cache_seconds` on the others.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "gateway",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TokenInfo), (status = 401, body = ErrorBody)))]
pub async fn revoke_token(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<TokenInfo>> {
    let missing = || {
        ApiError::new(
            ErrorCode::NotFound,
            format!("token \"{id}\" does not exist"),
        )
        .denied()
    };
    let token = deps.metastore.token(id).await.map_err(|_| missing())?;
    if !caller.is_admin() && token.info.user != caller.name() {
        return Err(missing());
    }
    deps.metastore.revoke_token(id, Utc::now()).await?;
    deps.auth.forget(&token.info.user);
    tracing::info!(user = %token.info.user, token_id = %id, by = %caller.name(), "token revoked");
    Ok(Json(deps.metastore.token(id).await?.info))
}

/// The audit log, newest first: all of it for admins; a project's entries for its owners.
#[utoipa::path(get, path = "/api/v1/audit", tag = "gateway",
    params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 401, body = ErrorBody)))]
pub async fn read_audit(
    State(deps): State<Deps>,
    caller: Caller,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    if !(1..=10_000).contains(&query.limit.unwrap_or(100)) {
        return Err(ApiError::bad_request("limit must be between 1 and 10000"));
    }
    if !caller.is_admin() {
        let Some(project) = &query.project else {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "the whole audit log is for admins: name a project you own (?project=…)",
            )
            .denied());
        };
        caller.require(&deps, project, Role::Owner).await?;
    }
    Ok(Json(deps.metastore.audit(&query).await?))
}

//! Accounts: users, their API tokens, their roles on projects, and the audit log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// What a user may do in a project; each role may do everything the one before it may.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything in the project.
    Viewer,
    /// Also uploads, runs and cancels jobs, deletes models and datasets.
    Editor,
    /// Also grants and revokes roles and deletes the project.
    Owner,
}

impl Role {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Owner => "owner",
        }
    }

    /// The role a name stands for.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// A user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// The user's name.
    pub name: String,
    /// Admins manage users and see every project.
    pub admin: bool,
    /// A disabled user's tokens and sessions are refused.
    pub disabled: bool,
    /// Whether the user can log in to the web GUI with a password.
    pub has_password: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// The body of `POST /api/v1/users`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// The new user's name.
    #[schema(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    pub name: String,
    /// Whether the user is an admin.
    #[serde(default)]
    pub admin: bool,
    /// A password for the web GUI's login (at least 12 characters); none: tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A new user and their first token, shown this once.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedUser {
    /// The user.
    pub user: User,
    /// The user's first API token: it is not stored and cannot be shown again.
    pub token: String,
}

/// The body of `PATCH /api/v1/users/{user}`: what to change.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// Disable (every token and session is refused at once) or enable the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    /// Make the user an admin, or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<bool>,
    /// A new password (at least 12 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// An API token as listed: never the token itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    /// The token's id (for revoking it).
    pub id: Uuid,
    /// Whose it is.
    pub user: String,
    /// What it is for.
    pub name: String,
    /// `api` (a bearer token) or `session` (a web GUI login).
    pub kind: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (recorded at most once a minute).
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The body of `POST /api/v1/tokens`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// What it is for (default: `cli`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Seconds until it expires (default: never).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::opt_u64"
    )]
    #[schema(minimum = 1)]
    pub expires_in_seconds: Option<u64>,
}

/// A new token, shown this once.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The token: send it as `Authorization: Bearer <token>`. It is not stored and cannot be
    /// shown again.
    pub token: String,
    /// Its description.
    pub info: TokenInfo,
}

/// The body of `POST /api/v1/login`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The user's name.
    pub user: String,
    /// The user's password.
    pub password: String,
}

/// A user's role on a project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Member {
    /// The project.
    pub project: String,
    /// The user.
    pub user: String,
    /// The role.
    pub role: Role,
    /// When it was granted.
    pub granted_at: DateTime<Utc>,
    /// Who granted it.
    #[serde(default)]
    pub granted_by: Option<String>,
}

/// The body of `PUT /api/v1/projects/{project}/members/{user}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRole {
    /// The role to give.
    pub role: Role,
}

/// Who the caller is: `GET /api/v1/me`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Whoami {
    /// The user.
    pub user: User,
    /// Their roles (an admin sees every project whatever these say).
    pub roles: Vec<Member>,
}

/// One entry of the audit log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    /// Its place in the log (increasing).
    pub id: i64,
    /// When the request was answered.
    pub at: DateTime<Utc>,
    /// Who made it (none: no valid credentials).
    #[serde(default)]
    pub user: Option<String>,
    /// The method and route, e.g. `DELETE /api/v1/projects/{project}/models/{model}`.
    pub action: String,
    /// The path asked for.
    pub resource: String,
    /// The project it concerns, when one does.
    #[serde(default)]
    pub project: Option<String>,
    /// The HTTP status of the answer.
    pub status: u16,
    /// `ok`, `denied` (401, 403, or a project the caller may not see) or `failed`.
    pub outcome: String,
    /// The client's address.
    pub client: String,
}

/// Which audit entries to read: `GET /api/v1/audit`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this project's (a project's owners may read its entries; the whole log is for
    /// admins).
    #[serde(default)]
    pub project: Option<String>,
    /// Only this user's.
    #[serde(default)]
    pub user: Option<String>,
    /// Only entries from this time on (RFC 3339).
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// At most this many, newest first (default 100, at most 10,000).
    #[serde(default)]
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
}

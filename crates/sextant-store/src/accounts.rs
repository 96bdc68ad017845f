//! Accounts in the metastore: users, token hashes, roles on projects, the audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::StoreResult;
use sextant_api::{AuditEntry, AuditQuery, Member, TokenInfo, User};

/// A user as stored: the view and the password's hash.
#[derive(Clone, Debug, PartialEq)]
pub struct UserRecord {
    /// The user.
    pub user: User,
    /// An Argon2id PHC string, when the user has a password.
    pub password_hash: Option<String>,
}

/// A token as stored: the view and the token's SHA-256 (hex). The token itself is never stored.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenRecord {
    /// The token's description.
    pub info: TokenInfo,
    /// SHA-256 of the token, hex.
    pub hash: String,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChange {
    /// Disable or enable.
    pub disabled: Option<bool>,
    /// Grant or take away admin.
    pub admin: Option<bool>,
    /// A new password hash.
    pub password_hash: Option<String>,
}

/// Users, tokens, roles and the audit log.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates a user; a taken name is a conflict.
    async fn create_user(&self, user: &UserRecord) -> StoreResult<()>;
    /// Creates a user with a token only when there are no users yet (the first start); false
    /// when there were (another process may have won the race).
    async fn create_first_user(&self, user: &UserRecord, token: &TokenRecord) -> StoreResult<bool>;
    /// A user by name.
    async fn user(&self, name: &str) -> StoreResult<UserRecord>;
    /// Every user, by name.
    async fn users(&self) -> StoreResult<Vec<UserRecord>>;
    /// Changes a user; answers the user as changed.
    async fn update_user(&self, name: &str, change: &UserChange) -> StoreResult<UserRecord>;

    /// Stores a new token's hash and description.
    async fn add_token(&self, token: &TokenRecord) -> StoreResult<()>;
    /// The token with this hash and its user, if any.
    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<(TokenRecord, UserRecord)>>;
    /// A token by id.
    async fn token(&self, id: Uuid) -> StoreResult<TokenRecord>;
    /// A user's tokens, newest first.
    async fn tokens(&self, user: &str) -> StoreResult<Vec<TokenRecord>>;
    /// Revokes a token; false when it already was.
    async fn revoke_token(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool>;
    /// Records that a token was used.
    async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;

    /// Gives a user a role on a project (replacing the one they had).
    async fn set_member(&self, member: &Member) -> StoreResult<()>;
    /// Takes a user's role on a project away; false when they had none.
    async fn remove_member(&self, project: &str, user: &str) -> StoreResult<bool>;
    /// A project's members, by user name.
    async fn members(&self, project: &str) -> StoreResult<Vec<Member>>;
    /// A user's roles, by project name.
    async fn memberships(&self, user: &str) -> StoreResult<Vec<Member>>;

    /// Appends an entry to the audit log (its `id` is assigned).
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// Audit entries, newest first.
    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>>;
}

//! The caller of a request and what it may do: [`Caller::require`] answers 404 for a project
//! the caller has no role on (exactly as for one that does not exist) and 403 for a role too low.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sextant_api::{Role, User};
use sextant_store::StoreError;
use uuid::Uuid;

use crate::Deps;
use crate::error::{ApiError, ApiResult, ErrorCode};

/// The authenticated caller of a request: the user, their roles when checked, and the project
/// the request turned out to concern (for the audit log).
#[derive(Clone)]
pub struct Caller {
    /// The user.
    pub user: Arc<User>,
    /// The token or session the request came with (none when authentication is off).
    pub token_id: Option<Uuid>,
    pub(super) token_hash: Option<Arc<str>>,
    pub(super) roles: Arc<HashMap<String, Role>>,
    pub(super) concerns: Arc<Mutex<Option<String>>>,
}

impl Caller {
    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.user.admin
    }

    /// The caller's name.
    pub fn name(&self) -> &str {
        &self.user.name
    }

    /// Insists the caller is an admin.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.is_admin() {
            return Ok(());
        }
        Err(ApiError::new(ErrorCode::Forbidden, "this needs an admin").denied())
    }

    /// Notes which project the request concerns, for the audit log.
    pub fn concerns(&self, project: &str) {
        *self.concerns.lock().expect("caller lock") = Some(project.to_string());
    }

    /// The project noted by [`Caller::concerns`].
    pub fn concerned_project(&self) -> Option<String> {
        self.concerns.lock().expect("caller lock").clone()
    }

    /// Insists the caller has at least `need` on `project`: with no role at all the project is
    /// answered 404 exactly as one that does not exist; with a lower role, 403. Admins may do
    /// anything (the handler still finds out whether the project exists).
    pub async fn require(&self, deps: &Deps, project: &str, need: Role) -> ApiResult<()> {
        let missing = || {
            ApiError::from(StoreError::NotFound {
                what: "project",
                name: project.to_string(),
            })
        };
        self.require_or(deps, project, need, missing).await
    }

    /// [`Caller::require`] with the 404 a request about something inside the project (a job)
    /// answers when that thing does not exist.
    pub async fn require_or(
        &self,
        deps: &Deps,
        project: &str,
        need: Role,
        missing: impl FnOnce() -> ApiError,
    ) -> ApiResult<()> {
        self.concerns(project);
        if self.is_admin() {
            return Ok(());
        }
        let mut role = self.roles.get(project).copied();
        if role.is_none_or(|r| r < need) {
            // Roles are cached: a role granted a moment ago (a project just created through
            // another process) must not be refused, so a refusal is always read afresh.
            role = deps.auth.fresh_role(self, project).await?;
        }
        match role {
            None => Err(missing().denied()),
            Some(r) if r < need => Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "your role on project {} is {}: this needs {}",
                    crate::error::quote(project),
                    r.as_str(),
                    need.as_str()
                ),
            )
            .denied()),
            Some(_) => Ok(()),
        }
    }

    /// The projects the caller may see, or `None` for all (an admin).
    pub async fn visible_projects(&self, deps: &Deps) -> ApiResult<Option<Vec<String>>> {
        if self.is_admin() {
            return Ok(None);
        }
        let roles = deps.metastore.memberships(self.name()).await?;
        Ok(Some(roles.into_iter().map(|m| m.project).collect()))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Caller> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "this request needs credentials"))
    }
}

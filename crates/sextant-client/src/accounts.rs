//! The accounts API: who am I, users, tokens, project members, the audit log.

use serde_json::Value;
use sextant_api::{
    AuditEntry, AuditQuery, CreateToken, CreateUser, CreatedToken, CreatedUser, GrantRole, Member,
    Project, Role, TokenInfo, UpdateUser, User, Whoami,
};
use uuid::Uuid;

use crate::{Client, ClientResult};

/// Escapes a value for a query string.
fn query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Client {
    /// The caller and their roles.
    pub fn whoami(&self) -> ClientResult<Whoami> {
        self.get("/api/v1/me")
    }

    /// Every user (admins).
    pub fn users(&self) -> ClientResult<Vec<User>> {
        self.get("/api/v1/users")
    }

    /// Creates a user (admins); answers the user and their first token.
    pub fn create_user(&self, user: &CreateUser) -> ClientResult<CreatedUser> {
        self.post("/api/v1/users", user)
    }

    /// Changes a user.
    pub fn update_user(&self, name: &str, change: &UpdateUser) -> ClientResult<User> {
        let answer = self.raw(
            "PATCH",
            &format!("/api/v1/users/{name}"),
            Some(&serde_json::to_value(change).expect("changes serialise")),
        )?;
        Self::typed(answer)
    }

    /// A user's tokens (the caller's own when `user` is `None`).
    pub fn tokens(&self, user: Option<&str>) -> ClientResult<Vec<TokenInfo>> {
        match user {
            Some(user) => self.get(&format!("/api/v1/tokens?user={}", query_value(user))),
            None => self.get("/api/v1/tokens"),
        }
    }

    /// Makes a token for the caller.
    pub fn create_token(&self, request: &CreateToken) -> ClientResult<CreatedToken> {
        self.post("/api/v1/tokens", request)
    }

    /// Revokes a token.
    pub fn revoke_token(&self, id: Uuid) -> ClientResult<TokenInfo> {
        self.delete(&format!("/api/v1/tokens/{id}"))
    }

    /// A project's members.
    pub fn members(&self, project: &str) -> ClientResult<Vec<Member>> {
        self.get(&format!("/api/v1/projects/{project}/members"))
    }

    /// Gives a user a role on a project.
    pub fn grant(&self, project: &str, user: &str, role: Role) -> ClientResult<Member> {
        let answer = self.raw(
            "PUT",
            &format!("/api/v1/projects/{project}/members/{user}"),
            Some(&serde_json::to_value(GrantRole { role }).expect("grants serialise")),
        )?;
        Self::typed(answer)
    }

    /// Takes a user's role on a project away.
    pub fn revoke(&self, project: &str, user: &str) -> ClientResult<()> {
        self.delete::<Value>(&format!("/api/v1/projects/{project}/members/{user}"))
            .map(drop)
    }

    /// Deletes a project with everything in it.
    pub fn delete_project(&self, project: &str) -> ClientResult<Project> {
        self.delete(&format!("/api/v1/projects/{project}"))
    }

    /// Audit entries, newest first.
    pub fn audit(&self, query: &AuditQuery) -> ClientResult<Vec<AuditEntry>> {
        let mut parts = Vec::new();
        if let Some(project) = &query.project {
            parts.push(format!("project={}", query_value(project)));
        }
        if let Some(user) = &query.user {
            parts.push(format!("user={}", query_value(user)));
        }
        if let Some(since) = &query.since {
            parts.push(format!("since={}", query_value(&since.to_rfc3339())));
        }
        if let Some(limit) = query.limit {
            parts.push(format!("limit={limit}"));
        }
        let path = if parts.is_empty() {
            "/api/v1/audit".to_string()
        } else {
            format!("/api/v1/audit?{}", parts.join("&"))
        };
        self.get(&path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_escaped() {
        assert_eq!(query_value("a b+c@d"), "a%20b%2Bc%40d");
        assert_eq!(
            query_value("2026-01-01T00:00:00+00:00"),
            "2026-01-01T00%3A00%3A00%2B00%3A00"
        );
    }
}

//! The SQL backends' [`Accounts`](crate::Accounts): written once, expanded per database by
//! [`sql_accounts!`] beside [`sql_metastore!`](crate::sql::sql_metastore) (whose row helpers it
//! uses). Statements are in the SQL both SQLite and PostgreSQL accept.

/// Expands [`Accounts`](crate::Accounts) for `$store` (a `pool` field) with rows `$row`.
macro_rules! sql_accounts {
    ($store:ty, $row:ty) => {
fn user_row(row: &$row) -> StoreResult<UserRecord> {
    let password_hash: Option<String> = get(row, "password_hash")?;
    Ok(UserRecord {
        user: User {
            name: get(row, "name")?,
            admin: get::<i64>(row, "admin")? != 0,
            disabled: get::<i64>(row, "disabled")? != 0,
            has_password: password_hash.is_some(),
            created_at: time(get(row, "created_at")?),
        },
        password_hash,
    })
}

fn token_row(row: &$row) -> StoreResult<TokenRecord> {
    let id: String = get(row, "id")?;
    Ok(TokenRecord {
        info: TokenInfo {
            id: Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt {
                what: "token id",
                source: serde::de::Error::custom(e.to_string()),
            })?,
            user: get(row, "user_name")?,
            name: get(row, "name")?,
            kind: get(row, "kind")?,
            created_at: time(get(row, "created_at")?),
            expires_at: get::<Option<i64>>(row, "expires_at")?.map(time),
            last_used_at: get::<Option<i64>>(row, "last_used_at")?.map(time),
            revoked_at: get::<Option<i64>>(row, "revoked_at")?.map(time),
        },
        hash: get(row, "hash")?,
    })
}

fn member_row(row: &$row) -> StoreResult<Member> {
    let role: String = get(row, "role")?;
    Ok(Member {
        project: get(row, "project")?,
        user: get(row, "user_name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
            what: "role",
            source: serde::de::Error::custom(format!("unknown role {role:?}")),
        })?,
        granted_at: time(get(row, "granted_at")?),
        granted_by: get(row, "granted_by")?,
    })
}

fn audit_row(row: &$row) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: get(row, "id")?,
        at: time(get(row, "at")?),
        user: get(row, "user_name")?,
        action: get(row, "action")?,
        resource: get(row, "resource")?,
        project: get(row, "project")?,
        status: get::<i64>(row, "status")? as u16,
        outcome: get(row, "outcome")?,
        client: get(row, "client")?,
    })
}

impl $store {
    async fn insert_user<'e, E>(executor: E, record: &UserRecord) -> Result<(), sqlx::Error>
    where
        E: sqlx::Executor<'e, Database = <$row as Row>::Database>,
    {
        sqlx::query(
            "INSERT INTO users (name, password_hash, admin, disabled, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&record.user.name)
        .bind(&record.password_hash)
        .bind(record.user.admin as i64)
        .bind(record.user.disabled as i64)
        .bind(millis(record.user.created_at))
        .execute(executor)
        .await
        .map(drop)
    }

    async fn insert_token<'e, E>(executor: E, token: &TokenRecord) -> Result<(), sqlx::Error>
    where
        E: sqlx::Executor<'e, Database = <$row as Row>::Database>,
    {
        let info = &token.info;
        sqlx::query(
            "INSERT INTO tokens (id, user_name, name, kind, hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(info.id.to_string())
        .bind(&info.user)
        .bind(&info.name)
        .bind(&info.kind)
        .bind(&token.hash)
        .bind(millis(info.created_at))
        .bind(info.expires_at.map(millis))
        .execute(executor)
        .await
        .map(drop)
    }
}

#[async_trait]
impl Accounts for $store {
    async fn create_user(&self, record: &UserRecord) -> StoreResult<()> {
        Self::insert_user(&self.pool, record)
            .await
            .map_err(|e| taken(e, format!("user {:?} already exists", record.user.name)))
    }

    async fn create_first_user(&self, record: &UserRecord, token: &TokenRecord) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with(DIALECT.begin_write).await.map_err(db("begin"))?;
        if !DIALECT.key_lock.is_empty() {
            sqlx::query(DIALECT.key_lock)
                .bind("sextant-bootstrap")
                .execute(&mut *tx)
                .await
                .map_err(db("lock the bootstrap"))?;
        }
        let users = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&mut *tx)
            .await
            .map_err(db("count users"))?;
        if get::<i64>(&users, "n")? != 0 {
            return Ok(false);
        }
        Self::insert_user(&mut *tx, record)
            .await
            .map_err(db("create the first user"))?;
        Self::insert_token(&mut *tx, token)
            .await
            .map_err(db("store the first token"))?;
        tx.commit().await.map_err(db("commit"))?;
        Ok(true)
    }

    async fn user(&self, name: &str) -> StoreResult<UserRecord> {
        let row = sqlx::query("SELECT * FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("read a user"))?
            .ok_or_else(|| not_found("user", name))?;
        user_row(&row)
    }

    async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        sqlx::query("SELECT * FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(db("list users"))?
            .iter()
            .map(user_row)
            .collect()
    }

    async fn update_user(&self, name: &str, change: &UserChange) -> StoreResult<UserRecord> {
        let done = sqlx::query(
            "UPDATE users SET disabled = COALESCE($2, disabled), admin = COALESCE($3, admin),
                              password_hash = COALESCE($4, password_hash)
             WHERE name = $1",
        )
        .bind(name)
        .bind(change.disabled.map(i64::from))
        .bind(change.admin.map(i64::from))
        .bind(&change.password_hash)
        .execute(&self.pool)
        .await
        .map_err(db("change a user"))?;
        if done.rows_affected() == 0 {
            return Err(not_found("user", name));
        }
        self.user(name).await
    }

    async fn add_token(&self, token: &TokenRecord) -> StoreResult<()> {
        Self::insert_token(&self.pool, token)
            .await
            .map_err(|e| taken(e, format!("user {:?} does not exist", token.info.user)))
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<(TokenRecord, UserRecord)>> {
        let Some(row) = sqlx::query("SELECT * FROM tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("look up a token"))?
        else {
            return Ok(None);
        };
        let token = token_row(&row)?;
        let user = self.user(&token.info.user).await?;
        Ok(Some((token, user)))
    }

    async fn token(&self, id: Uuid) -> StoreResult<TokenRecord> {
        let row = sqlx::query("SELECT * FROM tokens WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db("read a token"))?
            .ok_or_else(|| not_found("token", id.to_string()))?;
        token_row(&row)
    }

    async fn tokens(&self, user: &str) -> StoreResult<Vec<TokenRecord>> {
        sqlx::query("SELECT * FROM tokens WHERE user_name = $1 ORDER BY created_at DESC, id")
            .bind(user)
            .fetch_all(&self.pool)
            .await
            .map_err(db("list tokens"))?
            .iter()
            .map(token_row)
            .collect()
    }

    async fn revoke_token(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id.to_string())
        .bind(millis(at))
        .execute(&self.pool)
        .await
        .map_err(db("revoke a token"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_token(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(millis(at))
            .execute(&self.pool)
            .await
            .map_err(db("record a token's use"))?;
        Ok(())
    }

    async fn set_member(&self, member: &Member) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO members (project, user_name, role, granted_at, granted_by)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (project, user_name) DO UPDATE SET role = excluded.role,
                 granted_at = excluded.granted_at, granted_by = excluded.granted_by",
        )
        .bind(&member.project)
        .bind(&member.user)
        .bind(member.role.as_str())
        .bind(millis(member.granted_at))
        .bind(&member.granted_by)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            taken(
                e,
                format!(
                    "project {:?} or user {:?} does not exist",
                    member.project, member.user
                ),
            )
        })?;
        Ok(())
    }

    async fn remove_member(&self, project: &str, user: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM members WHERE project = $1 AND user_name = $2")
            .bind(project)
            .bind(user)
            .execute(&self.pool)
            .await
            .map_err(db("revoke a role"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn members(&self, project: &str) -> StoreResult<Vec<Member>> {
        sqlx::query("SELECT * FROM members WHERE project = $1 ORDER BY user_name")
            .bind(project)
            .fetch_all(&self.pool)
            .await
            .map_err(db("list members"))?
            .iter()
            .map(member_row)
            .collect()
    }

    async fn memberships(&self, user: &str) -> StoreResult<Vec<Member>> {
        sqlx::query("SELECT * FROM members WHERE user_name = $1 ORDER BY project")
            .bind(user)
            .fetch_all(&self.pool)
            .await
            .map_err(db("list roles"))?
            .iter()
            .map(member_row)
            .collect()
    }

    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit (at, user_name, action, resource, project, status, outcome, client)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(millis(entry.at))
        .bind(&entry.user)
        .bind(&entry.action)
        .bind(&entry.resource)
        .bind(&entry.project)
        .bind(i64::from(entry.status))
        .bind(&entry.outcome)
        .bind(&entry.client)
        .execute(&self.pool)
        .await
        .map_err(db("append to the audit log"))?;
        Ok(())
    }

    async fn audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditEntry>> {
        sqlx::query(
            "SELECT * FROM audit WHERE (CAST($1 AS TEXT) IS NULL OR project = $1)
             AND (CAST($2 AS TEXT) IS NULL OR user_name = $2)
             AND (CAST($3 AS BIGINT) IS NULL OR at >= $3)
             ORDER BY id DESC LIMIT $4",
        )
        .bind(&query.project)
        .bind(&query.user)
        .bind(query.since.map(millis))
        .bind(i64::from(query.limit.unwrap_or(100)))
        .fetch_all(&self.pool)
        .await
        .map_err(db("read the audit log"))?
        .iter()
        .map(audit_row)
        .collect()
    }
}
    };
}

pub(crate) use sql_accounts;

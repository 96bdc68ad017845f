//! The first admin. A server that starts on a metastore with no users creates the user `admin`
//! with one token: read from `auth.bootstrap_token_file` (a Kubernetes Secret), or made up and
//! written to `<data-dir>/admin.token` (mode 0600). The path is logged, never the token.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use chrono::Utc;
use sextant_api::{TokenInfo, User};
use sextant_store::{TokenRecord, UserRecord};
use uuid::Uuid;

use super::secrets;
use crate::Deps;

/// The first admin's name.
pub const ADMIN: &str = "admin";

/// The file the first admin's token is written to, in the data directory.
pub const TOKEN_FILE: &str = "admin.token";

/// Where the first admin's token is written.
pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(TOKEN_FILE)
}

/// Creates the first admin when the metastore has no users.
pub async fn bootstrap(deps: &Deps) -> Result<(), String> {
    if !deps.auth.enabled() {
        return Ok(());
    }
    if !deps
        .metastore
        .users()
        .await
        .map_err(|e| e.to_string())?
        .is_empty()
    {
        return Ok(());
    }
    let given = &deps.config.auth.bootstrap_token_file;
    let token = match given {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("auth.bootstrap_token_file {}: {e}", path.display()))?;
            let token = text.trim().to_string();
            secrets::check_shape(&token).map_err(|why| {
                format!(
                    "auth.bootstrap_token_file {}: not a token ({why}); make one with: echo sxt_$(openssl rand -hex 32)",
                    path.display()
                )
            })?;
            token
        }
        None => secrets::new_token().map_err(|e| e.message().to_string())?,
    };
    let now = Utc::now();
    let user = UserRecord {
        user: User {
            name: ADMIN.into(),
            admin: true,
            disabled: false,
            has_password: false,
            created_at: now,
        },
        password_hash: None,
    };
    let record = TokenRecord {
        info: TokenInfo {
            id: Uuid::new_v4(),
            user: ADMIN.into(),
            name: "bootstrap".into(),
            kind: "api".into(),
            created_at: now,
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        },
        hash: secrets::token_hash(&token),
    };
    // Written aside first: the token must not be lost once the user exists.
    let target = token_path(&deps.config.data_dir);
    let aside = target.with_extension(format!("token.{}", Uuid::new_v4().simple()));
    if given.is_none() {
        write_private(&aside, &token)?;
    }
    let created = deps.metastore.create_first_user(&user, &record).await;
    let created = match created {
        Ok(created) => created,
        Err(e) => {
            let _ = std::fs::remove_file(&aside);
            return Err(e.to_string());
        }
    };
    if !created {
        let _ = std::fs::remove_file(&aside);
        return Ok(());
    }
    match given {
        Some(path) => tracing::info!(
            user = ADMIN,
            token_file = %path.display(),
            "created the first admin with the bootstrap token"
        ),
        None => {
            std::fs::rename(&aside, &target).map_err(|e| format!("{}: {e}", target.display()))?;
            tracing::info!(
                user = ADMIN,
                token_file = %target.display(),
                "created the first admin; its token is in the file (readable by this user only)"
            );
        }
    }
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

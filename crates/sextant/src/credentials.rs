//! The CLI's saved credentials: `$XDG_CONFIG_HOME/sextant/credentials.toml` (else
//! `~/.config/sextant/credentials.toml`), mode 0600, a token per server and the server to use
//! when none is named. `--token` and `SEXTANT_TOKEN` override the saved token, `--server` and
//! `SEXTANT_SERVER` the saved server.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// What is saved for one server.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    /// The API token.
    pub token: String,
    /// Whose it is (shown by `sextant login`, not used to authenticate).
    #[serde(default)]
    pub user: Option<String>,
}

/// The credentials file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// The server used when none is named.
    #[serde(default)]
    pub default: Option<String>,
    /// Saved tokens, by server URL.
    #[serde(default)]
    pub servers: BTreeMap<String, Saved>,
}

/// Where the credentials file is.
pub fn path() -> anyhow::Result<PathBuf> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => {
                bail!("neither XDG_CONFIG_HOME nor HOME is set: cannot find the credentials file")
            }
        },
    };
    Ok(config.join("sextant").join("credentials.toml"))
}

/// A server URL as saved: without a trailing slash.
pub fn server_key(url: &str) -> String {
    url.trim_end_matches('/').to_string()
}

impl Credentials {
    /// Reads the credentials file (none yet: empty).
    pub fn load() -> anyhow::Result<Credentials> {
        let path = path()?;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Credentials::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// The token saved for a server.
    pub fn token_for(&self, server: &str) -> Option<&str> {
        self.servers
            .get(&server_key(server))
            .map(|s| s.token.as_str())
    }

    /// Saves a server's token and makes it the default server; written whole, readable by the
    /// user only.
    pub fn save(&mut self, server: &str, saved: Saved) -> anyhow::Result<PathBuf> {
        let key = server_key(server);
        self.servers.insert(key.clone(), saved);
        self.default = Some(key);
        let path = path()?;
        let dir = path.parent().expect("the file is in a folder");
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        let text = toml::to_string(self).context("cannot write the credentials")?;
        let aside = dir.join(format!(".credentials.{}.toml", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&aside)
            .with_context(|| format!("cannot write {}", aside.display()))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", aside.display()))?;
        std::fs::rename(&aside, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    }
}

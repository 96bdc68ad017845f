//! `sextant login`, `whoami`, `user`, `token` and `audit`.

use std::io::BufRead;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use sextant_api::{AuditQuery, CreateToken, CreateUser, UpdateUser};
use sextant_client::Client;
use uuid::Uuid;

use super::{ClientArgs, print_json};
use crate::Failure;
use crate::credentials::{Credentials, Saved};
use crate::report::print_table;

#[derive(Args)]
pub struct LoginArgs {}

/// Reads one line from standard input (a token or a password piped in), without its newline.
fn read_line(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.is_empty() {
        bail!("no {what} on standard input");
    }
    Ok(line)
}

/// `sextant login`: checks the token with the server, then saves it.
pub fn login(args: ClientArgs, _: LoginArgs) -> Result<(), Failure> {
    let mut saved = Credentials::load()?;
    let server = args
        .server
        .clone()
        .or_else(|| saved.default.clone())
        .unwrap_or_else(|| sextant_client::DEFAULT_SERVER.to_string());
    let token = match args.token {
        Some(token) => token,
        None => {
            eprintln!(
                "token for {server} (from `sextant user create` or the data folder's admin.token):"
            );
            read_line("token")?
        }
    };
    let client = Client::new(&server).with_token(token.clone());
    let me = client
        .whoami()
        .map_err(|e| anyhow!("{server} did not accept the token: {e}"))?;
    let path = saved.save(
        &server,
        Saved {
            token,
            user: Some(me.user.name.clone()),
        },
    )?;
    if args.json {
        print_json(&me);
    } else {
        println!(
            "logged in to {server} as {}{}; saved in {}",
            me.user.name,
            if me.user.admin { " (admin)" } else { "" },
            path.display()
        );
    }
    Ok(())
}

/// `sextant whoami`.
pub fn whoami(client: &Client, json_out: bool) -> Result<(), Failure> {
    let me = client.whoami()?;
    if json_out {
        print_json(&me);
        return Ok(());
    }
    println!(
        "{} on {}{}",
        me.user.name,
        client.base(),
        if me.user.admin {
            " (admin: every project)"
        } else {
            ""
        }
    );
    let rows: Vec<Vec<String>> = me
        .roles
        .iter()
        .map(|m| vec![m.project.clone(), m.role.as_str().to_string()])
        .collect();
    if !rows.is_empty() {
        print_table(&["PROJECT", "ROLE"], &rows);
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; prints their first API token (shown once).
    Create {
        name: String,
        /// Make the user an admin.
        #[arg(long)]
        admin: bool,
        /// Read a password for the web GUI from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable a user: their tokens and sessions stop working.
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
    /// Set a user's password (read from standard input).
    Passwd { name: String },
}

fn print_users(users: &[sextant_api::User]) {
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.name.clone(),
                if u.admin { "yes" } else { "no" }.into(),
                if u.disabled { "disabled" } else { "active" }.into(),
                if u.has_password { "yes" } else { "no" }.into(),
                u.created_at.format("%Y-%m-%d %H:%M").to_string(),
            ]
        })
        .collect();
    print_table(&["NAME", "ADMIN", "STATE", "PASSWORD", "CREATED"], &rows);
}

/// `sextant user …`.
pub fn user(client: &Client, json_out: bool, command: UserCommand) -> Result<(), Failure> {
    let change = |name: &str, change: UpdateUser| -> Result<(), Failure> {
        let user = client.update_user(name, &change)?;
        if json_out {
            print_json(&user);
        } else {
            print_users(std::slice::from_ref(&user));
        }
        Ok(())
    };
    match command {
        UserCommand::Create {
            name,
            admin,
            password_stdin,
        } => {
            let password = password_stdin.then(|| read_line("password")).transpose()?;
            let created = client.create_user(&CreateUser {
                name,
                admin,
                password,
            })?;
            if json_out {
                print_json(&created);
            } else {
                println!(
                    "created user {}{}; their token (shown once, give it to them):",
                    created.user.name,
                    if created.user.admin { " (admin)" } else { "" }
                );
                println!("{}", created.token);
            }
            Ok(())
        }
        UserCommand::List => {
            let users = client.users()?;
            if json_out {
                print_json(&users);
            } else {
                print_users(&users);
            }
            Ok(())
        }
        UserCommand::Disable { name } => change(
            &name,
            UpdateUser {
                disabled: Some(true),
                ..UpdateUser::default()
            },
        ),
        UserCommand::Enable { name } => change(
            &name,
            UpdateUser {
                disabled: Some(false),
                ..UpdateUser::default()
            },
        ),
        UserCommand::Passwd { name } => {
            let password = read_line("password")?;
            change(
                &name,
                UpdateUser {
                    password: Some(password),
                    ..UpdateUser::default()
                },
            )
        }
    }
}

/// A duration like `30d`, `12h`, `45m` or `90s`, in seconds.
pub fn parse_duration(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| anyhow!("{text:?} has no unit: write e.g. 30d, 12h, 45m or 90s"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| anyhow!("{text:?} does not start with a number"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => bail!("{text:?}: the unit is one of s, m, h, d, w"),
    };
    n.checked_mul(scale)
        .filter(|s| *s > 0)
        .ok_or_else(|| anyhow!("{text:?} is not a usable duration"))
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make an API token for yourself (shown once).
    Create {
        /// What it is for.
        #[arg(long)]
        name: Option<String>,
        /// When it expires, from now: 30d, 12h, 45m (default: never).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List your tokens (an admin may name another user's).
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke { id: Uuid },
}

fn print_tokens(tokens: &[sextant_api::TokenInfo]) {
    let when = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            let state = if t.revoked_at.is_some() {
                "revoked"
            } else if t.expires_at.is_some_and(|e| e <= Utc::now()) {
                "expired"
            } else {
                "active"
            };
            vec![
                t.id.to_string(),
                t.name.clone(),
                t.kind.clone(),
                state.into(),
                when(Some(t.created_at)),
                when(t.expires_at),
                when(t.last_used_at),
            ]
        })
        .collect();
    print_table(
        &[
            "ID",
            "NAME",
            "KIND",
            "STATE",
            "CREATED",
            "EXPIRES",
            "LAST USED",
        ],
        &rows,
    );
}

/// `sextant token …`.
pub fn token(client: &Client, json_out: bool, command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Create { name, expires } => {
            let expires_in_seconds = expires.as_deref().map(parse_duration).transpose()?;
            let created = client.create_token(&CreateToken {
                name,
                expires_in_seconds,
            })?;
            if json_out {
                print_json(&created);
            } else {
                eprintln!(
                    "token {} ({}), shown once{}:",
                    created.info.id,
                    created.info.name,
                    created
                        .info
                        .expires_at
                        .map(|e| format!(", expires {}", e.to_rfc3339()))
                        .unwrap_or_default()
                );
                println!("{}", created.token);
            }
        }
        TokenCommand::List { user } => {
            let tokens = client.tokens(user.as_deref())?;
            if json_out {
                print_json(&tokens);
            } else {
                print_tokens(&tokens);
            }
        }
        TokenCommand::Revoke { id } => {
            let revoked = client.revoke_token(id)?;
            if json_out {
                print_json(&revoked);
            } else {
                println!("revoked token {} ({})", revoked.id, revoked.name);
            }
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct AuditArgs {
    /// Only this project's entries (owners may read their projects').
    #[arg(long)]
    project: Option<String>,
    /// Only this user's entries.
    #[arg(long)]
    user: Option<String>,
    /// Since a time (RFC 3339) or for a while back (1h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

/// `sextant audit`.
pub fn audit(client: &Client, json_out: bool, args: AuditArgs) -> Result<(), Failure> {
    let since = match args.since.as_deref() {
        None => None,
        Some(text) => Some(match DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.with_timezone(&Utc),
            Err(_) => {
                let back = parse_duration(text).map_err(|e| {
                    anyhow!("--since {text:?}: not an RFC 3339 time, nor a duration ({e})")
                })?;
                Utc::now() - chrono::Duration::seconds(back as i64)
            }
        }),
    };
    let entries = client.audit(&AuditQuery {
        project: args.project,
        user: args.user,
        since,
        limit: Some(args.limit),
    })?;
    if json_out {
        print_json(&entries);
        return Ok(());
    }
    // The request as made (method and path); --json also has the route it matched.
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let method = e.action.split(' ').next().unwrap_or_default();
            vec![
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.user.clone().unwrap_or_else(|| "-".into()),
                format!("{method} {}", e.resource),
                e.status.to_string(),
                e.outcome.clone(),
                e.client.clone(),
            ]
        })
        .collect();
    print_table(
        &["TIME", "USER", "REQUEST", "STATUS", "OUTCOME", "CLIENT"],
        &rows,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_their_unit() {
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_duration("12h").unwrap(), 43_200);
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("3y").is_err());
    }
}

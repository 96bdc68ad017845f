//! A real `sextant serve` process on 127.0.0.1 for a test, and calls to it through the typed
//! client (`sextant-client`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sextant_client::Client;

use crate::support::Scratch;

/// A server process with its own data directory; killed when dropped.
pub struct Server {
    pub url: String,
    pub data_dir: PathBuf,
    /// The typed client of this server, signed in as the first admin.
    pub client: Client,
    /// The first admin's token (from the data directory's admin.token), when this server made
    /// it.
    pub token: Option<String>,
    child: Option<Child>,
    /// The data directory, when the server owns it.
    _scratch: Option<Scratch>,
}

/// Writes a fresh first-admin token to `dir/admin-bootstrap.token` for servers that share a
/// metastore (as a Kubernetes Secret would hold it); answers the file.
pub fn bootstrap_token_file(dir: &Path) -> PathBuf {
    let token = format!(
        "sxt_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let path = dir.join("admin-bootstrap.token");
    std::fs::write(&path, token).unwrap();
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits for `done` to hold, polling, or panics after `timeout` with `what`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Server {
    /// A fresh temporary data directory, removed when dropped.
    pub fn temp_dir(name: &str) -> Scratch {
        crate::support::scratch(name)
    }

    /// Starts `sextant serve` on `data_dir` with extra environment variables; waits until ready.
    pub fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        Server::start_with(data_dir, env, |_| {})
    }

    /// Starts `sextant serve` whose soft limit on open files is `soft` at start (the hard limit
    /// stays the test's).
    pub fn start_with_open_files(data_dir: &Path, env: &[(&str, &str)], soft: u64) -> Server {
        use std::os::unix::process::CommandExt;
        Server::start_with(data_dir, env, |command| {
            // SAFETY: between fork and exec, getrlimit/setrlimit only (async-signal-safe).
            unsafe {
                command.pre_exec(move || {
                    let mut limit = libc::rlimit {
                        rlim_cur: 0,
                        rlim_max: 0,
                    };
                    libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
                    limit.rlim_cur = soft.min(limit.rlim_max);
                    libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
                    Ok(())
                });
            }
        })
    }

    fn start_with(
        data_dir: &Path,
        env: &[(&str, &str)],
        configure: impl FnOnce(&mut Command),
    ) -> Server {
        let port = free_port();
        let log = std::fs::File::create(data_dir.join(format!("server-{port}.log"))).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("RUST_BACKTRACE")
            .env("SEXTANT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        for (k, v) in env {
            command.env(k, v);
        }
        configure(&mut command);
        let child = command.spawn().expect("sextant serve starts");
        let url = format!("http://127.0.0.1:{port}");
        let mut server = Server {
            client: Client::new(&url),
            token: None,
            url,
            data_dir: data_dir.to_path_buf(),
            child: Some(child),
            _scratch: None,
        };
        wait_until("the server to be ready", Duration::from_secs(30), || {
            server.client.ready()
        });
        // The first admin's token: written to the data folder, or (servers sharing a
        // metastore) given to every process in a bootstrap token file.
        let given = env
            .iter()
            .find(|(k, _)| *k == "SEXTANT_BOOTSTRAP_TOKEN_FILE")
            .map(|(_, v)| PathBuf::from(v));
        let files = [Some(data_dir.join("admin.token")), given];
        if let Some(token) = files
            .into_iter()
            .flatten()
            .find_map(|f| std::fs::read_to_string(f).ok())
        {
            server.sign_in(token.trim());
        }
        server
    }

    /// Makes the helpers (client, CLI, raw calls) use `token`.
    pub fn sign_in(&mut self, token: &str) {
        self.token = Some(token.to_string());
        self.client = Client::new(&self.url).with_token(token);
    }

    /// Starts `sextant serve` on a fresh data directory that lives as long as the server.
    pub fn start_fresh(name: &str, env: &[(&str, &str)]) -> Server {
        let scratch = Server::temp_dir(name);
        let mut server = Server::start(&scratch, env);
        server._scratch = Some(scratch);
        server
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), String> {
        self.client
            .raw(method, path, body)
            .map(|answer| {
                let body = match answer.body {
                    Value::Null if !answer.text.is_empty() => Value::String(answer.text),
                    body => body,
                };
                (answer.status, body)
            })
            .map_err(|e| e.to_string())
    }

    /// GET, returning the status and JSON body.
    pub fn get(&self, path: &str) -> Result<(u16, Value), String> {
        self.call("GET", path, None)
    }

    /// GET that must answer 200.
    pub fn get_ok(&self, path: &str) -> Value {
        match self.get(path) {
            Ok((200, body)) => body,
            other => panic!("GET {path}: {other:?}"),
        }
    }

    /// POST JSON.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).unwrap()
    }

    /// DELETE.
    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None).unwrap()
    }

    /// The CLI as a command against this server, signed in as the server's admin (never with
    /// the machine's own saved credentials).
    pub fn cli_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sextant"));
        command
            .args(args)
            .args(["--server", &self.url])
            .env_remove("RUST_BACKTRACE")
            .env_remove("SEXTANT_TOKEN")
            .env("XDG_CONFIG_HOME", self.data_dir.join("cli-config"));
        if let Some(token) = &self.token {
            command.env("SEXTANT_TOKEN", token);
        }
        command
    }

    /// Runs the CLI against this server.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_command(args)
            .output()
            .expect("the sextant binary runs")
    }

    /// Runs the CLI and insists it succeeds; returns standard output.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "sextant {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A job, by id.
    pub fn job(&self, id: &str) -> Value {
        self.get_ok(&format!("/api/v1/jobs/{id}"))
    }

    /// Waits until a job reaches `state`.
    pub fn wait_state(&self, id: &str, state: &str, timeout: Duration) -> Value {
        let mut last = Value::Null;
        wait_until(&format!("job {id} to be {state}"), timeout, || {
            last = self.job(id);
            let now = last["state"].as_str().unwrap_or("");
            let ended = matches!(now, "succeeded" | "failed" | "cancelled");
            assert!(
                !ended || now == state,
                "job {id} ended {now}, not {state}: {last}"
            );
            last["state"] == state
        });
        last
    }

    /// Every file under the data directory's artifact store, sorted.
    pub fn artifact_files(&self) -> Vec<String> {
        let mut files = Vec::new();
        let root = self.data_dir.join("artifacts");
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        files.sort();
        files
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: SIGTERM to our own child, for a graceful stop.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Process ids of analyzers running for a job.
pub fn analyzer_pids(job: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie && cmdline.contains("analyzer") && cmdline.contains(job) {
            pids.push(pid);
        }
    }
    pids
}

/// A new, empty database on the test PostgreSQL (`tools/dev-postgres.sh` starts one; or set
/// `SEXTANT_TEST_POSTGRES`); returns its URI.
pub fn fresh_postgres_database() -> String {
    use sqlx::Connection;
    let admin = std::env::var("SEXTANT_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://sextant@127.0.0.1:55432/postgres".into());
    let name = format!("sextant_it_{}", uuid_like());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!("cannot reach PostgreSQL at {admin} ({e}): run tools/dev-postgres.sh, or set SEXTANT_TEST_POSTGRES")
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let (base, _) = admin.rsplit_once('/').expect("a database in the URI");
    format!("{base}/{name}")
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}_{nanos}", std::process::id())
}

/// A prefix of its own in the test bucket of the S3-compatible server that `tools/dev-s3.sh`
/// starts (`SEXTANT_TEST_S3`, default http://127.0.0.1:55433, bucket `sextant-test`).
pub struct S3Prefix {
    /// The artifact store URI for servers.
    pub uri: String,
    endpoint: String,
    prefix: String,
}

impl S3Prefix {
    /// A new, empty prefix.
    pub fn fresh() -> S3Prefix {
        let endpoint =
            std::env::var("SEXTANT_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:55433".into());
        let prefix = format!("it-{}", uuid_like());
        let probe = ureq::get(format!("{endpoint}/sextant-test?list-type=2&max-keys=1")).call();
        assert!(
            probe.is_ok(),
            "cannot reach the S3 server at {endpoint}/sextant-test ({probe:?}): run tools/dev-s3.sh, or set SEXTANT_TEST_S3"
        );
        S3Prefix {
            uri: format!(
                "s3://sextant-test/{prefix}?endpoint={endpoint}&region=us-east-1&allow_http=true"
            ),
            endpoint,
            prefix,
        }
    }

    /// Every key under the prefix (without it), sorted.
    pub fn keys(&self) -> Vec<String> {
        let url = format!(
            "{}/sextant-test?list-type=2&prefix={}/",
            self.endpoint, self.prefix
        );
        let xml = ureq::get(url)
            .call()
            .expect("S3 list")
            .body_mut()
            .read_to_string()
            .expect("S3 list body");
        let mut keys: Vec<String> = xml
            .split("<Key>")
            .skip(1)
            .filter_map(|part| part.split_once("</Key>"))
            .map(|(key, _)| {
                key.trim_start_matches(&format!("{}/", self.prefix))
                    .to_string()
            })
            .collect();
        keys.sort();
        keys
    }
}

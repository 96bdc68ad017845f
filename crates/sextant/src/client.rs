//! A blocking HTTP client of the Sextant API, for the CLI and the quickstart.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sextant_store::Job;

/// The default server.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8640";

pub struct Client {
    agent: ureq::Agent,
    /// Without the trailing slash.
    pub base: String,
}

/// Turns an error answer into a message that says what the server said.
fn api_error(status: u16, body: &str) -> anyhow::Error {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    match parsed.as_ref().map(|v| &v["error"]) {
        Some(e) if e.is_object() => {
            let message = e["message"].as_str().unwrap_or("(no message)");
            let code = e["code"].as_str().unwrap_or("error");
            anyhow!("{message} (HTTP {status}, {code})")
        }
        _ => anyhow!("the server answered HTTP {status}: {}", body.trim()),
    }
}

impl Client {
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .build()
            .into();
        Client {
            agent,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        anyhow!(
            "cannot reach the Sextant server at {}: {e} (start one with `sextant serve`, or pass --server URL)",
            self.base
        )
    }

    fn answer<T: DeserializeOwned>(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<T> {
        let mut response = result.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .context("cannot read the server's answer")?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &body));
        }
        let body = if body.is_empty() { "null" } else { &body };
        serde_json::from_str(body).context("the server's answer is not the JSON expected")
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.answer(self.agent.get(self.url(path)).call())
    }

    pub fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.answer(self.agent.post(self.url(path)).send_json(body))
    }

    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.answer(self.agent.delete(self.url(path)).call())
    }

    /// Whether the server answers `/readyz`.
    pub fn ready(&self) -> bool {
        self.agent
            .get(self.url("/readyz"))
            .call()
            .is_ok_and(|r| r.status().is_success())
    }

    /// Sends a multipart form: text fields, then the file (streamed, not read into memory).
    pub fn upload<T: DeserializeOwned>(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: &Path,
    ) -> anyhow::Result<T> {
        let boundary = format!("sextant-{}", uuid::Uuid::new_v4().simple());
        let mut head = String::new();
        for (name, value) in fields {
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            ));
        }
        let file_name = file
            .file_name()
            .map(|n| n.to_string_lossy().replace('"', "_"))
            .unwrap_or_else(|| "upload".into());
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ));
        let tail = format!("\r\n--{boundary}--\r\n");
        let framing = (head.len() + tail.len()) as u64;
        let opened = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
        let size = opened.metadata().map(|m| m.len()).unwrap_or(0);
        let mut body = Cursor::new(head.into_bytes())
            .chain(opened)
            .chain(Cursor::new(tail.into_bytes()));
        let length = size + framing;
        let request = self
            .agent
            .post(self.url(path))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header("Content-Length", length.to_string())
            // The server may refuse an upload before reading it (an unknown project, a taken
            // name): it then answers at once, and the file is never sent. Without this the client
            // would be writing when the server closes the connection, and see a broken pipe
            // instead of the answer.
            .header("Expect", "100-continue");
        self.answer(request.send(ureq::SendBody::from_reader(&mut body)))
    }

    /// Follows a job's event stream, calling `seen` with each state, until it finishes.
    pub fn follow(&self, id: &str, mut seen: impl FnMut(&Job)) -> anyhow::Result<Job> {
        let response = self
            .agent
            .get(self.url(&format!("/api/v1/jobs/{id}/events")))
            .header("Accept", "text/event-stream")
            .call()
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        if status != 200 {
            let text = body.read_to_string().unwrap_or_default();
            return Err(api_error(status, &text));
        }
        let reader = BufReader::new(body.into_reader());
        let mut last = None;
        for line in reader.lines() {
            let line = line.context("the event stream broke off")?;
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let job: Job = match serde_json::from_str(data.trim()) {
                Ok(job) => job,
                Err(_) => bail!("the server sent an event that is not a job: {data}"),
            };
            seen(&job);
            let done = job.state.is_terminal();
            last = Some(job);
            if done {
                break;
            }
        }
        last.ok_or_else(|| anyhow!("the event stream ended before the job finished"))
    }
}

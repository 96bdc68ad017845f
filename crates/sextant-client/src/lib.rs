//! A typed, blocking HTTP client for the whole Sextant API: every request and answer is a type
//! from `sextant-api`, so the CLI, the quickstart, the benchmarks and the tests read the same
//! documents the server writes.
//!
//! ```no_run
//! use sextant_client::Client;
//! let client = Client::new("http://127.0.0.1:8640");
//! for project in client.projects()? {
//!     println!("{}", project.name);
//! }
//! # Ok::<(), sextant_client::ClientError>(())
//! ```

mod accounts;
mod analyzer;
mod error;
mod multipart;
mod views;

use std::fmt::Display;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sextant_api::{
    CreateFeatureGroup, CreateJob, CreateProject, CreateSegment, Dataset, DatasetRole,
    FeatureGroup, ImportanceReport, Job, MetricsReport, Model, Project, ResultQuery, Segment,
    TablePage, TableQuery,
};

pub use analyzer::{SchedulerLink, ShardOf};
pub use error::{ClientError, ClientResult};

/// The server the CLI talks to unless told otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8640";

/// How long a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read (a page of 10,000 rows of a wide table is tens of MB).
const MAX_ANSWER_BYTES: u64 = 1 << 30;

/// A connection to one Sextant server (or gateway).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

/// An answer as it came: status and body, for probes of the API's edges (tests, health checks).
#[derive(Clone, Debug, PartialEq)]
pub struct RawAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body as JSON (`null` when empty or not JSON).
    pub body: Value,
    /// The body as text.
    pub text: String,
}

/// The fields of a model upload besides its file.
#[derive(Clone, Debug, Default)]
pub struct ModelUpload<'a> {
    /// Its name in the project.
    pub name: &'a str,
    /// Its format (`xgboost-json`, `lightgbm-text`); the server recognises it when not given.
    pub format: Option<&'a str>,
}

/// The fields of a dataset upload besides its file.
#[derive(Clone, Debug, Default)]
pub struct DatasetUpload<'a> {
    /// Its name in the project.
    pub name: &'a str,
    /// Its role (the server's default is `custom`).
    pub role: Option<DatasetRole>,
}

impl Client {
    /// A client of the server at `base` (`http://host:port`, with or without a trailing slash).
    pub fn new(base: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .build()
            .into();
        Client {
            agent,
            base: base.trim_end_matches('/').to_string(),
            token: None,
        }
    }

    /// The same client, sending `token` as its bearer token.
    pub fn with_token(mut self, token: impl Into<String>) -> Client {
        self.token = Some(token.into());
        self
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Adds the client's credentials to a request.
    fn authorized<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    fn get_request(&self, path: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        self.authorized(self.agent.get(self.url(path)))
    }

    fn delete_request(&self, path: &str) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        self.authorized(self.agent.delete(self.url(path)))
    }

    fn post_request(&self, path: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        self.authorized(self.agent.post(self.url(path)))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Status and body text of an answer.
    fn read(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> ClientResult<(u16, String)> {
        let mut response = result.map_err(|e| ClientError::unreachable(&self.base, e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| ClientError::Read(e.to_string()))?;
        Ok((status, body))
    }

    fn answer<T: DeserializeOwned>(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> ClientResult<T> {
        let (status, body) = self.read(result)?;
        if !(200..300).contains(&status) {
            return Err(ClientError::from_answer(status, &body));
        }
        let body = if body.is_empty() { "null" } else { &body };
        serde_json::from_str(body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `GET path`, its answer read as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> ClientResult<T> {
        self.answer(self.get_request(path).call())
    }

    /// `POST path` with a JSON body, its answer read as `T`.
    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> ClientResult<T> {
        self.answer(self.post_request(path).send_json(body))
    }

    /// `DELETE path`, its answer read as `T`.
    pub fn delete<T: DeserializeOwned>(&self, path: &str) -> ClientResult<T> {
        self.answer(self.delete_request(path).call())
    }

    /// Any request, answered with its status and JSON body whatever the status: for checking
    /// how the API answers bad requests. `body` is sent as JSON when given.
    pub fn raw(&self, method: &str, path: &str, body: Option<&Value>) -> ClientResult<RawAnswer> {
        let url = self.url(path);
        let put = || self.authorized(self.agent.put(&url));
        let patch = || self.authorized(self.agent.patch(&url));
        let result = match (method, body) {
            ("GET", _) => self.get_request(path).call(),
            ("DELETE", _) => self.delete_request(path).call(),
            ("POST", Some(body)) => self.post_request(path).send_json(body),
            ("POST", None) => self.post_request(path).send_empty(),
            ("PUT", Some(body)) => put().send_json(body),
            ("PUT", None) => put().send_empty(),
            ("PATCH", Some(body)) => patch().send_json(body),
            ("PATCH", None) => patch().send_empty(),
            _ => return Err(ClientError::Usage(format!("unsupported method {method}"))),
        };
        let (status, text) = self.read(result)?;
        Ok(RawAnswer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        })
    }

    /// A raw answer read as `T`, or the error it reports.
    fn typed<T: DeserializeOwned>(answer: RawAnswer) -> ClientResult<T> {
        if !(200..300).contains(&answer.status) {
            return Err(ClientError::from_answer(answer.status, &answer.text));
        }
        serde_json::from_value(answer.body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Whether the server answers `/readyz` with a success.
    pub fn ready(&self) -> bool {
        self.agent
            .get(self.url("/readyz"))
            .call()
            .is_ok_and(|r| r.status().is_success())
    }

    /// The OpenAPI document of `/api/v1`.
    pub fn openapi(&self) -> ClientResult<Value> {
        self.get("/api/v1/openapi.json")
    }

    /// Creates a project.
    pub fn create_project(&self, project: &CreateProject) -> ClientResult<Project> {
        self.post("/api/v1/projects", project)
    }

    /// Every project.
    pub fn projects(&self) -> ClientResult<Vec<Project>> {
        self.get("/api/v1/projects")
    }

    /// One project.
    pub fn project(&self, name: &str) -> ClientResult<Project> {
        self.get(&format!("/api/v1/projects/{name}"))
    }

    /// Uploads a model file (streamed).
    pub fn upload_model(
        &self,
        project: &str,
        upload: &ModelUpload,
        file: &Path,
    ) -> ClientResult<Model> {
        let mut fields = vec![("name", upload.name)];
        if let Some(format) = upload.format {
            fields.push(("format", format));
        }
        self.upload(&format!("/api/v1/projects/{project}/models"), &fields, file)
    }

    /// A project's models.
    pub fn models(&self, project: &str) -> ClientResult<Vec<Model>> {
        self.get(&format!("/api/v1/projects/{project}/models"))
    }

    /// One model.
    pub fn model(&self, project: &str, name: &str) -> ClientResult<Model> {
        self.get(&format!("/api/v1/projects/{project}/models/{name}"))
    }

    /// Deletes a model (refused while a job reads it).
    pub fn delete_model(&self, project: &str, name: &str) -> ClientResult<()> {
        self.delete::<Value>(&format!("/api/v1/projects/{project}/models/{name}"))
            .map(drop)
    }

    /// Uploads a dataset file (CSV or Parquet, streamed).
    pub fn upload_dataset(
        &self,
        project: &str,
        upload: &DatasetUpload,
        file: &Path,
    ) -> ClientResult<Dataset> {
        let mut fields = vec![("name", upload.name)];
        if let Some(role) = upload.role {
            fields.push(("role", role.as_str()));
        }
        self.upload(
            &format!("/api/v1/projects/{project}/datasets"),
            &fields,
            file,
        )
    }

    /// A project's datasets.
    pub fn datasets(&self, project: &str) -> ClientResult<Vec<Dataset>> {
        self.get(&format!("/api/v1/projects/{project}/datasets"))
    }

    /// One dataset.
    pub fn dataset(&self, project: &str, name: &str) -> ClientResult<Dataset> {
        self.get(&format!("/api/v1/projects/{project}/datasets/{name}"))
    }

    /// Deletes a dataset (refused while a job reads it).
    pub fn delete_dataset(&self, project: &str, name: &str) -> ClientResult<()> {
        self.delete::<Value>(&format!("/api/v1/projects/{project}/datasets/{name}"))
            .map(drop)
    }

    /// Adds a segment to a project.
    pub fn add_segment(&self, project: &str, segment: &CreateSegment) -> ClientResult<Segment> {
        self.post(&format!("/api/v1/projects/{project}/segments"), segment)
    }

    /// A project's segments.
    pub fn segments(&self, project: &str) -> ClientResult<Vec<Segment>> {
        self.get(&format!("/api/v1/projects/{project}/segments"))
    }

    /// Removes a segment.
    pub fn delete_segment(&self, project: &str, name: &str) -> ClientResult<Segment> {
        self.delete(&format!("/api/v1/projects/{project}/segments/{name}"))
    }

    /// Adds a feature group to a project.
    pub fn add_feature_group(
        &self,
        project: &str,
        group: &CreateFeatureGroup,
    ) -> ClientResult<FeatureGroup> {
        self.post(&format!("/api/v1/projects/{project}/feature-groups"), group)
    }

    /// A project's feature groups.
    pub fn feature_groups(&self, project: &str) -> ClientResult<Vec<FeatureGroup>> {
        self.get(&format!("/api/v1/projects/{project}/feature-groups"))
    }

    /// Removes a feature group.
    pub fn delete_feature_group(&self, project: &str, name: &str) -> ClientResult<FeatureGroup> {
        self.delete(&format!("/api/v1/projects/{project}/feature-groups/{name}"))
    }

    /// Submits a job (answered from a stored result when an identical one exists).
    pub fn submit_job(&self, project: &str, job: &CreateJob) -> ClientResult<Job> {
        self.post(&format!("/api/v1/projects/{project}/jobs"), job)
    }

    /// Recent jobs, newest first: of one project, or of all.
    pub fn jobs(&self, project: Option<&str>, limit: Option<u32>) -> ClientResult<Vec<Job>> {
        let path = match project {
            Some(p) => format!("/api/v1/projects/{p}/jobs"),
            None => "/api/v1/jobs".into(),
        };
        match limit {
            Some(n) => self.get(&format!("{path}?limit={n}")),
            None => self.get(&path),
        }
    }

    /// One job (by its id: a `Uuid`, or its text).
    pub fn job(&self, id: impl Display) -> ClientResult<Job> {
        self.get(&format!("/api/v1/jobs/{id}"))
    }

    /// Cancels a job; answers it as it is after the cancellation.
    pub fn cancel_job(&self, id: impl Display) -> ClientResult<Job> {
        self.delete(&format!("/api/v1/jobs/{id}"))
    }

    /// Follows a job's event stream, calling `seen` with each state, until it finishes; answers
    /// the finished job.
    pub fn follow(&self, id: impl Display, mut seen: impl FnMut(&Job)) -> ClientResult<Job> {
        let response = self
            .get_request(&format!("/api/v1/jobs/{id}/events"))
            .header("Accept", "text/event-stream")
            .call()
            .map_err(|e| ClientError::unreachable(&self.base, e))?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        if status != 200 {
            let text = body.read_to_string().unwrap_or_default();
            return Err(ClientError::from_answer(status, &text));
        }
        let reader = BufReader::new(body.into_reader());
        let mut last = None;
        for line in reader.lines() {
            let line =
                line.map_err(|e| ClientError::Stream(format!("the event stream broke off: {e}")))?;
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let job: Job = serde_json::from_str(data.trim()).map_err(|_| {
                ClientError::Stream(format!(
                    "the server sent an event that is not a job: {data}"
                ))
            })?;
            seen(&job);
            let done = job.state.is_terminal();
            last = Some(job);
            if done {
                break;
            }
        }
        last.ok_or_else(|| {
            ClientError::Stream("the event stream ended before the job finished".into())
        })
    }

    fn result_path(project: &str, model: &str, what: &str, query: &ResultQuery) -> String {
        Self::view_path(project, model, what, query)
    }

    /// A page of a model's predictions on a dataset.
    pub fn predictions(
        &self,
        project: &str,
        model: &str,
        query: &ResultQuery,
    ) -> ClientResult<TablePage> {
        self.get(&Self::result_path(project, model, "predictions", query))
    }

    /// A page of a model's influences on a dataset.
    pub fn influences(
        &self,
        project: &str,
        model: &str,
        query: &ResultQuery,
    ) -> ClientResult<TablePage> {
        self.get(&Self::result_path(project, model, "influences", query))
    }

    /// Global importance of a model on a dataset.
    pub fn importance(
        &self,
        project: &str,
        model: &str,
        query: &ResultQuery,
    ) -> ClientResult<ImportanceReport> {
        self.get(&Self::result_path(project, model, "importance", query))
    }

    /// Global importance with each of the project's feature groups' beside it.
    pub fn group_importance(
        &self,
        project: &str,
        model: &str,
        query: &ResultQuery,
    ) -> ClientResult<ImportanceReport> {
        let path = Self::result_path(project, model, "importance", query);
        self.get(&format!("{path}&groups=true"))
    }

    /// A page of a model's error influences on a labelled dataset: each feature's influence on
    /// each row's loss.
    pub fn error_influences(
        &self,
        project: &str,
        model: &str,
        query: &ResultQuery,
    ) -> ClientResult<TablePage> {
        self.get(&Self::result_path(
            project,
            model,
            "error-influences",
            query,
        ))
    }

    /// What drives a model's errors on a labelled dataset: the importance of its error
    /// influences, with each feature group's beside it when `groups`.
    pub fn error_importance(
        &self,
        project: &str,
        model: &str,
        query: &ResultQuery,
        groups: bool,
    ) -> ClientResult<ImportanceReport> {
        let path = Self::result_path(project, model, "error-importance", query);
        match groups {
            true => self.get(&format!("{path}&groups=true")),
            false => self.get(&path),
        }
    }

    /// Quality metrics of a model on a labelled dataset.
    pub fn metrics(
        &self,
        project: &str,
        model: &str,
        query: &ResultQuery,
    ) -> ClientResult<MetricsReport> {
        self.get(&Self::result_path(project, model, "metrics", query))
    }

    /// The whole table of a result (`what`: `influences`, `error-influences` or `predictions`), streamed into the
    /// Parquet file `dest` (written aside and renamed, so `dest` is never half-written); answers
    /// the id of the job whose result it is.
    pub fn table(
        &self,
        project: &str,
        model: &str,
        what: &str,
        query: &TableQuery,
        dest: &Path,
    ) -> ClientResult<uuid::Uuid> {
        let mut path = format!(
            "/api/v1/projects/{project}/models/{model}/{what}/table?dataset={}",
            query.dataset
        );
        let options = [
            ("method", query.method.map(|m| m.as_str().to_string())),
            ("background", query.background.clone()),
            ("rows", query.rows.map(|r| r.to_string())),
            ("threshold", query.threshold.map(|t| t.to_string())),
            ("loss", query.loss.map(|l| l.name().to_string())),
            ("job", query.job.map(|j| j.to_string())),
        ];
        for (name, value) in options {
            if let Some(value) = value {
                path.push_str(&format!("&{name}={value}"));
            }
        }
        let response = self
            .get_request(&path)
            .call()
            .map_err(|e| ClientError::unreachable(&self.base, e))?;
        let status = response.status().as_u16();
        let job = response
            .headers()
            .get(sextant_api::SOURCE_JOB_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let mut body = response.into_body();
        if status != 200 {
            let text = body.read_to_string().unwrap_or_default();
            return Err(ClientError::from_answer(status, &text));
        }
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let aside = dest.with_file_name(format!(".{name}.{}.partial", std::process::id()));
        let written = std::fs::File::create(&aside).and_then(|mut file| {
            std::io::copy(&mut body.as_reader(), &mut file)?;
            file.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&aside, dest)) {
            let _ = std::fs::remove_file(&aside);
            return Err(ClientError::Read(format!("{}: {e}", dest.display())));
        }
        job.ok_or_else(|| ClientError::Decode("the answer names no job".into()))
    }

    /// Sends a multipart form: text fields, then the file (streamed, not read into memory).
    pub fn upload<T: DeserializeOwned>(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: &Path,
    ) -> ClientResult<T> {
        let form = multipart::Form::new(fields, file)?;
        let request = self
            .post_request(path)
            .header("Content-Type", form.content_type())
            .header("Content-Length", form.length().to_string())
            // The server may refuse an upload before reading it (an unknown project, a taken
            // name): it then answers at once, and the file is never sent. Without this the client
            // would be writing when the server closes the connection, and see a broken pipe
            // instead of the answer.
            .header("Expect", "100-continue");
        let mut body = form.into_reader();
        self.answer(request.send(ureq::SendBody::from_reader(&mut body)))
    }
}

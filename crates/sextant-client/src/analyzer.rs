//! The analyzer's side of its protocol with the scheduler: `/internal/v1/jobs/{id}/…`, every
//! request carrying the job-scoped token.

use std::time::Duration;

use sextant_api::{AnalyzerTask, FailureReport, JobProgress, ProgressAck, ResultManifest};
use uuid::Uuid;

use crate::{ClientError, ClientResult};

/// How long one request to the scheduler may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Which shard of a sharded job an analyzer computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardOf {
    /// Its index, from 0.
    pub index: u32,
    /// Shards in all.
    pub count: u32,
}

/// One analyzer's connection to the scheduler that launched it.
pub struct SchedulerLink {
    agent: ureq::Agent,
    base: String,
    token: String,
    /// `?shard=I&shards=N` for a shard of a sharded job.
    query: String,
}

impl SchedulerLink {
    /// A link to the scheduler at `server` for job `job`, presenting `token`.
    pub fn new(server: &str, job: Uuid, token: String, shard: Option<ShardOf>) -> SchedulerLink {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(REQUEST_TIMEOUT))
            .build()
            .into();
        SchedulerLink {
            agent,
            base: format!("{}/internal/v1/jobs/{job}", server.trim_end_matches('/')),
            token,
            query: match shard {
                Some(s) if s.count > 1 => format!("?shard={}&shards={}", s.index, s.count),
                _ => String::new(),
            },
        }
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.token)
    }

    fn check(
        &self,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> ClientResult<ureq::http::Response<ureq::Body>> {
        let mut response = result.map_err(|e| ClientError::unreachable(&self.base, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response.body_mut().read_to_string().unwrap_or_default();
            return Err(ClientError::from_answer(status, &text));
        }
        Ok(response)
    }

    /// The job's task: what to compute, from which inputs, where to store it.
    pub fn task(&self) -> ClientResult<AnalyzerTask> {
        let call = self
            .agent
            .get(format!("{}/task", self.base))
            .header("Authorization", self.auth())
            .call();
        self.check(call)?
            .body_mut()
            .read_json()
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Reports progress (also the analyzer's heartbeat). `Ok(false)` when the job no longer
    /// wants this analyzer (it was cancelled, or its token replaced).
    pub fn progress(&self, progress: &JobProgress) -> ClientResult<bool> {
        let call = self
            .agent
            .post(format!("{}/progress{}", self.base, self.query))
            .header("Authorization", self.auth())
            .send_json(progress);
        let mut response = match self.check(call) {
            Err(ClientError::Api { status: 401, .. } | ClientError::Http { status: 401, .. }) => {
                return Ok(false);
            }
            other => other?,
        };
        let ack: ProgressAck = response
            .body_mut()
            .read_json()
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok(ack.proceed)
    }

    /// Posts the stored result's manifest.
    pub fn result(&self, manifest: &ResultManifest) -> ClientResult<()> {
        let call = self
            .agent
            .post(format!("{}/result{}", self.base, self.query))
            .header("Authorization", self.auth())
            .send_json(manifest);
        self.check(call).map(drop)
    }

    /// Reports that the job cannot be done, why, and whether that may pass.
    pub fn failure(&self, reason: &str, transient: bool) -> ClientResult<()> {
        let report = FailureReport {
            reason: reason.to_string(),
            transient,
        };
        let call = self
            .agent
            .post(format!("{}/failure", self.base))
            .header("Authorization", self.auth())
            .send_json(&report);
        self.check(call).map(drop)
    }
}

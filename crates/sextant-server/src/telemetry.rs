//! Prometheus metrics: HTTP latency histograms per route, analyzer run durations, and (read from
//! the metastore at scrape time) jobs by state. A small registry of our own: three families do
//! not need a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use sextant_api::JobState;

/// Upper bounds (seconds) of the HTTP latency buckets.
const HTTP_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Upper bounds (seconds) of the analyzer duration buckets.
const ANALYZER_BUCKETS: [f64; 10] = [0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (slot, bound) in self.counts.iter_mut().zip(bounds) {
            if value <= *bound {
                *slot += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (count, bound) in self.counts.iter().zip(bounds) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// The process's metrics.
#[derive(Default)]
pub struct Telemetry {
    http: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    analyzers: Mutex<BTreeMap<(String, String), Histogram>>,
}

impl Telemetry {
    /// Records one HTTP request.
    pub fn observe_http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut http = self.http.lock().expect("metrics lock");
        http.entry((method.to_string(), route.to_string(), status))
            .or_default()
            .observe(&HTTP_BUCKETS, seconds);
    }

    /// Records one finished analyzer run.
    pub fn observe_analyzer(&self, kind: &str, outcome: &str, seconds: f64) {
        let mut analyzers = self.analyzers.lock().expect("metrics lock");
        analyzers
            .entry((kind.to_string(), outcome.to_string()))
            .or_default()
            .observe(&ANALYZER_BUCKETS, seconds);
    }

    /// The Prometheus text exposition, with the job counts given.
    pub fn render(&self, jobs: &[(JobState, u64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP sextant_jobs Jobs by state.\n# TYPE sextant_jobs gauge\n");
        for (state, n) in jobs {
            let _ = writeln!(out, "sextant_jobs{{state=\"{}\"}} {n}", state.as_str());
        }
        out.push_str(
            "# HELP sextant_http_request_duration_seconds HTTP request latency by route.\n\
             # TYPE sextant_http_request_duration_seconds histogram\n",
        );
        for ((method, route, status), h) in self.http.lock().expect("metrics lock").iter() {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            h.render(
                &mut out,
                "sextant_http_request_duration_seconds",
                &labels,
                &HTTP_BUCKETS,
            );
        }
        out.push_str(
            "# HELP sextant_analyzer_duration_seconds Analyzer run time by job kind and outcome.\n\
             # TYPE sextant_analyzer_duration_seconds histogram\n",
        );
        for ((kind, outcome), h) in self.analyzers.lock().expect("metrics lock").iter() {
            let labels = format!("kind=\"{kind}\",outcome=\"{outcome}\"");
            h.render(
                &mut out,
                "sextant_analyzer_duration_seconds",
                &labels,
                &ANALYZER_BUCKETS,
            );
        }
        out
    }
}

/// Middleware: times every request under its route pattern (never the raw path, so ids do not
/// explode the label set).
pub async fn track_http(
    State(telemetry): State<std::sync::Arc<Telemetry>>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let seconds = start.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    telemetry.observe_http(&method, &route, status, seconds);
    tracing::debug!(%method, %route, status, ms = seconds * 1e3, "request");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let t = Telemetry::default();
        t.observe_http("GET", "/api/v1/jobs/{id}", 200, 0.003);
        t.observe_http("GET", "/api/v1/jobs/{id}", 200, 0.2);
        t.observe_analyzer("influences", "succeeded", 4.0);
        let text = t.render(&[(JobState::Queued, 2), (JobState::Running, 1)]);
        assert!(text.contains("sextant_jobs{state=\"queued\"} 2"));
        assert!(text.contains(
            "sextant_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/jobs/{id}\",status=\"200\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "sextant_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/jobs/{id}\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "sextant_analyzer_duration_seconds_bucket{kind=\"influences\",outcome=\"succeeded\",le=\"5\"} 1"
        ));
    }
}

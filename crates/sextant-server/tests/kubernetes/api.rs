//! The mock Kubernetes API server and the fixtures it answers with.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use kube::client::Body;
use serde_json::{Value, json};
use sextant_server::config::KubernetesConfig;
use sextant_server::scheduler::launcher::Sizing;
use sextant_server::scheduler::{Analyzer, KubernetesLauncher, LaunchRequest, Launcher};
use tokio::sync::mpsc;
use tower_test::mock::{self, Handle, SendResponse};
use uuid::Uuid;

pub(crate) type TestBody = BoxBody<Bytes, Infallible>;

pub(crate) const JOB: &str = "00000000-0000-4000-8000-000000000001";
pub(crate) const NS: &str = "sextant-analyzers";

pub(crate) fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/data/k8s/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

pub(crate) fn config(unschedulable_timeout_seconds: u64) -> KubernetesConfig {
    KubernetesConfig {
        namespace: NS.into(),
        image: "sextant:0.1.0".into(),
        priority_class: "sextant-analyzer".into(),
        service_account: "sextant-analyzer".into(),
        ttl_seconds_after_finished: 600,
        unschedulable_timeout_seconds,
        env_from_secret: Some("sextant-s3".into()),
        max_cpu: 4.0,
        max_memory_mib: 16384,
        max_shards: 8,
        lease_namespace: "sextant".into(),
        lease_duration_seconds: 3,
    }
}

pub(crate) fn request(attempt: u32) -> LaunchRequest {
    LaunchRequest {
        job_id: Uuid::parse_str(JOB).unwrap(),
        attempt,
        token: "secret-token".into(),
        server_url: "http://sextant-scheduler.sextant.svc:8640".into(),
        memory_mib: 4096,
        threads: 2,
        sizing: Sizing {
            cpu_millis: 1000,
            memory_mib: 512,
            work: 1e6,
            shards: 1,
        },
        fault: None,
        environment: vec![
            ("AWS_ACCESS_KEY_ID".into(), "from-the-secret-instead".into()),
            ("SEXTANT_LOG".into(), "debug".into()),
        ],
    }
}

/// The mock API server's side: takes requests in order and checks them.
pub(crate) struct ApiServer(pub(crate) Handle<Request<Body>, Response<TestBody>>);

/// One request the launcher made.
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) body: Value,
    pub(crate) reply: SendResponse<Response<TestBody>>,
}

impl ApiServer {
    pub(crate) async fn next(&mut self) -> Seen {
        let (request, reply) = tokio::time::timeout(Duration::from_secs(10), self.0.next_request())
            .await
            .expect("the launcher makes another request")
            .expect("the service is open");
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        let query = parts.uri.query().unwrap_or("").to_string();
        Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: urlencoding_decode(&query),
            body,
            reply,
        }
    }

    /// Expects the two watches of a followed Job, in either order: its pods (by the labels of
    /// `attempt`) and the Job itself (by name); returns the channels that feed them.
    pub(crate) async fn expect_watches(
        &mut self,
        attempt: u32,
    ) -> (mpsc::UnboundedSender<Value>, mpsc::UnboundedSender<Value>) {
        let (mut pods, mut job) = (None, None);
        while pods.is_none() || job.is_none() {
            let seen = self.next().await;
            assert_eq!(seen.method, "GET");
            assert!(seen.query.contains("watch=true"), "{}", seen.query);
            if seen.path == format!("/api/v1/namespaces/{NS}/pods") {
                assert!(
                    seen.query.contains(&format!(
                        "labelSelector=sextant.io/job={JOB},sextant.io/attempt={attempt}"
                    )),
                    "{}",
                    seen.query
                );
                pods = Some(stream_reply(seen.reply));
            } else {
                assert_eq!(seen.path, format!("/apis/batch/v1/namespaces/{NS}/jobs"));
                assert!(
                    seen.query.contains(&format!(
                        "fieldSelector=metadata.name=sextant-analyzer-{JOB}-{attempt}"
                    )),
                    "{}",
                    seen.query
                );
                job = Some(stream_reply(seen.reply));
            }
        }
        (pods.unwrap(), job.unwrap())
    }
}

/// Answers a watch with a stream the test feeds, one `WatchEvent` a line.
pub(crate) fn stream_reply(
    reply: SendResponse<Response<TestBody>>,
) -> mpsc::UnboundedSender<Value> {
    let (tx, rx) = mpsc::unbounded_channel::<Value>();
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        let event = rx.recv().await?;
        let mut line = serde_json::to_vec(&event).unwrap();
        line.push(b'\n');
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(line))), rx))
    });
    let response = Response::builder()
        .header("content-type", "application/json")
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .unwrap();
    reply.send_response(response);
    tx
}

pub(crate) fn json_response(value: &Value) -> Response<TestBody> {
    Response::builder()
        .header("content-type", "application/json")
        .body(BodyExt::boxed(Full::new(Bytes::from(
            serde_json::to_vec(value).unwrap(),
        ))))
        .unwrap()
}

pub(crate) fn status_response(code: u16, value: &Value) -> Response<TestBody> {
    let mut response = json_response(value);
    *response.status_mut() = http::StatusCode::from_u16(code).unwrap();
    response
}

pub(crate) fn event(kind: &str, pod: &str) -> Value {
    json!({"type": kind, "object": fixture(&format!("pod-{pod}"))})
}

/// Percent-decoding of a query string, enough for label selectors.
pub(crate) fn urlencoding_decode(query: &str) -> String {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A pod of an Indexed Job: the fixture renamed and annotated as the Job controller does for
/// completion index `index`.
pub(crate) fn shard_event(kind: &str, pod: &str, index: u32) -> Value {
    let mut object = fixture(&format!("pod-{pod}"));
    let name = format!("sextant-analyzer-{JOB}-1-{index}-q8z4m");
    object["metadata"]["name"] = json!(name);
    object["metadata"]["annotations"] =
        json!({"batch.kubernetes.io/job-completion-index": index.to_string()});
    object["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] =
        json!(index.to_string());
    object["metadata"]["resourceVersion"] = json!(format!("4900{index}"));
    json!({"type": kind, "object": object})
}

pub(crate) fn sharded_request(shards: u32) -> LaunchRequest {
    let mut request = request(1);
    request.sizing.shards = shards;
    request
}

pub(crate) fn launcher(unschedulable_timeout_seconds: u64) -> (KubernetesLauncher, ApiServer) {
    sextant_store::install_crypto();
    let (service, handle) = mock::pair::<Request<Body>, Response<TestBody>>();
    let client = kube::Client::new(service, NS);
    (
        KubernetesLauncher::with_client(client, config(unschedulable_timeout_seconds)),
        ApiServer(handle),
    )
}

/// Expects the Job's creation and then its token's Secret (owned by the Job, so deleted with
/// it), checks both, answers as the API server does; returns the Job object.
pub(crate) async fn expect_create(api: &mut ApiServer) -> Value {
    let seen = api.next().await;
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, format!("/apis/batch/v1/namespaces/{NS}/jobs"));
    let created = fixture("job-created");
    seen.reply.send_response(json_response(&created));
    let job = seen.body;
    let secret = api.next().await;
    assert_eq!(secret.method, "POST");
    assert_eq!(secret.path, format!("/api/v1/namespaces/{NS}/secrets"));
    let name = &job["metadata"]["name"];
    assert_eq!(&secret.body["metadata"]["name"], name);
    assert_eq!(secret.body["stringData"]["token"], "secret-token");
    assert_eq!(secret.body["immutable"], true);
    let owner = &secret.body["metadata"]["ownerReferences"][0];
    assert_eq!(
        (&owner["kind"], &owner["name"], &owner["uid"]),
        (&json!("Job"), name, &created["metadata"]["uid"]),
        "{owner}"
    );
    secret.reply.send_response(json_response(&secret.body));
    job
}

pub(crate) async fn launch(
    launcher: &KubernetesLauncher,
    api: &mut ApiServer,
) -> (Box<dyn Analyzer>, Value) {
    let request = request(1);
    let (launched, body) = tokio::join!(launcher.launch(&request), expect_create(api));
    (launched.expect("the Job is created"), body)
}

/// A launched analyzer whose watches the test feeds.
pub(crate) struct Watched {
    /// The mock API server.
    pub(crate) api: ApiServer,
    pub(crate) analyzer: Box<dyn Analyzer>,
    /// Events of the Job's pods.
    pub(crate) pods: mpsc::UnboundedSender<Value>,
    /// Events of the Job itself.
    pub(crate) job: mpsc::UnboundedSender<Value>,
    /// The Job object the launcher created.
    pub(crate) created: Value,
}

pub(crate) async fn watched(
    unschedulable_timeout_seconds: u64,
    request: &LaunchRequest,
) -> Watched {
    let (launcher, mut api) = launcher(unschedulable_timeout_seconds);
    let (launched, created) = tokio::join!(launcher.launch(request), expect_create(&mut api));
    let analyzer = launched.expect("the Job is created");
    let (pods, job) = api.expect_watches(request.attempt).await;
    Watched {
        api,
        analyzer,
        pods,
        job,
        created,
    }
}

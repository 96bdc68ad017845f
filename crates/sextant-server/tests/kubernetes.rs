//! Contract tests of the Kubernetes launcher. No Kubernetes API server can run here, so the
//! launcher talks to a mock (tower-test, the pattern kube-rs recommends) that checks every
//! request — method, path, query, the body fields that matter — and answers with the responses
//! in `tests/data/k8s/` (see its README). This is contract-tested, not cluster-tested.

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
use sextant_server::scheduler::{
    Analyzer, AnalyzerExit, KubernetesLauncher, LaunchRequest, Launcher,
};
use sextant_store::{JobExecution, JobState};
use tokio::sync::mpsc;
use tower_test::mock::{self, Handle, SendResponse};
use uuid::Uuid;

type TestBody = BoxBody<Bytes, Infallible>;

const JOB: &str = "00000000-0000-4000-8000-000000000001";
const NS: &str = "sextant-analyzers";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/data/k8s/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn config(unschedulable_timeout_seconds: u64) -> KubernetesConfig {
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

fn request(attempt: u32) -> LaunchRequest {
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
    }
}

/// The mock API server's side: takes requests in order and checks them.
struct ApiServer(Handle<Request<Body>, Response<TestBody>>);

/// One request the launcher made.
struct Seen {
    method: String,
    path: String,
    query: String,
    body: Value,
    reply: SendResponse<Response<TestBody>>,
}

impl ApiServer {
    async fn next(&mut self) -> Seen {
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
    async fn expect_watches(
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
fn stream_reply(reply: SendResponse<Response<TestBody>>) -> mpsc::UnboundedSender<Value> {
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

fn json_response(value: &Value) -> Response<TestBody> {
    Response::builder()
        .header("content-type", "application/json")
        .body(BodyExt::boxed(Full::new(Bytes::from(
            serde_json::to_vec(value).unwrap(),
        ))))
        .unwrap()
}

fn status_response(code: u16, value: &Value) -> Response<TestBody> {
    let mut response = json_response(value);
    *response.status_mut() = http::StatusCode::from_u16(code).unwrap();
    response
}

fn event(kind: &str, pod: &str) -> Value {
    json!({"type": kind, "object": fixture(&format!("pod-{pod}"))})
}

/// Percent-decoding of a query string, enough for label selectors.
fn urlencoding_decode(query: &str) -> String {
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
fn shard_event(kind: &str, pod: &str, index: u32) -> Value {
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

fn sharded_request(shards: u32) -> LaunchRequest {
    let mut request = request(1);
    request.sizing.shards = shards;
    request
}

fn launcher(unschedulable_timeout_seconds: u64) -> (KubernetesLauncher, ApiServer) {
    sextant_store::install_crypto();
    let (service, handle) = mock::pair::<Request<Body>, Response<TestBody>>();
    let client = kube::Client::new(service, NS);
    (
        KubernetesLauncher::with_client(client, config(unschedulable_timeout_seconds)),
        ApiServer(handle),
    )
}

/// Expects the Job's creation, checks the object, answers as the API server does.
async fn expect_create(api: &mut ApiServer) -> Value {
    let seen = api.next().await;
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, format!("/apis/batch/v1/namespaces/{NS}/jobs"));
    seen.reply
        .send_response(json_response(&fixture("job-created")));
    seen.body
}

async fn launch(launcher: &KubernetesLauncher, api: &mut ApiServer) -> (Box<dyn Analyzer>, Value) {
    let request = request(1);
    let (launched, body) = tokio::join!(launcher.launch(&request), expect_create(api));
    (launched.expect("the Job is created"), body)
}

/// A launched analyzer whose watches the test feeds.
struct Watched {
    /// The mock API server.
    api: ApiServer,
    analyzer: Box<dyn Analyzer>,
    /// Events of the Job's pods.
    pods: mpsc::UnboundedSender<Value>,
    /// Events of the Job itself.
    job: mpsc::UnboundedSender<Value>,
    /// The Job object the launcher created.
    created: Value,
}

async fn watched(unschedulable_timeout_seconds: u64, request: &LaunchRequest) -> Watched {
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

#[tokio::test]
async fn the_job_object_is_sized_labelled_and_locked_down() {
    let (launcher, mut api) = launcher(300);
    let (_analyzer, job) = launch(&launcher, &mut api).await;
    let name = format!("sextant-analyzer-{JOB}-1");
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["metadata"]["name"], name);
    assert_eq!(job["metadata"]["namespace"], NS);
    assert_eq!(job["metadata"]["labels"]["sextant.io/job"], JOB);
    assert_eq!(job["metadata"]["labels"]["sextant.io/attempt"], "1");
    let spec = &job["spec"];
    assert_eq!(spec["backoffLimit"], 0);
    assert_eq!(spec["ttlSecondsAfterFinished"], 600);
    assert_eq!(spec["completions"], 1);
    let template = &spec["template"];
    assert_eq!(template["metadata"]["labels"]["sextant.io/job"], JOB);
    let pod = &template["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["priorityClassName"], "sextant-analyzer");
    assert_eq!(pod["serviceAccountName"], "sextant-analyzer");
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "sextant:0.1.0");
    assert_eq!(
        container["args"],
        json!([
            "analyzer",
            "run",
            "--job",
            JOB,
            "--server",
            "http://sextant-scheduler.sextant.svc:8640",
            "--threads",
            "1"
        ])
    );
    // Sized from the cost estimate; requests equal limits.
    let resources = json!({"cpu": "1000m", "memory": "512Mi"});
    assert_eq!(container["resources"]["requests"], resources);
    assert_eq!(container["resources"]["limits"], resources);
    let security = &container["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], "sextant-s3");
    let env = container["env"].as_array().unwrap();
    assert!(
        env.contains(&json!({"name": "SEXTANT_JOB_TOKEN", "value": "secret-token"})),
        "{env:?}"
    );
    assert!(
        !env.iter()
            .any(|e| e["name"].as_str().unwrap().starts_with("AWS_")),
        "credentials come from the Secret, never inline"
    );
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/tmp");
    assert_eq!(pod["volumes"][0]["emptyDir"]["sizeLimit"], "1024Mi");
}

#[tokio::test]
async fn a_sharded_job_is_an_indexed_job_that_ends_when_every_shard_has() {
    let Watched {
        api: _api,
        mut analyzer,
        pods: events,
        job: _job_events,
        created: job,
    } = watched(300, &sharded_request(3)).await;
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(
        (spec["completions"].as_i64(), spec["parallelism"].as_i64()),
        (Some(3), Some(3))
    );
    let args = spec["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert_eq!(args[args.len() - 2..], [json!("--shards"), json!("3")]);
    for index in 0..3 {
        events.send(shard_event("ADDED", "running", index)).unwrap();
    }
    events
        .send(shard_event("MODIFIED", "succeeded", 0))
        .unwrap();
    events
        .send(shard_event("MODIFIED", "succeeded", 2))
        .unwrap();
    // A succeeded pod deleted (by the TTL, say) still counts once.
    events.send(shard_event("DELETED", "succeeded", 2)).unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), analyzer.wait()).await;
    assert!(
        early.is_err(),
        "two of three shards are not the job: {early:?}"
    );
    events
        .send(shard_event("MODIFIED", "succeeded", 1))
        .unwrap();
    assert_eq!(analyzer.wait().await, AnalyzerExit::Success);
}

#[tokio::test]
async fn a_failed_shard_fails_the_job_and_stops_the_others() {
    let Watched {
        mut api,
        mut analyzer,
        pods: events,
        job: _job_events,
        created: _,
    } = watched(300, &sharded_request(3)).await;
    for index in 0..3 {
        events.send(shard_event("ADDED", "running", index)).unwrap();
    }
    events
        .send(shard_event("MODIFIED", "oomkilled", 1))
        .unwrap();
    let seen = api.next().await;
    assert_eq!(seen.method, "DELETE");
    assert_eq!(
        seen.path,
        format!("/apis/batch/v1/namespaces/{NS}/jobs/sextant-analyzer-{JOB}-1")
    );
    seen.reply
        .send_response(json_response(&fixture("job-deleted")));
    assert_eq!(
        analyzer.wait().await,
        AnalyzerExit::Failed(
            "analyzer (shard 1) exceeded its 512 MiB memory limit (out of memory: OOMKilled)"
                .into()
        )
    );
}

#[tokio::test]
async fn a_watched_pod_that_succeeds_ends_the_analyzer() {
    let Watched {
        api: _api,
        mut analyzer,
        pods: events,
        job: _job_events,
        created: _,
    } = watched(300, &request(1)).await;
    events.send(event("ADDED", "pending")).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!analyzer.running(), "not running before its pod does");
    events.send(event("MODIFIED", "running")).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(analyzer.running());
    events.send(event("MODIFIED", "succeeded")).unwrap();
    assert_eq!(analyzer.wait().await, AnalyzerExit::Success);
}

#[tokio::test]
async fn an_oom_killed_pod_fails_the_job_as_out_of_memory() {
    let Watched {
        api: _api,
        mut analyzer,
        pods: events,
        job: _job_events,
        created: _,
    } = watched(300, &request(1)).await;
    events.send(event("ADDED", "running")).unwrap();
    events.send(event("MODIFIED", "oomkilled")).unwrap();
    assert_eq!(
        analyzer.wait().await,
        AnalyzerExit::Failed(
            "analyzer exceeded its 512 MiB memory limit (out of memory: OOMKilled)".into()
        )
    );
}

#[tokio::test]
async fn a_failed_pod_reports_its_exit_code_and_message() {
    let Watched {
        api: _api,
        mut analyzer,
        pods: events,
        job: _job_events,
        created: _,
    } = watched(300, &request(1)).await;
    events.send(event("MODIFIED", "error")).unwrap();
    assert_eq!(
        analyzer.wait().await,
        AnalyzerExit::Failed(
            "analyzer exited with code 1: error: cannot load the model: unexpected end of file at line 1".into()
        )
    );
}

#[tokio::test]
async fn a_pod_unschedulable_for_too_long_fails_naming_the_missing_resource() {
    let Watched {
        mut api,
        mut analyzer,
        pods: events,
        job: _job_events,
        created: _,
    } = watched(1, &request(1)).await;
    events.send(event("ADDED", "unschedulable")).unwrap();
    // After the timeout the launcher deletes the Job, pods included.
    let seen = api.next().await;
    assert_eq!(seen.method, "DELETE");
    assert_eq!(
        seen.path,
        format!("/apis/batch/v1/namespaces/{NS}/jobs/sextant-analyzer-{JOB}-1")
    );
    assert_eq!(seen.body["propagationPolicy"], "Background");
    seen.reply
        .send_response(json_response(&fixture("job-deleted")));
    match analyzer.wait().await {
        AnalyzerExit::Failed(reason) => {
            assert!(
                reason.starts_with("analyzer pod could not be scheduled for 1 s: 0/3 nodes are available: 3 Insufficient memory."),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!analyzer.running());
}

#[tokio::test]
async fn cancel_deletes_the_job_with_its_pods() {
    let Watched {
        mut api,
        mut analyzer,
        pods: events,
        job: _job_events,
        created: _,
    } = watched(300, &request(1)).await;
    events.send(event("ADDED", "running")).unwrap();
    let server = async {
        let seen = api.next().await;
        assert_eq!(seen.method, "DELETE");
        assert_eq!(
            seen.path,
            format!("/apis/batch/v1/namespaces/{NS}/jobs/sextant-analyzer-{JOB}-1")
        );
        assert_eq!(seen.body["propagationPolicy"], "Background");
        seen.reply
            .send_response(json_response(&fixture("job-deleted")));
        // The pod goes with its Job.
        events.send(event("DELETED", "deleted-running")).unwrap();
    };
    tokio::join!(analyzer.kill(), server);
}

#[tokio::test]
async fn a_job_deleted_from_outside_cancels_the_job() {
    let Watched {
        api: _api,
        mut analyzer,
        pods: events,
        job: _job_events,
        created: _,
    } = watched(300, &request(1)).await;
    events.send(event("ADDED", "running")).unwrap();
    events.send(event("DELETED", "deleted-running")).unwrap();
    assert_eq!(
        analyzer.wait().await,
        AnalyzerExit::Cancelled(format!(
            "the analyzer Job sextant-analyzer-{JOB}-1 was deleted"
        ))
    );
}

#[tokio::test]
async fn a_job_deleted_without_its_pods_cancels_the_job() {
    let Watched {
        api: _api,
        mut analyzer,
        pods,
        job,
        created: _,
    } = watched(300, &request(1)).await;
    pods.send(event("ADDED", "running")).unwrap();
    // Deleted with orphan propagation: the pod stays, the Job goes.
    job.send(json!({"type": "DELETED", "object": fixture("job-deleted")}))
        .unwrap();
    assert_eq!(
        analyzer.wait().await,
        AnalyzerExit::Cancelled(format!(
            "the analyzer Job sextant-analyzer-{JOB}-1 was deleted"
        ))
    );
}

#[tokio::test]
async fn the_job_status_ends_the_analyzer_too() {
    // Complete, even if the pod's own events were missed.
    let Watched {
        api: _api,
        mut analyzer,
        pods: _pods,
        job,
        created: _,
    } = watched(300, &request(1)).await;
    job.send(json!({"type": "MODIFIED", "object": fixture("job-complete")}))
        .unwrap();
    assert_eq!(analyzer.wait().await, AnalyzerExit::Success);
    // Failed for a reason of the Job's own.
    let Watched {
        api: _api,
        mut analyzer,
        pods: _pods,
        job,
        created: _,
    } = watched(300, &request(1)).await;
    job.send(json!({"type": "MODIFIED", "object": fixture("job-failed-deadline")}))
        .unwrap();
    assert_eq!(
        analyzer.wait().await,
        AnalyzerExit::Failed(format!(
            "analyzer Job sextant-analyzer-{JOB}-1 failed: DeadlineExceeded Job was active longer than specified deadline"
        ))
    );
}

#[tokio::test]
async fn a_watch_that_ends_is_resumed_from_the_last_version() {
    let Watched {
        mut api,
        mut analyzer,
        pods: events,
        job: _job_events,
        created: _,
    } = watched(300, &request(1)).await;
    events.send(event("ADDED", "running")).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(events); // The API server closes the watch (its timeout).
    let seen = api.next().await;
    assert_eq!(seen.method, "GET");
    assert!(
        seen.query.contains("resourceVersion=48230"),
        "{}",
        seen.query
    );
    let body = [event("MODIFIED", "succeeded")]
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect::<String>();
    seen.reply.send_response(
        Response::builder()
            .body(BodyExt::boxed(Full::new(Bytes::from(body))))
            .unwrap(),
    );
    assert_eq!(analyzer.wait().await, AnalyzerExit::Success);
}

fn execution() -> JobExecution {
    JobExecution {
        id: Uuid::parse_str(JOB).unwrap(),
        state: JobState::Running,
        token: Some("secret-token".into()),
        pid: None,
        lease_owner: Some("scheduler-dead".into()),
        heartbeat_at: None,
    }
}

#[tokio::test]
async fn after_a_restart_a_running_job_is_adopted_by_label() {
    let (launcher, mut api) = launcher(300);
    let execution = execution();
    let server = async {
        let seen = api.next().await;
        assert_eq!(seen.method, "GET");
        assert_eq!(seen.path, format!("/apis/batch/v1/namespaces/{NS}/jobs"));
        assert!(
            seen.query
                .contains(&format!("labelSelector=sextant.io/job={JOB}")),
            "{}",
            seen.query
        );
        seen.reply
            .send_response(json_response(&fixture("job-list-adopt")));
    };
    let (adopted, ()) = tokio::join!(launcher.adopt(&execution), server);
    let mut analyzer = adopted.expect("the active Job (attempt 2) is adopted");
    // It follows the adopted attempt's pods, not the finished one's.
    let (events, _job_events) = api.expect_watches(2).await;
    events.send(event("ADDED", "running-attempt2")).unwrap();
    events
        .send(event("MODIFIED", "succeeded-attempt2"))
        .unwrap();
    assert_eq!(analyzer.wait().await, AnalyzerExit::Success);
}

#[tokio::test]
async fn leftovers_are_deleted_by_label() {
    let (launcher, mut api) = launcher(300);
    let execution = execution();
    let server = async {
        let seen = api.next().await;
        assert_eq!(
            (seen.method.as_str(), seen.path.as_str()),
            ("GET", &*format!("/apis/batch/v1/namespaces/{NS}/jobs"))
        );
        seen.reply
            .send_response(json_response(&fixture("job-list-adopt")));
        for attempt in [1, 2] {
            let seen = api.next().await;
            assert_eq!(seen.method, "DELETE");
            assert_eq!(
                seen.path,
                format!("/apis/batch/v1/namespaces/{NS}/jobs/sextant-analyzer-{JOB}-{attempt}")
            );
            assert_eq!(seen.body["propagationPolicy"], "Background");
            seen.reply
                .send_response(json_response(&fixture("job-deleted")));
        }
    };
    tokio::join!(launcher.stop_leftover(&execution), server);
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The manifests and what the launcher sends agree with Kubernetes and with the server: the
/// chart and the kustomize base are the same, every rendering validates offline against the
/// Kubernetes 1.33 schemas (tools/check-manifests.sh), the Job object the launcher creates
/// validates too, and the ConfigMap's config is one the server accepts for every service.
#[tokio::test]
async fn manifests_render_validate_and_configure_the_server() {
    let root = repo();
    let checked = std::process::Command::new(root.join("tools/check-manifests.sh"))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );

    let (launcher, _api) = launcher(300);
    let job = serde_json::to_string_pretty(&launcher.job_object(&request(1))).unwrap();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("analyzer-job-{}.json", std::process::id()));
    std::fs::write(&path, job).unwrap();
    let validated =
        std::process::Command::new(root.join("target/tools-venv/bin/kubernetes-validate"))
            .args(["-k", "1.33", "--strict", "--quiet"])
            .arg(&path)
            .output()
            .unwrap();
    assert!(
        validated.status.success() && validated.stdout.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    // An Indexed Job validates too.
    let indexed = serde_json::to_string_pretty(&launcher.job_object(&sharded_request(4))).unwrap();
    let indexed_path =
        path.with_file_name(format!("analyzer-indexed-job-{}.json", std::process::id()));
    std::fs::write(&indexed_path, indexed).unwrap();
    let validated =
        std::process::Command::new(root.join("target/tools-venv/bin/kubernetes-validate"))
            .args(["-k", "1.33", "--strict", "--quiet"])
            .arg(&indexed_path)
            .output()
            .unwrap();
    assert!(
        validated.status.success() && validated.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&validated.stdout)
    );

    // The ConfigMap's sextant.toml, as every Deployment reads it.
    let base = std::fs::read_to_string(root.join("target/k8s/base.yaml")).unwrap();
    let start = base
        .find("sextant.toml: |\n")
        .expect("the ConfigMap carries sextant.toml")
        + 16;
    let toml: String = base[start..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| l.strip_prefix("    ").unwrap_or(l).to_string() + "\n")
        .collect();
    let file = path.with_extension("toml");
    std::fs::write(&file, &toml).unwrap();
    for service in ["ingest", "intelligence", "scheduler", "gateway"] {
        let env = std::collections::HashMap::from([
            ("SEXTANT_SERVICES".to_string(), service.to_string()),
            (
                "SEXTANT_METASTORE_URI".to_string(),
                "postgres://sextant@db/sextant".to_string(),
            ),
        ]);
        let config = sextant_server::ServerConfig::load(Some(&file), &env, 2)
            .unwrap_or_else(|e| panic!("{service}: {e}\n{toml}"));
        assert_eq!(
            config.scheduler.launcher,
            sextant_server::LauncherKind::Kubernetes
        );
        assert_eq!(config.kubernetes.namespace, NS);
        assert_eq!(
            config.kubernetes.env_from_secret.as_deref(),
            Some("sextant-s3")
        );
        assert_eq!(config.peers.len(), 3, "{service}");
        assert!(config.artifacts_uri.starts_with("s3://"));
    }
}

const LEASE_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/sextant/leases/sextant-scheduler";

impl ApiServer {
    /// Expects a `method` call on the scheduler's Lease.
    async fn lease_call(&mut self, method: &str) -> Seen {
        let seen = self.next().await;
        assert_eq!(
            (seen.method.as_str(), seen.path.as_str()),
            (method, LEASE_PATH)
        );
        seen
    }
}

/// Answers with the Lease held by `holder`, renewed `ago` before now, at `version`.
fn reply_lease(seen: Seen, holder: &str, ago: Duration, version: &str) {
    seen.reply
        .send_response(json_response(&lease(holder, ago, version)));
}

/// The Lease fixture, held by `holder`, last renewed `ago` before now, at `version`.
fn lease(holder: &str, ago: Duration, version: &str) -> Value {
    let mut lease = fixture("lease");
    let renewed = std::time::SystemTime::now() - ago;
    let renewed: chrono::DateTime<chrono::Utc> = renewed.into();
    lease["spec"]["holderIdentity"] = json!(holder);
    lease["spec"]["renewTime"] = json!(renewed.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
    lease["metadata"]["resourceVersion"] = json!(version);
    lease
}

#[tokio::test]
async fn the_first_scheduler_creates_the_lease_and_keeps_renewing_it() {
    let (launcher, mut api) = launcher(300);
    let server = async {
        let seen = api.lease_call("GET").await;
        seen.reply
            .send_response(status_response(404, &fixture("lease-not-found")));
        let seen = api.next().await;
        assert_eq!(seen.method, "POST");
        assert_eq!(
            seen.path,
            "/apis/coordination.k8s.io/v1/namespaces/sextant/leases"
        );
        assert_eq!(seen.body["metadata"]["name"], "sextant-scheduler");
        assert_eq!(seen.body["spec"]["holderIdentity"], "scheduler-a");
        assert_eq!(seen.body["spec"]["leaseDurationSeconds"], 3);
        assert_eq!(seen.body["spec"]["leaseTransitions"], 0);
        reply_lease(seen, "scheduler-a", Duration::ZERO, "51001");
    };
    let (led, ()) = tokio::join!(launcher.lead("scheduler-a"), server);
    led.unwrap();
    // A third of the duration later: renewed, with the version it read.
    let seen = api.lease_call("GET").await;
    reply_lease(seen, "scheduler-a", Duration::from_secs(1), "51001");
    let seen = api.lease_call("PUT").await;
    assert_eq!(seen.body["metadata"]["resourceVersion"], "51001");
    assert_eq!(seen.body["spec"]["holderIdentity"], "scheduler-a");
    assert_eq!(
        seen.body["spec"]["leaseTransitions"], 2,
        "the same leader: as many transitions as it read"
    );
    reply_lease(seen, "scheduler-a", Duration::ZERO, "51002");
}

#[tokio::test]
async fn a_scheduler_waits_while_another_leads_and_takes_over_an_expired_lease() {
    let (launcher, mut api) = launcher(300);
    let server = async {
        // Another scheduler renewed its Lease just now: wait.
        let seen = api.lease_call("GET").await;
        reply_lease(seen, "scheduler-b", Duration::ZERO, "51000");
        // It has not renewed for longer than the duration: take over.
        let seen = api.lease_call("GET").await;
        reply_lease(seen, "scheduler-b", Duration::from_secs(10), "51000");
        let seen = api.lease_call("PUT").await;
        assert_eq!(seen.body["metadata"]["resourceVersion"], "51000");
        assert_eq!(seen.body["spec"]["holderIdentity"], "scheduler-a");
        assert_eq!(seen.body["spec"]["leaseTransitions"], 3);
        reply_lease(seen, "scheduler-a", Duration::ZERO, "51003");
    };
    let started = std::time::Instant::now();
    let (led, ()) = tokio::join!(launcher.lead("scheduler-a"), server);
    led.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited before retrying"
    );
}

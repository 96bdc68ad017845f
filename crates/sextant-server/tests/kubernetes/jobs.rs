//! Analyzer Jobs: the object the launcher creates, and how the pod and Job watches end it.

use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use serde_json::json;
use sextant_server::scheduler::AnalyzerExit;

use crate::api::*;

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
    let job_name = "sextant-analyzer-00000000-0000-4000-8000-000000000001-1";
    assert!(
        env.contains(
            &json!({"name": "SEXTANT_JOB_TOKEN", "valueFrom": {"secretKeyRef": {
            "name": job_name, "key": "token", "optional": false}}})
        ),
        "the token comes from the job's Secret, never inline: {env:?}"
    );
    assert!(!job.to_string().contains("secret-token"), "{job}");
    assert!(
        !env.iter()
            .any(|e| e["name"].as_str().unwrap().starts_with("AWS_")),
        "credentials come from the Secret, never inline"
    );
    assert!(
        env.contains(&json!({"name": "SEXTANT_LOG", "value": "debug"})),
        "the scheduler's logging setting reaches the analyzer: {env:?}"
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

//! How jobs behave as a whole, on real processes over real HTTP: identical submissions follow one
//! computation; a failure that may pass is retried with a pause, and one that cannot is not.

use std::thread;

use serde_json::{Value, json};

use crate::platform::*;
use crate::server::{Server, analyzer_pids, wait_until};

/// Submits `body` from `n` threads at once; returns the jobs as answered.
fn submit_together(server: &Server, body: &Value, n: usize) -> Vec<Value> {
    thread::scope(|scope| {
        let calls: Vec<_> = (0..n)
            .map(|_| {
                scope.spawn(|| {
                    let (status, job) = server.post("/api/v1/projects/credit/jobs", body);
                    assert_eq!(status, 201, "{job}");
                    job
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    })
}

fn id(job: &Value) -> String {
    job["id"].as_str().unwrap().to_string()
}

#[test]
fn identical_jobs_share_one_computation() {
    let server = Server::start_fresh("identical", &[("SEXTANT_ANALYZER_FAULT", "slow")]);
    demo_project(&server);
    let jobs = submit_together(&server, &influences_job(1000), 8);
    let leaders: Vec<&Value> = jobs.iter().filter(|j| j.get("follows").is_none()).collect();
    assert_eq!(leaders.len(), 1, "one job computes: {jobs:?}");
    let leader = id(leaders[0]);
    for job in &jobs {
        if id(job) != leader {
            assert_eq!(job["follows"], json!(leader), "{job}");
        }
    }
    // A follower shows the computation it waits for.
    let follower = jobs.iter().map(id).find(|j| *j != leader).unwrap();
    server.wait_state(&follower, "running", MINUTE);
    assert_eq!(analyzer_pids(&leader).len(), 1);
    assert!(
        analyzer_pids(&follower).is_empty(),
        "a follower runs no analyzer"
    );
    for job in &jobs {
        let done = server.wait_state(&id(job), "succeeded", MINUTE);
        assert_eq!(done["progress"]["rows_done"], 1000, "{done}");
        let follows = id(job) != leader;
        assert_eq!(done["cached"], follows, "{done}");
        assert_eq!(done["attempt"], if follows { 0 } else { 1 }, "{done}");
    }
    // One analyzer ran, for the leader: one log.
    let logs = std::fs::read_dir(server.data_dir.join("logs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("job-"))
        .count();
    assert_eq!(logs, 1, "one analyzer run for eight identical jobs");
    // A job submitted now is answered from the stored result.
    let again = submit_together(&server, &influences_job(1000), 1).remove(0);
    assert_eq!(
        (&again["state"], &again["cached"]),
        (&json!("succeeded"), &json!(true))
    );
}

#[test]
fn cancelling_one_of_identical_jobs_leaves_the_others() {
    let server = Server::start_fresh("identical-cancel", &[("SEXTANT_ANALYZER_FAULT", "slow")]);
    demo_project(&server);
    let a = submit(&server, influences_job(1000));
    server.wait_state(&a, "running", MINUTE);
    let b = submit(&server, influences_job(1000));
    let c = submit(&server, influences_job(1000));
    assert_eq!(server.job(&b)["follows"], json!(a));
    // Cancelling a follower leaves the computation alone.
    let (status, job) = server.delete(&format!("/api/v1/jobs/{b}"));
    assert_eq!((status, &job["state"]), (200, &json!("cancelled")), "{job}");
    assert_eq!(server.job(&a)["state"], "running");
    // Cancelling the computing job hands it to the oldest follower still waiting.
    let (status, job) = server.delete(&format!("/api/v1/jobs/{a}"));
    assert_eq!((status, &job["state"]), (200, &json!("cancelled")), "{job}");
    let taken = server.wait_state(&c, "running", MINUTE);
    assert!(taken.get("follows").is_none(), "{taken}");
    wait_until("c's own analyzer", MINUTE, || analyzer_pids(&c).len() == 1);
    let done = server.wait_state(&c, "succeeded", MINUTE);
    assert_eq!(
        (&done["cached"], &done["attempt"]),
        (&json!(false), &json!(1))
    );
    assert_eq!(done["progress"]["rows_done"], 1000);
}

#[test]
fn a_failure_that_may_pass_is_retried() {
    let server = Server::start_fresh(
        "retry",
        &[
            ("SEXTANT_ANALYZER_FAULT", "transient"),
            ("SEXTANT_RETRY_BACKOFF_SECONDS", "0.5"),
        ],
    );
    demo_project(&server);
    let id = submit(&server, influences_job(200));
    let done = server.wait_state(&id, "succeeded", MINUTE);
    assert_eq!(done["attempt"], 2, "{done}");
    assert_eq!(done["progress"]["rows_done"], 200);
    assert!(done.get("retry_at").is_none(), "{done}");
    let logs = server.data_dir.join("logs");
    let first = std::fs::read_to_string(logs.join(format!("job-{id}-1.log"))).unwrap();
    assert!(first.contains("unavailable for a moment"), "{first}");
    assert!(logs.join(format!("job-{id}-2.log")).exists());
}

#[test]
fn a_failure_that_may_pass_fails_when_no_attempt_is_left() {
    let server = Server::start_fresh(
        "retry-spent",
        &[
            ("SEXTANT_ANALYZER_FAULT", "transient"),
            ("SEXTANT_MAX_ATTEMPTS", "1"),
        ],
    );
    demo_project(&server);
    let id = submit(&server, influences_job(200));
    let failed = server.wait_state(&id, "failed", MINUTE);
    assert_eq!(failed["attempt"], 1, "{failed}");
    assert_eq!(
        failed["reason"],
        "fault injection: the artifact store is unavailable for a moment"
    );
    // A second job with the same result does not follow a failed one: it runs (and fails) anew.
    let again = submit(&server, influences_job(200));
    assert_ne!(again, id);
    let job = server.job(&again);
    assert!(job.get("follows").is_none(), "{job}");
    server.wait_state(&again, "failed", MINUTE);
}

#[test]
fn identical_jobs_fail_together() {
    let server = Server::start_fresh("identical-fail", &[("SEXTANT_ANALYZER_FAULT", "crash")]);
    demo_project(&server);
    let jobs = submit_together(&server, &influences_job(1000), 3);
    let leader = jobs
        .iter()
        .find(|j| j.get("follows").is_none())
        .map(id)
        .unwrap();
    let crash = server.wait_state(&leader, "failed", MINUTE);
    assert_eq!(crash["attempt"], 1, "a crash is not retried: {crash}");
    for job in jobs.iter().map(id).filter(|j| *j != leader) {
        let failed = server.wait_state(&job, "failed", MINUTE);
        let reason = failed["reason"].as_str().unwrap();
        assert!(
            reason.starts_with(&format!(
                "job {leader}, which computes the same result, failed: analyzer crashed"
            )),
            "{reason}"
        );
        assert_eq!(failed["attempt"], 0);
    }
}

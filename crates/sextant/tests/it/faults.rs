//! Faults of analyzers and schedulers, on real processes: cancel, crash, memory breach, silence,
//! restarts, a bad config, a second scheduler taking over a dead one's jobs.

use std::time::Instant;

use serde_json::{Value, json};

use crate::platform::*;
use crate::server::{Server, analyzer_pids, wait_until};

#[test]
fn cancel_stops_the_analyzer() {
    let dir = Server::temp_dir("cancel");
    let server = Server::start(&dir, &[("SEXTANT_ANALYZER_FAULT", "slow")]);
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    server.wait_state(&id, "running", MINUTE);
    assert_eq!(analyzer_pids(&id).len(), 1, "one analyzer runs the job");
    let scratch = sextant_analyzer::scratch_dir(&id, 0);
    wait_until("the analyzer's scratch folder", MINUTE, || scratch.exists());
    let (status, job) = server.delete(&format!("/api/v1/jobs/{id}"));
    assert_eq!((status, &job["state"]), (200, &json!("cancelled")), "{job}");
    wait_until("the analyzer to stop", MINUTE, || {
        analyzer_pids(&id).is_empty()
    });
    // Killed, it could not remove its scratch folder: the launcher does.
    wait_until("its scratch folder to go", MINUTE, || !scratch.exists());
    let job = server.job(&id);
    assert_eq!(job["state"], "cancelled");
    assert_eq!(job["reason"], "cancelled on request");
    let (status, body) = server.delete(&format!("/api/v1/jobs/{id}"));
    assert_eq!(status, 409, "{body}");
    // The model was in use while the job ran; now it can go.
    let (status, _) = server.delete("/api/v1/projects/credit/models/xgb");
    assert_eq!(status, 204);
}

#[test]
fn an_analyzer_crash_fails_the_job() {
    let dir = Server::temp_dir("crash");
    let server = Server::start(&dir, &[("SEXTANT_ANALYZER_FAULT", "crash")]);
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    let job = server.wait_state(&id, "failed", MINUTE);
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("analyzer crashed (SIGABRT, signal 6)"),
        "{reason}"
    );
    let out = server.cli(&[
        "job",
        "run",
        "credit",
        "--kind",
        "predict",
        "--model",
        "xgb",
        "--dataset",
        "applicants",
        "--wait",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed job fails `job run --wait`"
    );
}

#[test]
fn a_memory_limit_breach_fails_the_job_while_the_api_answers() {
    let dir = Server::temp_dir("oom");
    let server = Server::start(&dir, &[("SEXTANT_ANALYZER_FAULT", "oom")]);
    let id = breach_memory_limit(&server);
    assert_eq!(
        server.job(&id)["reason"],
        "analyzer exceeded its 256 MiB memory limit"
    );
}

/// On a server whose analyzers allocate until stopped: runs a job with a 256 MiB limit until it
/// fails, checking that the API answers throughout; returns the job's id.
pub(crate) fn breach_memory_limit(server: &Server) -> String {
    demo_project(server);
    let mut body = influences_job(1000);
    body["memory_mib"] = json!(256);
    let id = submit(server, body);
    let mut answered = 0;
    wait_until("the job to fail", MINUTE, || {
        assert_eq!(server.get_ok("/healthz")["status"], "ok");
        answered += 1;
        server.job(&id)["state"] == "failed"
    });
    assert!(answered > 0);
    id
}

#[test]
fn a_silent_analyzer_is_stopped_after_the_heartbeat_timeout() {
    let dir = Server::temp_dir("hang");
    let server = Server::start(
        &dir,
        &[
            ("SEXTANT_ANALYZER_FAULT", "hang"),
            ("SEXTANT_HEARTBEAT_TIMEOUT_SECONDS", "3"),
        ],
    );
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    let job = server.wait_state(&id, "failed", MINUTE);
    let reason = job["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("analyzer sent no progress for"),
        "{reason}"
    );
    wait_until("the analyzer to be gone", MINUTE, || {
        analyzer_pids(&id).is_empty()
    });
}

#[test]
fn a_restart_loses_no_job_and_runs_none_twice() {
    let dir = Server::temp_dir("restart");
    let slow = [
        ("SEXTANT_ANALYZER_FAULT", "slow"),
        ("SEXTANT_MAX_CONCURRENT_ANALYZERS", "1"),
    ];
    let mut server = Server::start(&dir, &slow);
    demo_project(&server);
    let ids: Vec<String> = (0..3)
        .map(|i| submit(&server, influences_job(1000 - i)))
        .collect();
    server.wait_state(&ids[0], "running", MINUTE);
    assert_eq!(
        server.job(&ids[1])["state"],
        "queued",
        "one analyzer at a time"
    );
    server.kill();
    // The analyzer does not outlive its server.
    wait_until("the orphaned analyzer to stop", MINUTE, || {
        analyzer_pids(&ids[0]).is_empty()
    });

    let started = Instant::now();
    let server = Server::start(&dir, &[("SEXTANT_MAX_CONCURRENT_ANALYZERS", "1")]);
    wait_until("every job to succeed", 2 * MINUTE, || {
        let states: Vec<Value> = ids.iter().map(|id| server.job(id)).collect();
        let running: Vec<usize> = (0..3)
            .filter(|&i| states[i]["state"] == "running")
            .collect();
        assert!(
            running.len() <= 1,
            "never more analyzers than allowed: {running:?}"
        );
        for &i in &running {
            assert!(
                analyzer_pids(&ids[i]).len() <= 1,
                "never two analyzers for one job"
            );
        }
        states.iter().all(|s| s["state"] == "succeeded")
    });
    assert!(started.elapsed() < 2 * MINUTE);
    let first = server.job(&ids[0]);
    assert_eq!(
        first["attempt"], 2,
        "the interrupted job ran again: {first}"
    );
    for id in &ids[1..] {
        assert_eq!(server.job(id)["attempt"], 1, "queued jobs ran once");
    }
    let rows: Vec<u64> = ids
        .iter()
        .map(|id| server.job(id)["progress"]["rows_done"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [1000, 999, 998]);
}

#[test]
fn a_bad_config_is_refused_at_start() {
    let dir = Server::temp_dir("config");
    let file = dir.join("sextant.toml");
    std::fs::write(&file, "version = 1\n[scheduler]\nmax_analyzers = 2\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args([
            "serve",
            "--config",
            file.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown field `max_analyzers`"), "{stderr}");
}

#[test]
fn a_second_scheduler_leaves_live_jobs_alone_and_takes_over_a_dead_ones() {
    let uri = crate::server::fresh_postgres_database();
    let shared = Server::temp_dir("shared-artifacts");
    let artifacts = format!("file://{}", shared.display());
    let token_file = crate::server::bootstrap_token_file(&shared);
    let token_file = token_file.to_str().unwrap();
    let common = [
        ("SEXTANT_METASTORE_URI", uri.as_str()),
        ("SEXTANT_ARTIFACTS_URI", artifacts.as_str()),
        ("SEXTANT_HEARTBEAT_TIMEOUT_SECONDS", "3"),
        ("SEXTANT_ANALYZER_FAULT", "slow"),
        ("SEXTANT_BOOTSTRAP_TOKEN_FILE", token_file),
    ];
    let mut first = Server::start_fresh("scheduler-a", &common);
    demo_project(&first);
    let id = submit(&first, influences_job(1000));
    first.wait_state(&id, "running", MINUTE);

    let mut env = common.to_vec();
    env.push(("SEXTANT_SERVICES", "scheduler,gateway"));
    let second = Server::start_fresh("scheduler-b", &env);
    let job = second.job(&id);
    assert_eq!(
        (&job["state"], &job["attempt"]),
        (&json!("running"), &json!(1)),
        "{job}"
    );

    first.kill();
    let job = second.wait_state(&id, "succeeded", 2 * MINUTE);
    assert_eq!(
        job["attempt"], 2,
        "taken over once its first scheduler fell silent: {job}"
    );
    assert_eq!(job["progress"]["rows_done"], 1000);
}

//! The container image, built from this build's binary without any registry, on the real Docker
//! Engine: the quickstart flow runs inside it (analyzers as child processes in the container),
//! and `serve` answers from a published port, as an unprivileged user. And the Docker launcher:
//! a server on the host running each analyzer as a sibling container of that image.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::faults::breach_memory_limit;
use crate::platform::{demo_project, influences_job, submit};
use crate::server::{S3Prefix, Server, wait_until};
use crate::support::repo;

const MINUTE: Duration = Duration::from_secs(60);

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs")
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes the test's container and image however the test ends.
struct Cleanup(String, String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.0]);
        let _ = docker(&["rmi", "-f", &self.1]);
    }
}

/// Builds the image from this build's binary under `tag`.
fn build_image(tag: &str) {
    let built = Command::new(repo("deploy/docker/build-image.sh"))
        .args([env!("CARGO_BIN_EXE_sextant"), tag])
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

#[test]
fn the_image_runs_the_quickstart_and_serves() {
    let tag = format!("sextant:it-{}", std::process::id());
    let name = format!("sextant-it-{}", std::process::id());
    let _cleanup = Cleanup(name.clone(), tag.clone());
    build_image(&tag);

    // The command of docs/deploy.md, as written there.
    let quickstart = docker_ok(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/data",
        &tag,
        "quickstart",
        "--exit",
    ]);
    // As docs/deploy.md has it: the data go to the image's /data.
    assert!(quickstart.contains("data in /data"), "{quickstart}");
    for line in [
        "global importance",
        "debt_ratio",
        "roc_auc",
        "confusion matrix",
    ] {
        assert!(
            quickstart.contains(line),
            "{line} missing from:\n{quickstart}"
        );
    }

    docker_ok(&["run", "-d", "--name", &name, "-p", "127.0.0.1::8640", &tag]);
    let port = docker_ok(&["port", &name, "8640"]);
    let url = format!("http://{}", port.lines().next().unwrap());
    let client = sextant_client::Client::new(&url);
    wait_until("the container to be ready", Duration::from_secs(30), || {
        client.ready()
    });
    let top = docker_ok(&["top", &name]);
    assert!(
        top.contains("10001") && top.contains("sextant serve"),
        "{top}"
    );
}

/// The analyzer containers of a job (running or not).
fn job_containers(job: &str) -> Vec<String> {
    docker_ok(&[
        "ps",
        "-a",
        "-q",
        "--filter",
        &format!("label=io.sextant.job={job}"),
    ])
    .lines()
    .map(str::to_string)
    .collect()
}

/// A server on the host whose analyzers are containers of `image`, with its artifacts in S3
/// (which both reach over 127.0.0.1: analyzer containers use the host's network).
fn docker_server(name: &str, image: &str, fault: Option<&str>) -> Server {
    let s3 = S3Prefix::fresh();
    let mut env = vec![
        ("SEXTANT_LAUNCHER", "docker"),
        ("SEXTANT_DOCKER_IMAGE", image),
        ("SEXTANT_ARTIFACTS_URI", s3.uri.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    if let Some(fault) = fault {
        env.push(("SEXTANT_ANALYZER_FAULT", fault));
    }
    Server::start_fresh(name, &env)
}

#[test]
fn the_docker_launcher_runs_each_analyzer_in_a_limited_container() {
    let tag = format!("sextant:it-launcher-{}", std::process::id());
    let _cleanup = Cleanup(String::from("none"), tag.clone());
    build_image(&tag);

    // A normal job: the container runs, reports, stores its result, and is removed.
    let server = docker_server("docker-ok", &tag, None);
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    let job = server.wait_state(&id, "succeeded", MINUTE);
    assert_eq!(job["progress"]["rows_done"], 1000, "{job}");
    wait_until("the container to be removed", MINUTE, || {
        job_containers(&id).is_empty()
    });
    let page = server.get_ok(
        "/api/v1/projects/credit/models/xgb/influences?dataset=applicants&offset=990&limit=100",
    );
    assert_eq!(page["rows"].as_array().unwrap().len(), 10, "{page}");
    let log = std::fs::read_to_string(server.data_dir.join(format!("logs/job-{id}-1.log")))
        .expect("the container's log is kept");
    assert!(log.contains("1000 rows in"), "{log}");

    // Cancel: the container is limited as configured while it runs, and goes when cancelled.
    let server = docker_server("docker-cancel", &tag, Some("slow"));
    demo_project(&server);
    let id = submit(&server, influences_job(1000));
    server.wait_state(&id, "running", MINUTE);
    let running = job_containers(&id);
    assert_eq!(running.len(), 1, "one container runs the job");
    let limits = docker_ok(&[
        "inspect",
        "--format",
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.ReadonlyRootfs}} {{.Config.User}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.NetworkMode}}",
        &running[0],
    ]);
    assert_eq!(
        limits,
        format!(
            "{} 1000000000 256 true 10001:10001 [ALL] [no-new-privileges] host",
            4096u64 << 20
        )
    );
    let (status, job) = server.delete(&format!("/api/v1/jobs/{id}"));
    assert_eq!((status, &job["state"]), (200, &json!("cancelled")), "{job}");
    wait_until("the cancelled container to be removed", MINUTE, || {
        job_containers(&id).is_empty()
    });
    assert_eq!(server.job(&id)["state"], "cancelled");

    // Over its memory limit: the kernel kills the container, the job fails as out of memory,
    // and the API answers throughout.
    let server = docker_server("docker-oom", &tag, Some("oom"));
    let id = breach_memory_limit(&server);
    assert_eq!(
        server.job(&id)["reason"],
        "analyzer exceeded its 256 MiB memory limit (out of memory: the container was killed)"
    );
    wait_until("the killed container to be removed", MINUTE, || {
        job_containers(&id).is_empty()
    });
}

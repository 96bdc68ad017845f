//! The container image, built from this build's binary without any registry, on the real Docker
//! Engine: the quickstart flow runs inside it (analyzers as child processes in the container),
//! and `serve` answers from a published port, as an unprivileged user.

use std::process::Command;
use std::time::Duration;

use crate::server::wait_until;
use crate::support::repo;

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

#[test]
fn the_image_runs_the_quickstart_and_serves() {
    let tag = format!("sextant:it-{}", std::process::id());
    let name = format!("sextant-it-{}", std::process::id());
    let _cleanup = Cleanup(name.clone(), tag.clone());
    let built = Command::new(repo("deploy/docker/build-image.sh"))
        .args([env!("CARGO_BIN_EXE_sextant"), &tag])
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );

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
        "--data-dir",
        "/data/quickstart",
    ]);
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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    wait_until("the container to be ready", Duration::from_secs(30), || {
        agent
            .get(format!("{url}/readyz"))
            .call()
            .is_ok_and(|r| r.status() == 200)
    });
    let top = docker_ok(&["top", &name]);
    assert!(
        top.contains("10001") && top.contains("sextant serve"),
        "{top}"
    );
}

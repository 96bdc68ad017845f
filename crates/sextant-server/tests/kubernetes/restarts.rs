//! After a scheduler restart: Jobs still running are adopted, leftovers deleted.

use sextant_api::JobState;
use sextant_server::scheduler::{AnalyzerExit, Launcher};
use sextant_store::JobExecution;
use uuid::Uuid;

use crate::api::*;

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

//! The scheduler's leader Lease.

use std::time::Duration;

use serde_json::{Value, json};
use sextant_server::scheduler::Launcher;

use crate::api::*;

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

//! The API against its own OpenAPI document: schemathesis (`tools/api-conformance.sh`) sends
//! every operation schema-valid and schema-violating requests, follows the document's links
//! statefully, and checks every answer (no server error, documented status codes and content
//! types, bodies that match their schemas, valid data accepted, invalid data refused).

use std::process::Command;

use crate::platform::{demo_project, run_job};
use crate::server::Server;
use crate::support::repo;

#[test]
fn the_api_conforms_to_its_openapi_document() {
    // Every request carries a token of an admin made for the run (so the run may disable the
    // first admin or revoke its token, as fuzzing does); schemathesis also tries the login with
    // made-up passwords, which must not lock its own address out.
    let server = Server::start_fresh(
        "conformance",
        &[("SEXTANT_MAX_AUTH_FAILURES_PER_MINUTE", "1000000")],
    );
    demo_project(&server);
    let job = run_job(&server, "influences", &["--rows", "50"]);
    assert_eq!(job["state"], "succeeded", "{job}");
    let fuzzer = server.cli_ok(&["user", "create", "fuzzer", "--admin", "--json"]);
    let fuzzer: serde_json::Value = serde_json::from_str(&fuzzer).unwrap();
    let out = Command::new(repo("tools/api-conformance.sh"))
        .arg(&server.url)
        .env("SEXTANT_TOKEN", fuzzer["token"].as_str().unwrap())
        .output()
        .expect("tools/api-conformance.sh runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
}

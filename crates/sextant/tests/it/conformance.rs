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
    let server = Server::start_fresh("conformance", &[]);
    demo_project(&server);
    let job = run_job(&server, "influences", &["--rows", "50"]);
    assert_eq!(job["state"], "succeeded", "{job}");
    let out = Command::new(repo("tools/api-conformance.sh"))
        .arg(&server.url)
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

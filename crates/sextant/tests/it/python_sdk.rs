//! The Python SDK (`clients/python`): its wheel built (with the local mode's native extension)
//! and installed, its own pytest suite (`tools/python-tests.sh`) against real servers started
//! from this build's binary, and ruff's lint and format checks.

use std::process::Command;

use crate::support::repo;

#[test]
fn the_python_sdk_passes_its_tests() {
    let out = Command::new(repo("tools/python-tests.sh"))
        .arg(env!("CARGO_BIN_EXE_sextant"))
        .env_remove("SEXTANT_SERVER")
        .env_remove("SEXTANT_TOKEN")
        .output()
        .expect("tools/python-tests.sh runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Python SDK's checks failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
}

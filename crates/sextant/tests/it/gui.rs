//! The web GUI in a real browser (`tools/gui-tests.sh`): headless Chromium from Debian's
//! packages driven by selenium against real servers started from this build's binary — sign in,
//! a project made and analysed from its forms, every plot drawn, roles and CSRF enforced.

use std::process::Command;

use crate::support::repo;

#[test]
fn the_web_gui_passes_its_browser_tests() {
    let out = Command::new(repo("tools/gui-tests.sh"))
        .arg(env!("CARGO_BIN_EXE_sextant"))
        .output()
        .expect("tools/gui-tests.sh runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the GUI's browser tests failed:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
}

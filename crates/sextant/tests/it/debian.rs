//! The Debian package (`deploy/debian/build-deb.sh`, `make deb`) of this build's binary,
//! installed into a clean Debian root filesystem made with debootstrap and run there under Docker
//! (`tools/debian-check.sh`): its user, data folder, unit and conffile, `sextant serve` as the
//! unit runs it, the CLI against it, and removal.

use std::process::Command;

use crate::server::Server;
use crate::support::repo;

#[test]
fn the_debian_package_installs_and_runs_in_a_clean_debian() {
    let dir = Server::temp_dir("debian");
    let deb = dir.join("sextant.deb");
    let built = Command::new(repo("deploy/debian/build-deb.sh"))
        .arg(env!("CARGO_BIN_EXE_sextant"))
        .arg(&deb)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let out = Command::new(repo("tools/debian-check.sh"))
        .arg(&deb)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "installed: sextant 0.1.0",
        "data folder: sextant 750",
        "conffile: /etc/sextant/sextant.toml",
        "on the PATH: /usr/bin/sextant",
        "admin token: sextant 600",
        "admin on http://127.0.0.1:8640",
        "created project packaged",
        "removed; kept:",
    ] {
        assert!(said.contains(expected), "no {expected:?} in:\n{said}");
    }
}

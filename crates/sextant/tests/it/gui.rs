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

/// Gives the admin a password and signs in as a browser does; answers the session cookie.
pub(crate) fn sign_in_admin(server: &crate::server::Server) -> String {
    let password = "gui test password";
    server
        .client
        .update_user(
            "admin",
            &sextant_api::UpdateUser {
                password: Some(password.into()),
                ..Default::default()
            },
        )
        .unwrap();
    let answer = ureq::post(&format!("{}/api/v1/login", server.url))
        .send_json(serde_json::json!({"user": "admin", "password": password}))
        .unwrap();
    let cookie = answer.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// A GUI page as a browser with `cookie` gets it: its status and its HTML.
pub(crate) fn page(server: &crate::server::Server, cookie: &str, path: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut answer = agent
        .get(&format!("{}{path}", server.url))
        .header("Cookie", cookie)
        .call()
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.body_mut().read_to_string().unwrap())
}

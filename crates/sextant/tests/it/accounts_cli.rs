//! The CLI as a user who is not an admin: signing in, their own projects and jobs, and what the
//! server refuses them, with exit codes and messages.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sextant_client::Client;

use crate::accounts::{assert_no_secret_in_logs, new_user};
use crate::platform::demo_project;
use crate::server::Server;
use crate::support::repo;

/// The CLI as one user: its own credentials file, no admin token.
fn as_user(_server: &Server, config: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove("SEXTANT_TOKEN")
        .env_remove("SEXTANT_SERVER")
        .env("XDG_CONFIG_HOME", config)
        .output()
        .unwrap()
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn refused(out: std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `sextant job run` of predictions in Ann's project.
const PREDICT_MINE: &[&str] = &[
    "job",
    "run",
    "mine",
    "--kind",
    "predict",
    "--model",
    "xgb",
    "--dataset",
    "applicants",
];

#[test]
fn a_user_who_is_not_an_admin_works_through_the_cli() {
    let server = Server::start_fresh("cli-user", &[]);
    demo_project(&server);
    let made: Value =
        serde_json::from_str(&server.cli_ok(&["user", "create", "ann", "--json"])).unwrap();
    assert_eq!(made["user"]["name"], "ann");
    let ann_token = made["token"].as_str().unwrap().to_string();
    let bob_token = new_user(&server, "bob");
    let ann = Server::temp_dir("ann-config");
    let bob = Server::temp_dir("bob-config");

    // Logging in checks the token and saves it (mode 0600) with the server as the default.
    let said = refused(as_user(
        &server,
        &ann,
        &["login", "--server", &server.url, "--token", "sxt_nope"],
    ));
    assert!(said.contains("did not accept the token"), "{said}");
    let said = ok(as_user(
        &server,
        &ann,
        &["login", "--server", &server.url, "--token", &ann_token],
    ));
    assert!(
        said.contains("logged in to") && said.contains("as ann"),
        "{said}"
    );
    let saved = ann.join("sextant/credentials.toml");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
        0o600
    );
    ok(as_user(
        &server,
        &bob,
        &["login", "--server", &server.url, "--token", &bob_token],
    ));
    assert!(ok(as_user(&server, &ann, &["whoami"])).contains("ann on"));

    // Ann makes a project of her own and works in it; she never sees the admin's.
    let csv = repo("demo/applicants.csv");
    let csv = csv.to_str().unwrap();
    ok(as_user(
        &server,
        &ann,
        &[
            "project",
            "create",
            "mine",
            "--task",
            "binary",
            "--label",
            "defaulted",
            "--id",
            "applicant_id",
            "--from-data",
            csv,
        ],
    ));
    ok(as_user(
        &server,
        &ann,
        &[
            "model",
            "add",
            "mine",
            repo("demo/credit_model.json").to_str().unwrap(),
            "--name",
            "xgb",
        ],
    ));
    ok(as_user(
        &server,
        &ann,
        &[
            "data",
            "add",
            "mine",
            csv,
            "--name",
            "applicants",
            "--role",
            "test",
            "--label",
            "defaulted",
        ],
    ));
    let run = ok(as_user(
        &server,
        &ann,
        &[PREDICT_MINE, &["--wait", "--json"]].concat(),
    ));
    assert!(run.contains("\"succeeded\""), "{run}");
    let listed = ok(as_user(&server, &ann, &["project", "list"]));
    assert!(
        listed.contains("mine") && !listed.contains("credit"),
        "{listed}"
    );
    let said = refused(as_user(&server, &ann, &["project", "show", "credit"]));
    assert!(said.contains("project \"credit\" does not exist"), "{said}");

    // Bob sees nothing until Ann grants him a role; as a viewer he reads and cannot run.
    assert!(
        refused(as_user(&server, &bob, &["project", "show", "mine"])).contains("does not exist")
    );
    ok(as_user(
        &server,
        &ann,
        &["project", "grant", "mine", "bob", "--role", "viewer"],
    ));
    assert!(ok(as_user(&server, &bob, &["project", "show", "mine"])).contains("project mine"));
    let said = refused(as_user(&server, &bob, PREDICT_MINE));
    assert!(
        said.contains("your role on project \"mine\" is viewer: this needs editor"),
        "{said}"
    );
    assert!(
        refused(as_user(
            &server,
            &bob,
            &["project", "grant", "mine", "bob", "--role", "owner"]
        ))
        .contains("this needs owner")
    );
    let members = ok(as_user(&server, &bob, &["project", "members", "mine"]));
    assert!(
        members.contains("ann") && members.contains("owner") && members.contains("viewer"),
        "{members}"
    );
    // The last owner cannot leave the project ownerless.
    let said = refused(as_user(
        &server,
        &ann,
        &["project", "revoke", "mine", "ann"],
    ));
    assert!(said.contains("only owner"), "{said}");

    // Tokens: made, listed, revoked; a revoked one stops at once.
    let made = ok(as_user(
        &server,
        &ann,
        &[
            "token",
            "create",
            "--name",
            "ci",
            "--expires",
            "30d",
            "--json",
        ],
    ));
    let made: Value = serde_json::from_str(&made).unwrap();
    let ci = made["token"].as_str().unwrap();
    let id = made["info"]["id"].as_str().unwrap();
    assert!(made["info"]["expires_at"].is_string());
    let ci_client = Client::new(&server.url).with_token(ci);
    assert_eq!(ci_client.whoami().unwrap().user.name, "ann");
    let listed = ok(as_user(&server, &ann, &["token", "list"]));
    assert!(
        listed.contains("ci") && listed.contains(id) && !listed.contains(ci),
        "{listed}"
    );
    ok(as_user(&server, &ann, &["token", "revoke", id]));
    let refused_ci = ci_client.whoami().unwrap_err().to_string();
    assert!(refused_ci.contains("revoked"), "{refused_ci}");

    // Admin work is refused; the owner reads her project's audit log, not the whole.
    assert!(refused(as_user(&server, &ann, &["user", "list"])).contains("this needs an admin"));
    assert!(refused(as_user(&server, &ann, &["audit"])).contains("for admins"));
    let log = ok(as_user(
        &server,
        &ann,
        &["audit", "--project", "mine", "--json"],
    ));
    let log: Vec<Value> = serde_json::from_str(&log).unwrap();
    let has = |user: &str, action: &str, outcome: &str| {
        log.iter().any(|e| {
            e["user"] == user
                && e["action"].as_str().unwrap().starts_with(action)
                && e["outcome"] == outcome
        })
    };
    assert!(
        has("ann", "POST /api/v1/projects/{project}/models", "ok"),
        "{log:?}"
    );
    assert!(
        has("ann", "PUT /api/v1/projects/{project}/members/{user}", "ok"),
        "{log:?}"
    );
    assert!(
        has("bob", "POST /api/v1/projects/{project}/jobs", "denied"),
        "{log:?}"
    );
    assert!(log.iter().all(|e| e["project"] == "mine"), "{log:?}");
    // The admin reads everything, by user and time.
    let bobs = server.cli_ok(&["audit", "--user", "bob", "--since", "1h", "--json"]);
    assert!(
        bobs.contains("denied") && !bobs.contains("\"ann\""),
        "{bobs}"
    );

    // Disabling a user stops their saved token at once; an owner deletes her project.
    server.cli_ok(&["user", "disable", "bob"]);
    assert!(refused(as_user(&server, &bob, &["project", "show", "mine"])).contains("disabled"));
    ok(as_user(&server, &ann, &["project", "delete", "mine"]));
    assert!(
        refused(as_user(&server, &ann, &["project", "show", "mine"])).contains("does not exist")
    );
    assert_no_secret_in_logs(&server.data_dir, &[&ann_token, &bob_token, &ci.to_string()]);
}

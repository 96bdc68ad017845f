//! `sextant quickstart` as a newcomer runs it: the demo analysed, the same result in the table
//! and behind the command it suggests, a rerun that reuses what it stored, and a data folder that
//! cannot be written named at once.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::server::Server;

fn quickstart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .arg("quickstart")
        .args(args)
        .env_remove("SEXTANT_DATA_DIR")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The line of a printed importance table for `feature`.
fn row<'a>(output: &'a str, feature: &str) -> &'a str {
    output
        .lines()
        .find(|l| l.trim_start().starts_with(feature))
        .unwrap_or_else(|| panic!("no {feature} row in:\n{output}"))
}

#[test]
fn the_quickstart_shows_one_result_throughout_and_reuses_it() {
    let dir = Server::temp_dir("quickstart");
    let data = dir.join("data");
    let data = data.to_str().unwrap();
    let args = ["--exit", "--listen", "127.0.0.1:0", "--data-dir", data];
    let first = quickstart(&args);
    let shown = text(&first);
    assert!(first.status.success(), "{shown}");
    assert!(shown.contains("predict: 1000 rows"), "{shown}");
    assert!(!shown.contains("stored result reused"), "{shown}");
    // A model worth explaining: well above always answering "no default" (718 of 1000).
    let metric = |name: &str| -> f64 {
        row(&shown, name)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(metric("roc_auc") > 0.85, "{shown}");
    assert!(metric("accuracy") > 0.8, "{shown}");
    let again = quickstart(&args);
    let rerun = text(&again);
    assert!(again.status.success(), "{rerun}");
    for kind in ["predict", "influences", "interventional"] {
        assert!(
            rerun.contains(&format!("{kind}: 1000 rows")),
            "{kind}: {rerun}"
        );
    }
    assert!(rerun.contains("(stored result reused)"), "{rerun}");
    assert_eq!(row(&shown, "debt_ratio"), row(&rerun, "debt_ratio"));
    // The command it suggests shows the table it printed.
    let server = Server::start(std::path::Path::new(data), &[]);
    let suggested = server.cli_ok(&[
        "importance",
        "credit-demo",
        "--model",
        "credit-xgb",
        "--dataset",
        "applicants",
    ]);
    for feature in ["debt_ratio", "income", "late_payments"] {
        assert_eq!(row(&shown, feature), row(&suggested, feature));
    }
}

#[test]
fn a_data_folder_that_cannot_be_written_is_named_at_once() {
    let dir = Server::temp_dir("quickstart-readonly");
    let file = dir.join("a-file");
    std::fs::write(&file, "").unwrap();
    let inside = file.join("data");
    let started = Instant::now();
    let out = quickstart(&[
        "--exit",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        inside.to_str().unwrap(),
    ]);
    let said = text(&out);
    assert!(!out.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(
        said.contains(&format!(
            "cannot write the data folder {}",
            inside.display()
        )) && said.contains("--data-dir"),
        "{said}"
    );
    assert!(!said.contains("serving at"), "{said}");
}

/// Each command's help lists the flags it uses: the client's (`--server`, `--json`) on client
/// commands, the computation's `--threads` where something computes here, neither on `serve`.
#[test]
fn help_lists_only_the_flags_a_command_uses() {
    let help = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_sextant"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for (command, flags, not) in [
        (
            &["serve"][..],
            &[][..],
            &["--server", "--json", "--threads"][..],
        ),
        (
            &["quickstart"],
            &["--data-dir"],
            &["--server", "--json", "--threads"],
        ),
        (&["job", "list"], &["--server", "--json"], &["--threads"]),
        (&["importance"], &["--server", "--json"], &["--threads"]),
        (&["explain"], &["--threads"], &["--server", "--json"]),
        (&["analyzer", "run"], &["--threads"], &["--json"]),
    ] {
        let text = help(command);
        for flag in flags {
            assert!(text.contains(flag), "{command:?} lacks {flag}:\n{text}");
        }
        for flag in not {
            assert!(!text.contains(flag), "{command:?} lists {flag}:\n{text}");
        }
    }
}

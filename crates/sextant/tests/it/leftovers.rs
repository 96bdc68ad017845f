//! What a crash leaves on disk is swept, and what the intelligence service copies stays under
//! its cap: real SIGKILLs of `sextant serve` at the three phases of an upload (receiving,
//! checking, storing), then a restart on the same data folder.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::platform::*;
use crate::server::{S3Prefix, Server, wait_until};
use crate::support::repo;

/// Files under `dir` (recursively) whose name `matches`.
fn files(dir: &Path, matches: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path, matches));
        } else if matches(&entry.file_name().to_string_lossy()) {
            found.push(path);
        }
    }
    found
}

fn receiving(name: &str) -> bool {
    name.starts_with("upload-") && !name.contains('.')
}

fn checking(name: &str) -> bool {
    name.starts_with("upload-") && name.ends_with(".csv")
}

fn storing(name: &str) -> bool {
    name.contains(".csv#")
}

/// A background dataset of about `mib` MiB: the demo's rows over and over.
fn big_background(dir: &Path, mib: usize) -> PathBuf {
    let text = std::fs::read_to_string(repo("demo/background.csv")).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let path = dir.join("big.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "{header}").unwrap();
    while out.get_ref().metadata().unwrap().len() < (mib << 20) as u64 {
        out.write_all(rows.as_bytes()).unwrap();
    }
    out.flush().unwrap();
    path
}

/// Uploads `file` with the CLI in the background while `phase` files are looked for under the
/// data folder; kills the server (SIGKILL) as soon as one appears. Returns what was left.
fn kill_during(server: &mut Server, file: &Path, phase: fn(&str) -> bool) -> Vec<PathBuf> {
    let mut command = server.cli_command(&["data", "add", "credit"]);
    command
        .arg(file)
        .args(["--name", "big", "--role", "background"]);
    let upload = std::thread::spawn(move || command.output().unwrap());
    let deadline = Instant::now() + MINUTE;
    let left = loop {
        let found = files(&server.data_dir, &phase);
        if !found.is_empty() {
            server.kill();
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the upload never reached the phase"
        );
        std::thread::sleep(Duration::from_micros(200));
    };
    let out = upload.join().unwrap();
    assert!(!out.status.success(), "the upload was cut short");
    left
}

/// Restarts the server on `dir` after a kill that left `cut` (files of an upload's phase):
/// the restart removes them and says so in its log.
fn restart_sweeps(dir: &Path, cut: Vec<PathBuf>, phase: &str) -> Server {
    assert!(!cut.is_empty(), "{phase}: nothing was left");
    let server = Server::start(dir, &[]);
    for f in &cut {
        assert!(!f.exists(), "{phase}: {} is still there", f.display());
    }
    let log = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("server-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    let name = cut[0].display().to_string();
    assert!(
        log.contains("removed the leftovers of interrupted uploads") && log.contains(&name),
        "{phase}: {log}"
    );
    server
}

#[test]
fn leftovers_of_uploads_cut_short_are_swept_at_restart() {
    let dir = Server::temp_dir("leftovers");
    let mut server = Server::start(&dir, &[]);
    demo_project(&server);
    let work = Server::temp_dir("leftovers-files");
    let big = big_background(&work, 96);

    // Receiving: a client that sent part of its body and stalls.
    let address = server.url.trim_start_matches("http://").to_string();
    let mut stalled = TcpStream::connect(&address).unwrap();
    let head = "--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nbig\r\n\
                --B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.csv\"\r\n\r\n";
    write!(
        stalled,
        "POST /api/v1/projects/credit/datasets HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=B\r\nContent-Length: {}\r\n\r\n{head}",
        server.token.as_deref().unwrap(),
        100 << 20
    )
    .unwrap();
    let rows = std::fs::read(&big).unwrap();
    stalled.write_all(&rows[..8 << 20]).unwrap();
    wait_until("the upload to be received in part", MINUTE, || {
        files(&dir, &receiving)
            .iter()
            .any(|f| f.metadata().unwrap().len() > 1 << 20)
    });
    server.kill();
    let cut = files(&dir, &receiving);
    let server = restart_sweeps(&dir, cut, "receiving");
    // Checking and storing: the CLI's upload of the whole file, cut short in each phase.
    let mut server = server;
    let cut = kill_during(&mut server, &big, checking);
    let mut server = restart_sweeps(&dir, cut, "checking");
    let cut = kill_during(&mut server, &big, storing);
    let server = restart_sweeps(&dir, cut, "storing");
    let datasets = server.get_ok("/api/v1/projects/credit/datasets");
    let names: Vec<&str> = datasets
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["applicants", "background"]);
    // The demo still works, and the upload goes through now.
    run_job(&server, "predict", &[]);
    server.cli_ok(&[
        "data",
        "add",
        "credit",
        big.to_str().unwrap(),
        "--name",
        "big",
        "--role",
        "background",
    ]);
    assert!(files(&dir, &|n| receiving(n) || checking(n) || storing(n)).is_empty());
}

#[test]
fn copies_of_remote_results_stay_under_the_cap() {
    let s3 = S3Prefix::fresh();
    let server = Server::start_fresh(
        "scratch-cap",
        &[
            ("SEXTANT_ARTIFACTS_URI", s3.uri.as_str()),
            ("SEXTANT_SCRATCH_MAX_MIB", "1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    demo_project(&server);
    let tmp = server.data_dir.join("tmp");
    let copies = || -> Vec<PathBuf> { files(&tmp, &|n| n.starts_with("results_")) };
    let used = || {
        copies()
            .iter()
            .map(|f| f.metadata().unwrap().len())
            .sum::<u64>()
    };
    // Influences over 1000, 999, … rows: each a result of its own, about 100 KB.
    let mut largest = 0;
    for rows in (985..=1000).rev() {
        let job = run_job(&server, "influences", &["--rows", &rows.to_string()]);
        assert_eq!(job["state"], "succeeded");
        let page = server.get_ok(&format!(
            "/api/v1/projects/credit/models/xgb/influences?dataset=applicants&rows={rows}&limit=5"
        ));
        assert_eq!(page["source"]["rows_total"], rows, "{page}");
        largest = largest.max(
            copies()
                .iter()
                .map(|f| f.metadata().unwrap().len())
                .max()
                .unwrap(),
        );
        assert!(
            used() <= (1 << 20) + largest,
            "{} bytes of copies: {:?}",
            used(),
            copies()
        );
    }
    assert!(
        copies().len() < 16,
        "older copies were evicted: {:?}",
        copies()
    );
    // An evicted copy is fetched again when asked for.
    let page = server.get_ok(
        "/api/v1/projects/credit/models/xgb/influences?dataset=applicants&rows=1000&limit=5",
    );
    assert_eq!(page["rows"].as_array().unwrap().len(), 5);
}

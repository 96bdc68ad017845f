//! The server holds against hostile requests, on a real process: bodies and fields are bounded
//! while they are read, limits on schemas and jobs answer with a 4xx that says the limit, errors
//! quote at most a short prefix of what they reject, and a flood of idle connections neither
//! starves the server nor stays.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::platform::*;
use crate::server::{Server, wait_until};

fn schema(features: Vec<Value>) -> Value {
    json!({"features": features, "task": "regression", "score_type": "raw"})
}

/// POSTs raw bytes; returns the status and the body as text.
fn post_raw(server: &Server, path: &str, content_type: &str, body: Vec<u8>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent
        .post(format!("{}{path}", server.url))
        .header("Content-Type", content_type)
        .header(
            "Authorization",
            format!("Bearer {}", server.token.as_deref().unwrap()),
        )
        .send(&body[..])
        .unwrap();
    let status = answer.status().as_u16();
    (
        status,
        answer.body_mut().read_to_string().unwrap_or_default(),
    )
}

#[test]
fn bodies_and_fields_are_bounded_and_errors_stay_short() {
    let server = Server::start_fresh("bounded-bodies", &[]);
    // A JSON body over 1 MiB (announced as 2 GiB) is refused once 1 MiB has been read.
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST /api/v1/projects HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n{{\"name\": \"",
        server.token.as_deref().unwrap(),
        2u64 << 30
    )
    .unwrap();
    stream
        .write_all(&vec![b'x'; (1 << 20) + (64 << 10)])
        .unwrap();
    // The answer comes at once; the connection is not kept for the rest of the body.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.ends_with(b"}}") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("larger than the limit of 1048576 bytes"),
        "{answer}"
    );
    // A long name is refused with a message that quotes only its start.
    let long = json!({"name": "y".repeat(64 << 10), "schema": schema(vec![json!({"name": "a", "type": "numeric"})])});
    let (status, body) = post_raw(
        &server,
        "/api/v1/projects",
        "application/json",
        long.to_string().into_bytes(),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.len() < 1000 && body.contains("65536 bytes"), "{body}");
    // A multipart text field over 4,096 bytes: refused once read, and never held whole.
    demo_project(&server);
    let mut multipart = b"--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n".to_vec();
    multipart.extend(std::iter::repeat_n(b'n', 8 << 20));
    multipart.extend(
        b"\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\n\r\n",
    );
    multipart.extend(std::fs::read(crate::support::repo("demo/background.csv")).unwrap());
    multipart.extend(b"\r\n--B--\r\n");
    let (status, body) = post_raw(
        &server,
        "/api/v1/projects/credit/datasets",
        "multipart/form-data; boundary=B",
        multipart,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("field \\\"name\\\" is longer than 4096 bytes") && body.len() < 1000,
        "{body}"
    );
    let names: Vec<Value> = server
        .get_ok("/api/v1/projects/credit/datasets")
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(names.len(), 2, "nothing was added: {names:?}");
}

#[test]
fn schemas_and_jobs_are_bounded() {
    let server = Server::start_fresh("bounded-limits", &[]);
    let many: Vec<Value> = (0..10_001)
        .map(|i| json!({"name": format!("f{i}"), "type": "numeric"}))
        .collect();
    let (status, body) = server.post(
        "/api/v1/projects",
        &json!({"name": "wide", "schema": schema(many)}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().contains("10001 features: at most 10000"),
        "{body}"
    );
    let long = json!({"name": "n".repeat(10_000), "type": "numeric"});
    let (status, body) = server.post(
        "/api/v1/projects",
        &json!({"name": "long", "schema": schema(vec![long])}),
    );
    assert_eq!(status, 422, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("10000 bytes long: at most 256") && text.len() < 1000,
        "{text}"
    );
    demo_project(&server);
    let mut job = influences_job(10);
    job["memory_mib"] = json!(1u64 << 63);
    let (status, body) = server.post("/api/v1/projects/credit/jobs", &job);
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string()
            .contains("above this server's limit of 262144 MiB"),
        "{body}"
    );
}

#[test]
fn a_flood_of_idle_connections_neither_starves_the_server_nor_stays() {
    // The server starts with the soft limit of a default Linux session; this test needs more.
    raise_own_open_file_limit();
    let dir = Server::temp_dir("idle-flood");
    let server =
        Server::start_with_open_files(&dir, &[("SEXTANT_HEADER_READ_TIMEOUT_SECONDS", "3")], 1024);
    demo_project(&server);
    let address = server.url.trim_start_matches("http://").to_string();
    let opened = Instant::now();
    let mut idle: Vec<TcpStream> = (0..1100)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    // The server answers throughout, and a job reads and writes its files.
    let started = Instant::now();
    assert!(server.client.ready(), "/readyz answers during the flood");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let job = run_job(&server, "predict", &[]);
    assert_eq!(job["state"], "succeeded", "{job}");
    // Idle connections are closed once the header-read timeout has passed.
    wait_until("the idle connections to be closed", MINUTE, || {
        opened.elapsed() > Duration::from_secs(4)
    });
    let mut closed = 0;
    for stream in &mut idle {
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut byte = [0u8; 1];
        if matches!(stream.read(&mut byte), Ok(0) | Err(_)) {
            closed += 1;
        }
    }
    assert_eq!(closed, idle.len(), "every idle connection was closed");
    assert!(server.client.ready());
}

fn raise_own_open_file_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit(2) on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
    assert!(
        limit.rlim_cur >= 4096,
        "the test needs 4096 open files: {}",
        limit.rlim_cur
    );
}

/// Sends one HTTP/1.1 request with the given extra headers (and `Connection: close`); returns
/// the status and the whole answer.
fn raw_request(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &[u8],
) -> (u16, String) {
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = &server.token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer)
}

#[test]
fn foreign_hosts_and_cross_site_writes_are_refused() {
    let server = Server::start_fresh("origins", &[("SEXTANT_PUBLIC_NAMES", "sextant.internal")]);
    demo_project(&server);
    let address = server.url.trim_start_matches("http://").to_string();
    let own = format!("Host: {address}");
    // DNS rebinding: a page's own name pointed at this server.
    let (status, answer) = raw_request(
        &server,
        "GET",
        "/api/v1/projects",
        &["Host: evil.example:8640"],
        b"",
    );
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer.contains("host \\\"evil.example:8640\\\" is not a name this server answers to"),
        "{answer}"
    );
    // Its configured public name, localhost and addresses are served.
    for host in [
        "Host: sextant.internal",
        "Host: localhost:8640",
        own.as_str(),
    ] {
        let (status, answer) = raw_request(&server, "GET", "/api/v1/projects", &[host], b"");
        assert_eq!(status, 200, "{host}: {answer}");
    }
    // A cross-site upload (a form on another site's page) is refused and stores nothing.
    let mut upload = b"--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nsneaky\r\n\
        --B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\n\r\n"
        .to_vec();
    upload.extend(std::fs::read(crate::support::repo("demo/background.csv")).unwrap());
    upload.extend(b"\r\n--B--\r\n");
    let form = "Content-Type: multipart/form-data; boundary=B";
    let path = "/api/v1/projects/credit/datasets";
    let (status, answer) = raw_request(
        &server,
        "POST",
        path,
        &[&own, form, "Origin: http://evil.example"],
        &upload,
    );
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer.contains("origin \\\"http://evil.example\\\" may not change anything"),
        "{answer}"
    );
    let (status, answer) = raw_request(
        &server,
        "DELETE",
        "/api/v1/projects/credit/models/xgb",
        &[&own, "Origin: null"],
        b"",
    );
    assert_eq!(status, 403, "{answer}");
    let datasets = server.get_ok(path);
    assert_eq!(datasets.as_array().unwrap().len(), 2, "{datasets}");
    // The same upload from this server's own origin goes through; reads from anywhere get no
    // CORS headers, so no other site's page can read them.
    let origin = format!("Origin: {}", server.url);
    let (status, answer) = raw_request(&server, "POST", path, &[&own, form, &origin], &upload);
    assert_eq!(status, 201, "{answer}");
    let (status, answer) = raw_request(
        &server,
        "GET",
        "/api/v1/projects",
        &[&own, "Origin: http://evil.example"],
        b"",
    );
    assert_eq!(status, 200, "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("access-control-allow"),
        "{answer}"
    );
}

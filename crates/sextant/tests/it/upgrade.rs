//! A data directory written by the first release (0.1.0: version 1 job specs, results, cache
//! entries, a sharded result in parts; `tests/data/release-0.1.0`) is served by this one as it
//! was: the same answers byte for byte, identical requests answered from the stored results,
//! and new jobs run on the stored models and datasets.

use std::path::Path;

use serde_json::{Value, json};

use crate::server::Server;
use crate::support::data;

/// The jobs the fixture holds.
const SHARDED_JOB: &str = "429703e7-ff02-44f0-b2a9-6f178512e92e";
const WHOLE_PATH_DEPENDENT_JOB: &str = "6fc34bcd-e814-42f0-a2ad-b04f2756dfca";
const PATH_DEPENDENT_KEY: &str = "008b77283fb361986b67e1d729533dad95726ef727748c17d39d29783f6ac291";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// GETs `path` and returns the body's text.
fn text(server: &Server, path: &str) -> String {
    let answer = server.client.raw("GET", path, None).unwrap();
    assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    answer.text
}

#[test]
fn a_data_directory_of_release_0_1_0_is_served_as_it_was() {
    let fixture = data("release-0.1.0");
    let dir = Server::temp_dir("release-0.1.0");
    copy_dir(&fixture, &dir);
    let server = Server::start(&dir, &[]);
    let base = "/api/v1/projects/credit/models/xgb";
    for (answer, path) in [
        // 0.1.0 served the newest job, the sharded one over 30 rows; the query now names it.
        (
            "importance-path-dependent",
            "importance?dataset=applicants&method=path-dependent&rows=30",
        ),
        (
            "importance-interventional",
            "importance?dataset=applicants&method=interventional",
        ),
        ("metrics", "metrics?dataset=applicants"),
        (
            "influences-page",
            "influences?dataset=applicants&method=path-dependent&rows=30&offset=5&limit=3",
        ),
        (
            "predictions-page",
            "predictions?dataset=applicants&offset=38&limit=5",
        ),
    ] {
        let expected =
            std::fs::read_to_string(fixture.join(format!("answers/{answer}.json"))).unwrap();
        // Later releases name the algorithms and the time in `source` (from the stored result,
        // so 0.1.0's own), last; without those two the answer is byte for byte 0.1.0's.
        let served = text(&server, &format!("{base}/{path}"));
        let added = served
            .find(",\"algorithm_version\":")
            .expect("algorithm_version");
        let time = served[added..]
            .find("\"computed_at\":\"")
            .expect("computed_at")
            + added
            + 15;
        let end = served[time..].find('"').expect("the time's end") + time + 1;
        assert_eq!(
            &served[added..time - 15],
            ",\"algorithm_version\":\"sextant-0.1.0+algo.1\",",
            "{answer}"
        );
        let without = format!("{}{}", &served[..added], &served[end..]);
        if without != expected.trim_end() {
            // 0.1.0 read stored documents with serde_json's fast float parsing, which put some
            // stored values one unit off in their last digit; this release reads them exactly
            // (`float_roundtrip`) and serves what is stored. All else is byte for byte.
            let (ours, theirs): (Value, Value) = (
                serde_json::from_str(&without).unwrap(),
                serde_json::from_str(&expected).unwrap(),
            );
            same_but_last_digits(&ours, &theirs, answer);
        }
    }

    // By default a query gets the result over the whole dataset, not the newer, smaller one.
    let whole = server.get_ok(&format!("{base}/importance?dataset=applicants"));
    assert_eq!(
        (&whole["source"]["job"], &whole["source"]["rows_total"]),
        (&json!(WHOLE_PATH_DEPENDENT_JOB), &json!(40)),
        "{whole}"
    );

    // A version 1 spec reads as version 2, its inputs by role.
    let sharded = server.get_ok(&format!("/api/v1/jobs/{SHARDED_JOB}"));
    assert_eq!(sharded["state"], "succeeded", "{sharded}");
    assert_eq!(sharded["spec"]["version"], 2, "{sharded}");
    assert_eq!(sharded["spec"]["inputs"]["models"][0]["name"], "xgb");
    assert_eq!(
        sharded["spec"]["inputs"]["datasets"]["data"]["name"],
        "applicants"
    );
    assert_eq!(sharded["spec"]["resources"]["shards"], 2);

    // The identical request is answered from the result stored by the old release.
    let (status, job) = server.post(
        "/api/v1/projects/credit/jobs",
        &json!({"kind": "influences", "model": "xgb", "dataset": "applicants"}),
    );
    assert_eq!(status, 201, "{job}");
    assert_eq!(
        (&job["cached"], &job["cache_key"], &job["state"]),
        (
            &json!(true),
            &json!(PATH_DEPENDENT_KEY),
            &json!("succeeded")
        ),
        "{job}"
    );

    // New work runs on the stored model and datasets.
    let (status, job) = server.post(
        "/api/v1/projects/credit/jobs",
        &json!({"kind": "influences", "model": "xgb", "dataset": "applicants",
                "background": "background", "options": {"rows": 10}}),
    );
    assert_eq!(status, 201, "{job}");
    let done = server.wait_state(
        job["id"].as_str().unwrap(),
        "succeeded",
        std::time::Duration::from_secs(60),
    );
    assert_eq!(
        done["spec"]["inputs"]["datasets"]["background"]["name"],
        "background"
    );
}

/// Checks that two answers are the same document but for floats one or two units apart in
/// their last place.
fn same_but_last_digits(ours: &Value, theirs: &Value, answer: &str) {
    match (ours, theirs) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs()),
                "{answer}: {a} against 0.1.0's {b}"
            );
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{answer}");
            for (a, b) in a.iter().zip(b) {
                same_but_last_digits(a, b, answer);
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "{answer}"
            );
            for (key, a) in a {
                same_but_last_digits(a, &b[key], answer);
            }
        }
        (a, b) => assert_eq!(a, b, "{answer}"),
    }
}

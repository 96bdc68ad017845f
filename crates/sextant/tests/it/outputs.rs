//! Output formats and the demo.

use sextant_data::read_table;
use sextant_model::{Feature, FeatureKind};

use crate::support::*;

#[test]
fn parquet_output_holds_the_same_values_as_csv() {
    let dir = scratch("parquet-out");
    let model = data("small/xgb_categorical.json");
    let rows = data("small/xgb_categorical.csv");
    let (csv, parquet) = (dir.join("out.csv"), dir.join("out.parquet"));
    for out in [&csv, &parquet] {
        sextant_ok(&[
            "explain",
            "--model",
            model.to_str().unwrap(),
            "--data",
            rows.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
    }
    let from_csv = Table::read(&csv);
    let features: Vec<Feature> = from_csv
        .columns
        .iter()
        .map(|c| Feature {
            name: c.clone(),
            kind: FeatureKind::Numeric,
        })
        .collect();
    let from_parquet = read_table(&parquet, &features, None).unwrap();
    assert_eq!(from_parquet.n_rows, from_csv.rows.len());
    let flat: Vec<f64> = from_csv.rows.concat();
    assert_eq!(
        from_parquet.values, flat,
        "CSV text must read back to the very same f64 values"
    );
    // No temporary files are left beside the outputs.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn the_readme_demo_runs() {
    let stdout = sextant(&[
        "explain",
        "--model",
        repo("demo/credit_model.json").to_str().unwrap(),
        "--data",
        repo("demo/applicants.csv").to_str().unwrap(),
        "--rows",
        "20",
    ]);
    assert!(
        stdout.status.success(),
        "{}",
        String::from_utf8_lossy(&stdout.stderr)
    );
    let table = Table::parse(&stdout.stdout);
    assert_eq!(table.rows.len(), 20);
    assert!(
        table.columns.contains(&"region".to_string())
            && table
                .columns
                .ends_with(&["base_value".into(), "margin".into()])
    );
    let dir = scratch("demo");
    let stderr = sextant_ok(&[
        "explain",
        "--model",
        repo("demo/credit_model.json").to_str().unwrap(),
        "--data",
        repo("demo/applicants.csv").to_str().unwrap(),
        "--background",
        repo("demo/background.csv").to_str().unwrap(),
        "--output",
        dir.join("x.csv").to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("explained 1000 rows") && stderr.contains("interventional"),
        "{stderr}"
    );
}

/// `sextant bench` keeps working (on a tiny input, without peers); it asserts no time, only that
/// the report is complete and that the values it timed match the library's.
#[test]
fn bench_reports_every_method_on_a_tiny_input() {
    let workload = data("workloads/xgb_cls");
    let out = sextant(&[
        "bench",
        "--workload",
        workload.to_str().unwrap(),
        "--no-peers",
        "--rows",
        "30",
        "--interventional-rows",
        "3",
        "--predict-rows",
        "40",
        "--runs",
        "1",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for method in [
        "sextant path-dependent",
        "sextant interventional",
        "sextant predict",
    ] {
        assert!(stdout.contains(method), "{method} missing from:\n{stdout}");
    }
    assert!(
        stdout.contains("first 30 rows vs the library's SHAP")
            && stdout.contains("0 rows over tolerance"),
        "{stdout}"
    );
    assert!(stdout.contains("23035 leaves tabulated"), "{stdout}");
}

/// `sextant bench-isolation` keeps working (a few queries on the repository's small workload); it
/// asserts no time, only that both phases and the ratio are reported.
#[test]
fn bench_isolation_reports_both_phases() {
    let workload = data("workloads/xgb_cls");
    let dir = crate::support::scratch("bench-isolation");
    let out = sextant(&[
        "bench-isolation",
        "--workload",
        workload.to_str().unwrap(),
        "--queries",
        "5",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "| idle |",
        "analyzer(s) computing |",
        "p99 under load / p99 idle",
        "from submission to stored result",
        "server RSS",
    ] {
        assert!(stdout.contains(line), "{line} missing from:\n{stdout}");
    }
}

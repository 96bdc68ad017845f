//! Bad input: exit code 2, one line that names the problem, and no output file left behind.

use std::path::Path;

use crate::support::*;

/// Runs a command expected to fail on input; returns its one-line error.
fn fails(args: &[&str]) -> String {
    let out = sextant(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(2),
        "sextant {args:?}: expected exit code 2, got {:?}: {stderr}",
        out.status.code()
    );
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "the error must be one line: {stderr:?}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    stderr
}

fn write(dir: &Path, name: &str, content: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path.display().to_string()
}

#[test]
fn errors_name_the_file_column_and_row() {
    let dir = scratch("bad");
    let model = data("small/xgb_poisson.json");
    let model = model.to_str().unwrap();
    let out = dir.join("out.csv");
    let out = out.to_str().unwrap();

    let missing = write(&dir, "missing.csv", b"x0,x1\n1,2\n");
    let e = fails(&[
        "explain", "--model", model, "--data", &missing, "--output", out,
    ]);
    assert!(
        e.contains("missing.csv") && e.contains("no column \"x2\""),
        "{e}"
    );

    let bad_cell = write(&dir, "cell.csv", b"x0,x1,x2\n1,2,3\n4,five,6\n");
    let e = fails(&[
        "predict", "--model", model, "--data", &bad_cell, "--output", out,
    ]);
    assert!(
        e.contains("cell.csv") && e.contains("column \"x1\", row 2") && e.contains("\"five\""),
        "{e}"
    );

    let ragged = write(&dir, "ragged.csv", b"x0,x1,x2\n1,2,3\n4,5\n");
    let e = fails(&[
        "predict", "--model", model, "--data", &ragged, "--output", out,
    ]);
    assert!(e.contains("ragged.csv") && e.contains("line 3"), "{e}");

    let unknown_category = write(&dir, "cat.csv", b"x0,x1,x2,region\n0,0,0,atlantis\n");
    let cat_model = data("small/xgb_categorical.json");
    let e = fails(&[
        "explain",
        "--model",
        cat_model.to_str().unwrap(),
        "--data",
        &unknown_category,
        "--output",
        out,
    ]);
    assert!(
        e.contains("column \"region\", row 1")
            && e.contains("\"atlantis\" is not one of the model's categories"),
        "{e}"
    );

    let truncated_parquet = std::fs::read(data("workloads/xgb_reg/explain.parquet")).unwrap();
    let truncated = write(
        &dir,
        "cut.parquet",
        &truncated_parquet[..truncated_parquet.len() / 2],
    );
    let e = fails(&[
        "explain",
        "--model",
        data("workloads/xgb_reg/model.json").to_str().unwrap(),
        "--data",
        &truncated,
        "--output",
        out,
    ]);
    assert!(e.contains("cut.parquet") && e.contains("Parquet"), "{e}");

    let not_a_model = write(&dir, "model.json", b"{\"hello\": 1}");
    let e = fails(&[
        "explain",
        "--model",
        &not_a_model,
        "--data",
        &missing,
        "--output",
        out,
    ]);
    assert!(
        e.contains("model.json") && e.contains("learner: missing"),
        "{e}"
    );

    let csv_as_model = write(&dir, "data.csv", b"x0,x1\n1,2\n");
    let e = fails(&[
        "predict",
        "--model",
        &csv_as_model,
        "--data",
        &missing,
        "--output",
        out,
    ]);
    assert!(e.contains("not a model file"), "{e}");

    let e = fails(&[
        "explain",
        "--model",
        model,
        "--data",
        "/nonexistent/rows.csv",
    ]);
    assert!(e.contains("/nonexistent/rows.csv"), "{e}");

    let e = fails(&[
        "explain",
        "--model",
        model,
        "--data",
        &missing,
        "--method",
        "interventional",
    ]);
    assert!(e.contains("--background"), "{e}");

    let empty_background = write(&dir, "bg.csv", b"x0,x1,x2\n");
    let rows = data("small/xgb_poisson.csv");
    let e = fails(&[
        "explain",
        "--model",
        model,
        "--data",
        rows.to_str().unwrap(),
        "--background",
        &empty_background,
    ]);
    assert!(e.contains("bg.csv") && e.contains("no rows"), "{e}");

    let e = fails(&[
        "predict",
        "--model",
        model,
        "--data",
        rows.to_str().unwrap(),
        "--output",
        &dir.join("out.xlsx").display().to_string(),
    ]);
    assert!(
        e.contains("out.xlsx") && e.contains("unknown table format"),
        "{e}"
    );

    assert!(
        !Path::new(out).exists(),
        "a failed run must not leave an output file"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

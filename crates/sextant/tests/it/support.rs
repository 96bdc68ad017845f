//! Running the binary and reading tables back.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's test data folder.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(rel)
}

/// The repository root.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Runs `sextant` with `args`.
pub fn sextant(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sextant"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the sextant binary runs")
}

/// Runs `sextant` and insists it succeeds; returns its standard error.
pub fn sextant_ok(args: &[&str]) -> String {
    let out = sextant(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "sextant {args:?} failed: {stderr}");
    stderr
}

/// A table read from CSV: header and rows of numbers (empty cells are NaN).
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    /// A Parquet file of Float64 columns (a result table); nulls read as NaN.
    pub fn read_parquet(path: &Path) -> Table {
        use arrow_array::{Array, Float64Array};
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut table = Table {
            columns: Vec::new(),
            rows: Vec::new(),
        };
        for batch in reader {
            let batch = batch.unwrap();
            table.columns = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let arrays: Vec<&Float64Array> = batch
                .columns()
                .iter()
                .map(|c| c.as_any().downcast_ref::<Float64Array>().unwrap())
                .collect();
            for r in 0..batch.num_rows() {
                table.rows.push(
                    arrays
                        .iter()
                        .map(|a| if a.is_null(r) { f64::NAN } else { a.value(r) })
                        .collect(),
                );
            }
        }
        table
    }

    pub fn read(path: &Path) -> Table {
        let mut reader =
            csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self::from_reader(&mut reader)
    }

    pub fn parse(text: &[u8]) -> Table {
        Self::from_reader(&mut csv::Reader::from_reader(text))
    }

    fn from_reader<R: std::io::Read>(reader: &mut csv::Reader<R>) -> Table {
        let columns = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_string)
            .collect();
        let rows = reader
            .records()
            .map(|r| {
                r.unwrap()
                    .iter()
                    .map(|c| {
                        if c.is_empty() {
                            f64::NAN
                        } else {
                            c.parse().unwrap()
                        }
                    })
                    .collect()
            })
            .collect();
        Table { columns, rows }
    }

    pub fn column(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.columns))
    }
}

/// The tolerance: `1e-5 + 4e-6 × (largest |value| in the reference row)`.
pub fn row_tolerance(reference_row: &[f64]) -> f64 {
    1e-5 + 4e-6 * reference_row.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// Compares `ours` with `reference` on the reference's columns (renamed through `rename`), row by
/// row, for the reference's rows; returns the worst difference.
pub fn assert_matches(
    ours: &Table,
    reference: &Table,
    rename: &dyn Fn(&str) -> String,
    what: &str,
) -> f64 {
    assert!(
        ours.rows.len() >= reference.rows.len(),
        "{what}: {} rows, reference has {}",
        ours.rows.len(),
        reference.rows.len()
    );
    let mapping: Vec<usize> = reference
        .columns
        .iter()
        .map(|c| ours.column(&rename(c)))
        .collect();
    let mut worst = 0.0f64;
    for (r, ref_row) in reference.rows.iter().enumerate() {
        let tol = row_tolerance(ref_row);
        for (c, &expected) in ref_row.iter().enumerate() {
            let got = ours.rows[r][mapping[c]];
            let diff = (got - expected).abs();
            assert!(
                diff <= tol,
                "{what}: row {r}, column {}: ours {got}, reference {expected} (tolerance {tol:e})",
                reference.columns[c]
            );
            worst = worst.max(diff);
        }
    }
    worst
}

/// A temporary directory for one test under the target's scratch space, removed when dropped.
/// It derefs to its path.
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        self.0.path()
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        self.0.path()
    }
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> Scratch {
    let dir = tempfile::Builder::new()
        .prefix(&format!("sextant-it-{name}-"))
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("a scratch directory");
    Scratch(dir)
}

/// Parses the `worst additivity error X` figure of a summary line.
pub fn additivity_error(stderr: &str) -> f64 {
    let tail = stderr
        .split("worst additivity error ")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary in {stderr:?}"));
    tail.split_whitespace().next().unwrap().parse().unwrap()
}

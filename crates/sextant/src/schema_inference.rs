//! A project schema's features, inferred from a table: numbers are numeric, text is categorical.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, bail};
use sextant_api::{FeatureSpec, FeatureType};

/// Infers a schema's features from a table: numbers are numeric, text is categorical.
pub fn infer_features(
    path: &Path,
    label: Option<&str>,
    id: Option<&str>,
) -> anyhow::Result<Vec<FeatureSpec>> {
    let columns = sextant_data::table_columns(path)?;
    let skip = |c: &str| Some(c) == label || Some(c) == id;
    let text_columns: BTreeSet<String> = match sextant_data::TableFormat::from_path(path)? {
        sextant_data::TableFormat::Csv => {
            let mut reader = csv::Reader::from_path(path)?;
            let mut text = BTreeSet::new();
            for record in reader.records().take(10_000) {
                let record = record.with_context(|| format!("{}", path.display()))?;
                for (c, cell) in columns.iter().zip(record.iter()) {
                    let cell = cell.trim();
                    let missing = cell.is_empty()
                        || ["nan", "na", "null", "none"]
                            .iter()
                            .any(|m| cell.eq_ignore_ascii_case(m));
                    if !missing && cell.parse::<f64>().is_err() {
                        text.insert(c.clone());
                    }
                }
            }
            text
        }
        sextant_data::TableFormat::Parquet => {
            let file = std::fs::File::open(path)?;
            let builder =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?;
            builder
                .schema()
                .fields()
                .iter()
                .filter(|f| {
                    matches!(
                        f.data_type(),
                        arrow_schema::DataType::Utf8
                            | arrow_schema::DataType::LargeUtf8
                            | arrow_schema::DataType::Dictionary(_, _)
                    )
                })
                .map(|f| f.name().clone())
                .collect()
        }
    };
    for (what, column) in [("label", label), ("id", id)] {
        if let Some(c) = column
            && !columns.iter().any(|x| x == c)
        {
            bail!(
                "{}: no {what} column {c:?} (the file has {})",
                path.display(),
                columns.join(", ")
            );
        }
    }
    Ok(columns
        .iter()
        .filter(|c| !skip(c))
        .map(|c| FeatureSpec {
            name: c.clone(),
            kind: if text_columns.contains(c) {
                FeatureType::Categorical
            } else {
                FeatureType::Numeric
            },
            categories: None,
        })
        .collect())
}

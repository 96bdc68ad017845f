use thiserror::Error;

/// Why a table could not be read or written.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be opened, read or written.
    // The operating system's reason is the error's source: printed after it in a chain.
    #[error("{path}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The extension names no format we read.
    #[error("{path}: unknown table format (expected a .csv or .parquet file)")]
    UnknownFormat {
        /// The file.
        path: String,
    },
    /// A feature the model needs has no column.
    #[error("{path}: no column {column:?}, which the model needs (the file has {available})")]
    MissingColumn {
        /// The file.
        path: String,
        /// The missing column.
        column: String,
        /// A short list of the columns present.
        available: String,
    },
    /// A column a segment expression names is not in the table.
    #[error("{path}: no column {column:?}, which the segment needs (the file has {available})")]
    SegmentColumn {
        /// The file.
        path: String,
        /// The missing column.
        column: String,
        /// A short list of the columns present.
        available: String,
    },
    /// A segment expression cannot be evaluated on a row.
    #[error("{path}: row {row}: {message}")]
    Segment {
        /// The file.
        path: String,
        /// 1-based data row.
        row: u64,
        /// What is wrong.
        message: String,
    },
    /// Two columns share a name that the model needs.
    #[error("{path}: column {column:?} appears more than once")]
    DuplicateColumn {
        /// The file.
        path: String,
        /// The repeated column.
        column: String,
    },
    /// A cell cannot be read as the feature's type.
    #[error("{path}: column {column:?}, row {row}: {message}")]
    BadCell {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// 1-based data row (the header is not counted).
        row: u64,
        /// What is wrong.
        message: String,
    },
    /// A column's type cannot hold the feature.
    #[error("{path}: column {column:?} has type {found}, which cannot hold {expected}")]
    WrongType {
        /// The file.
        path: String,
        /// The column.
        column: String,
        /// The column's type.
        found: String,
        /// What the feature needs.
        expected: &'static str,
    },
    /// The CSV structure is broken (unequal field counts, bad quoting, not UTF-8).
    #[error("{path}: line {line}: {message}")]
    Csv {
        /// The file.
        path: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The Parquet file is unreadable.
    #[error("{path}: not a readable Parquet file: {message}")]
    Parquet {
        /// The file.
        path: String,
        /// The reader's reason.
        message: String,
    },
}

/// Column names as an error lists them: all of up to eight, else the count and the first eight.
pub fn list_columns<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    let shown: Vec<String> = names.iter().take(8).map(|n| format!("{n:?}")).collect();
    match names.len() {
        0 => "no columns".to_string(),
        n if n <= 8 => format!("columns {}", shown.join(", ")),
        n => format!("{n} columns: {}, …", shown.join(", ")),
    }
}

/// For each feature, the index of the one column named after it among `columns`; errors name
/// the file and the missing or repeated column.
pub(crate) fn match_columns<'a>(
    path: &str,
    columns: impl Iterator<Item = &'a str> + Clone,
    features: &[sextant_model::Feature],
) -> Result<Vec<usize>, DataError> {
    let mut out = Vec::with_capacity(features.len());
    for feature in features {
        let mut found = columns
            .clone()
            .enumerate()
            .filter(|(_, c)| c.trim() == feature.name);
        let Some((index, _)) = found.next() else {
            return Err(DataError::MissingColumn {
                path: path.to_string(),
                column: feature.name.clone(),
                available: list_columns(columns),
            });
        };
        if found.next().is_some() {
            return Err(DataError::DuplicateColumn {
                path: path.to_string(),
                column: feature.name.clone(),
            });
        }
        out.push(index);
    }
    Ok(out)
}

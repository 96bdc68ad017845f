//! Pass 1 and 2 of the hotspot search ([`super::search`]).
//!
//! 1. **Survey**: each column's values on a sample of at most [`SAMPLE_ROWS`] rows (every k-th
//!    row) give a numeric column's cut points (its quantiles); a text column's values are
//!    counted over every row (at most [`MAX_DISTINCT`] distinct ones), and its most frequent
//!    [`MAX_VALUES`] become conditions.
//! 2. **Coding**: each labelled row's cell of each column becomes a code of one byte (the bin
//!    between two cuts, the value, "other", or missing).

use std::collections::HashMap;

use sextant_data::segment::Cell;

/// Rows the cut points of a numeric column are taken from, at most.
pub(super) const SAMPLE_ROWS: u64 = 100_000;

/// Distinct values of a text column counted, at most (later new values are not tried).
const MAX_DISTINCT: usize = 10_000;

/// Values of a categorical column tried as conditions: the most frequent.
const MAX_VALUES: usize = 20;

/// What pass 1 learns of a column.
#[derive(Default)]
struct ColumnSurvey {
    /// Sampled numbers.
    numbers: Vec<f64>,
    /// Values seen as text (a CSV file's cells, a text column's), with their counts.
    counts: HashMap<String, u64>,
    /// Values seen as numbers (a Parquet file's numeric column), by their bits.
    number_counts: HashMap<u64, u64>,
    /// Whether a present value was not a number.
    texts: bool,
    /// Whether counting stopped: [`MAX_DISTINCT`] values seen, every one a number (the column
    /// is cut at quantiles; its counts are not needed).
    saturated: bool,
}

impl ColumnSurvey {
    fn count(&mut self, cell: &Cell) {
        let room = |len: usize| len < MAX_DISTINCT;
        let full = match cell {
            Cell::Text(t) => {
                let fits = room(self.counts.len());
                match self.counts.get_mut(t.as_str()) {
                    Some(count) => {
                        *count += 1;
                        false
                    }
                    None if fits => {
                        self.counts.insert(t.clone(), 1);
                        false
                    }
                    None => true,
                }
            }
            Cell::Number(x) => {
                let fits = room(self.number_counts.len());
                match self.number_counts.get_mut(&x.to_bits()) {
                    Some(count) => {
                        *count += 1;
                        false
                    }
                    None if fits => {
                        self.number_counts.insert(x.to_bits(), 1);
                        false
                    }
                    None => true,
                }
            }
            Cell::Missing => false,
        };
        if full {
            self.saturated = !self.texts;
        }
    }

    /// The values counted, as text, with their counts.
    fn values(self) -> Vec<(String, u64)> {
        let mut values: HashMap<String, u64> = self.counts;
        for (bits, n) in self.number_counts {
            *values.entry(f64::from_bits(bits).to_string()).or_default() += n;
        }
        values.into_iter().collect()
    }
}

/// Pass 1 over the columns searched.
pub(super) struct Survey {
    columns: Vec<ColumnSurvey>,
    stride: u64,
    seen: u64,
}

/// How a column is cut into codes.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cut {
    /// Quantile cut points, increasing: code `b` holds the values with `b` cuts at or below
    /// them, code `cuts.len() + 1` the missing ones.
    Numeric(Vec<f64>),
    /// Values tried, most frequent first: code `i` is the `i`-th, `values.len()` any other
    /// value, `values.len() + 1` missing.
    Categorical(Vec<String>),
}

impl Cut {
    pub(super) fn missing_code(&self) -> usize {
        match self {
            Cut::Numeric(cuts) => cuts.len() + 1,
            Cut::Categorical(values) => values.len() + 1,
        }
    }

    pub(super) fn codes(&self) -> usize {
        self.missing_code() + 1
    }

    pub(super) fn code(&self, cell: &Cell) -> u8 {
        let code = match (self, cell) {
            (_, Cell::Missing) => self.missing_code(),
            (Cut::Numeric(cuts), Cell::Number(x)) => cuts.partition_point(|c| c <= x),
            (Cut::Numeric(cuts), Cell::Text(t)) => match t.parse::<f64>() {
                Ok(x) if !x.is_nan() => cuts.partition_point(|c| *c <= x),
                _ => self.missing_code(),
            },
            (Cut::Categorical(values), cell) => {
                let text = match cell {
                    Cell::Text(t) => std::borrow::Cow::Borrowed(t.as_str()),
                    Cell::Number(x) => std::borrow::Cow::Owned(x.to_string()),
                    Cell::Missing => unreachable!("matched above"),
                };
                values
                    .iter()
                    .position(|v| *v == text)
                    .unwrap_or(values.len())
            }
        };
        code as u8
    }
}

impl Survey {
    /// A survey of `columns` columns over a table of about `rows` rows.
    pub(super) fn new(columns: usize, rows: u64) -> Survey {
        Survey {
            columns: (0..columns).map(|_| ColumnSurvey::default()).collect(),
            stride: rows.div_ceil(SAMPLE_ROWS).max(1),
            seen: 0,
        }
    }

    /// Takes in the next row's cells.
    pub(super) fn add(&mut self, cells: &[Cell]) {
        let sampled = self.seen.is_multiple_of(self.stride);
        self.seen += 1;
        for (column, cell) in self.columns.iter_mut().zip(cells) {
            let number = match cell {
                Cell::Missing => continue,
                Cell::Number(x) => Some(*x),
                Cell::Text(t) => t.parse::<f64>().ok().filter(|x| !x.is_nan()),
            };
            if number.is_none() {
                column.texts = true;
                column.saturated = false;
            }
            if let (true, Some(x)) = (sampled, number) {
                column.numbers.push(x);
            }
            if !column.saturated {
                column.count(cell);
            }
        }
    }

    /// Each column's cut: at the `bins`-quantiles when every value is a number (and `numeric`
    /// says it may be), else by its most frequent values.
    pub(super) fn cuts(self, bins: u32, numeric: &[bool]) -> Vec<Cut> {
        self.columns
            .into_iter()
            .zip(numeric)
            .map(|(mut column, &numeric)| {
                if numeric && !column.texts {
                    column.numbers.sort_by(f64::total_cmp);
                    let sorted = &column.numbers;
                    let mut cuts: Vec<f64> = (1..bins)
                        .filter_map(|k| {
                            sorted
                                .get((k as usize * sorted.len()) / bins as usize)
                                .copied()
                        })
                        .filter(|&c| sorted.first().is_some_and(|&low| c > low))
                        .collect();
                    cuts.dedup();
                    Cut::Numeric(cuts)
                } else {
                    let mut values = column.values();
                    values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                    values.truncate(MAX_VALUES);
                    Cut::Categorical(values.into_iter().map(|(v, _)| v).collect())
                }
            })
            .collect()
    }
}

/// Pass 2: the labelled rows' codes and losses.
pub(super) struct Coded {
    pub(super) cuts: Vec<Cut>,
    /// One code per labelled row, per column.
    pub(super) codes: Vec<Vec<u8>>,
    pub(super) losses: Vec<f64>,
}

impl Coded {
    pub(super) fn new(cuts: Vec<Cut>) -> Coded {
        Coded {
            codes: vec![Vec::new(); cuts.len()],
            cuts,
            losses: Vec::new(),
        }
    }

    /// Takes in a labelled row's cells and loss.
    pub(super) fn add(&mut self, cells: &[Cell], loss: f64) {
        for ((codes, cut), cell) in self.codes.iter_mut().zip(&self.cuts).zip(cells) {
            codes.push(cut.code(cell));
        }
        self.losses.push(loss);
    }

    pub(super) fn rows(&self) -> usize {
        self.losses.len()
    }

    /// The mean loss over every row.
    pub(super) fn overall(&self) -> f64 {
        self.losses.iter().sum::<f64>() / self.losses.len().max(1) as f64
    }
}

/// What a report says of a column's cut.
pub(super) fn described(cut: &Cut) -> (&'static str, Vec<serde_json::Value>) {
    match cut {
        Cut::Numeric(cuts) => ("numeric", cuts.iter().map(|&c| c.into()).collect()),
        Cut::Categorical(values) => (
            "categorical",
            values.iter().map(|v| v.clone().into()).collect(),
        ),
    }
}

impl Coded {
    pub(super) fn cuts(&self) -> &[Cut] {
        &self.cuts
    }
}

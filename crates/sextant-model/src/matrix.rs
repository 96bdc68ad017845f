//! A borrowed block of rows.

/// Row-major feature values: `n_rows × n_features`, missing values as NaN. Columns are in the
/// model's feature order.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    values: &'a [f64],
    n_features: usize,
}

impl<'a> Rows<'a> {
    /// Views `values` as rows of `n_features` values. Panics if the length is not a multiple of
    /// `n_features` (a programming error, not a data error).
    pub fn new(values: &'a [f64], n_features: usize) -> Rows<'a> {
        assert!(
            n_features > 0 || values.is_empty(),
            "rows need at least one feature"
        );
        assert_eq!(
            values.len() % n_features.max(1),
            0,
            "values do not fill whole rows"
        );
        Rows { values, n_features }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.values.len().checked_div(self.n_features).unwrap_or(0)
    }

    /// Number of features per row.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.values[i * self.n_features..(i + 1) * self.n_features]
    }

    /// All values, row-major.
    pub fn values(&self) -> &'a [f64] {
        self.values
    }

    /// Rows `start..end`.
    pub fn slice(&self, start: usize, end: usize) -> Rows<'a> {
        Rows {
            values: &self.values[start * self.n_features..end * self.n_features],
            n_features: self.n_features,
        }
    }
}

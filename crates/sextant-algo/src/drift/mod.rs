//! Drift between a reference dataset and a current one: each column's values sketched in
//! bounded memory as the rows stream by ([`Profile`]), a uniform sample of whole rows kept
//! beside them ([`Reservoir`]), and two sketches of a column compared ([`compare_numeric`],
//! [`compare_categorical`]).

mod compare;
mod sketch;

use rayon::prelude::*;

pub use compare::{
    BINS, Bin, Categorical, Numeric, PSI_FLOOR, compare_categorical, compare_numeric,
};
pub use sketch::{MAX_KEYS, Sketch};

/// The sketches of a table's columns.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    /// One per column.
    pub columns: Vec<Sketch>,
    /// Rows added.
    pub rows: u64,
}

impl Profile {
    /// Empty sketches of `columns` columns; a column's values outside `ranges[j]` are counted.
    pub fn new(columns: usize, ranges: Option<&[Option<(f64, f64)>]>) -> Profile {
        Profile {
            columns: (0..columns)
                .map(|j| Sketch::new(ranges.and_then(|r| r[j])))
                .collect(),
            rows: 0,
        }
    }

    /// Adds `n_rows` rows of a row-major block `width` values wide whose first columns are the
    /// profile's, in parallel over columns.
    pub fn add_rows(&mut self, values: &[f64], width: usize, n_rows: usize) {
        assert!(
            width >= self.columns.len(),
            "rows are narrower than the profile"
        );
        assert!(values.len() >= n_rows * width, "fewer values than rows");
        self.columns.par_iter_mut().enumerate().for_each(|(j, s)| {
            for r in 0..n_rows {
                s.add(values[r * width + j]);
            }
        });
        self.rows += n_rows as u64;
    }
}

/// A uniform sample of at most `capacity` rows of a stream (Vitter's algorithm R, seeded, so
/// the same stream and seed keep the same rows).
#[derive(Clone, Debug)]
pub struct Reservoir {
    capacity: usize,
    width: usize,
    values: Vec<f64>,
    seen: u64,
    state: u64,
}

impl Reservoir {
    /// An empty sample of rows `width` values wide.
    pub fn new(capacity: usize, width: usize, seed: u64) -> Reservoir {
        Reservoir {
            capacity,
            width,
            values: Vec::with_capacity(capacity.min(1 << 16) * width),
            seen: 0,
            state: seed ^ 0x853c_49e6_748f_ea9b,
        }
    }

    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Offers the rows of a row-major block `stride` values wide; each keeps its first `width`.
    pub fn offer(&mut self, values: &[f64], stride: usize, n_rows: usize) {
        for r in 0..n_rows {
            let row = &values[r * stride..r * stride + self.width];
            if (self.seen as usize) < self.capacity {
                self.values.extend_from_slice(row);
            } else {
                let slot = (self.next() % (self.seen + 1)) as usize;
                if slot < self.capacity {
                    self.values[slot * self.width..(slot + 1) * self.width].copy_from_slice(row);
                }
            }
            self.seen += 1;
        }
    }

    /// The rows kept, row-major.
    pub fn rows(&self) -> &[f64] {
        &self.values
    }

    /// How many rows are kept.
    pub fn len(&self) -> usize {
        self.values.len() / self.width.max(1)
    }

    /// Whether no row is kept.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Rows offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_stream_is_kept_whole_and_a_long_one_sampled() {
        let values: Vec<f64> = (0..3000).map(f64::from).collect();
        let mut all = Reservoir::new(2000, 3, 1);
        all.offer(&values[..600], 3, 200);
        assert_eq!(all.rows(), &values[..600]);
        let mut some = Reservoir::new(50, 1, 7);
        some.offer(&values, 1, 3000);
        assert_eq!((some.len(), some.seen()), (50, 3000));
        let mean = some.rows().iter().sum::<f64>() / 50.0;
        assert!((mean - 1500.0).abs() < 400.0, "{mean}");
        let mut again = Reservoir::new(50, 1, 7);
        again.offer(&values, 1, 3000);
        assert_eq!(again.rows(), some.rows());
    }

    #[test]
    fn a_profile_counts_each_column() {
        let mut p = Profile::new(2, Some(&[Some((0.0, 1.0)), None]));
        p.add_rows(&[0.5, 1.0, 9.0, 7.0, f64::NAN, 2.0, 3.0, 1.0, 5.0], 3, 3);
        assert_eq!(p.rows, 3);
        assert_eq!((p.columns[0].present, p.columns[0].outside), (3, 2));
        assert_eq!((p.columns[1].present, p.columns[1].missing), (2, 1));
    }
}

//! One column's values in bounded memory: a count per distinct value while there are few
//! (exact), then a count per bucket of nearby values (a fixed number of the leading bits of the
//! value's order-preserving bit pattern), coarsened as needed to stay within [`MAX_KEYS`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The most distinct keys a sketch holds: distinct values while exact, buckets after.
pub const MAX_KEYS: usize = 8192;

/// Bits of a value's key dropped when a sketch first turns to buckets: 12 mantissa bits are
/// kept, buckets about 0.02 % of the value wide.
const FIRST_SHIFT: u32 = 40;

/// A multiplicative hash of a 64-bit key (the keys are already well spread bit patterns).
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = (key ^ (key >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type Counts = HashMap<u64, u64, BuildHasherDefault<KeyHasher>>;

/// The order-preserving key of a (non-NaN) value: keys compare as the values do.
pub fn key_of(v: f64) -> u64 {
    let bits = if v == 0.0 { 0.0f64 } else { v }.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// The value of a key from [`key_of`].
pub fn value_of(key: u64) -> f64 {
    let bits = if key >> 63 == 1 {
        key & !(1 << 63)
    } else {
        !key
    };
    f64::from_bits(bits)
}

/// One column's values: counts by value or bucket, missing values, the range.
#[derive(Clone, Debug)]
pub struct Sketch {
    counts: Counts,
    /// Low bits dropped from a value's key (0 while exact).
    shift: u32,
    /// Values seen that were not missing.
    pub present: u64,
    /// Missing values (NaN) seen.
    pub missing: u64,
    /// The smallest and largest values seen.
    pub range: Option<(f64, f64)>,
    /// Values outside `outside_of` (the other dataset's range), when one was given.
    pub outside: u64,
    outside_of: Option<(f64, f64)>,
}

impl Default for Sketch {
    fn default() -> Sketch {
        Sketch::new(None)
    }
}

impl Sketch {
    /// An empty sketch; values outside `outside_of` are counted in [`Sketch::outside`].
    pub fn new(outside_of: Option<(f64, f64)>) -> Sketch {
        Sketch {
            counts: Counts::default(),
            shift: 0,
            present: 0,
            missing: 0,
            range: None,
            outside: 0,
            outside_of,
        }
    }

    /// Adds one value (NaN is missing).
    #[inline]
    pub fn add(&mut self, v: f64) {
        if v.is_nan() {
            self.missing += 1;
            return;
        }
        self.present += 1;
        self.range = Some(match self.range {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
        if let Some((lo, hi)) = self.outside_of
            && (v < lo || v > hi)
        {
            self.outside += 1;
        }
        *self.counts.entry(key_of(v) >> self.shift).or_insert(0) += 1;
        if self.counts.len() > MAX_KEYS {
            self.coarsen(if self.shift == 0 {
                FIRST_SHIFT
            } else {
                self.shift + 1
            });
        }
    }

    /// Whether every distinct value is counted on its own (no buckets).
    pub fn is_exact(&self) -> bool {
        self.shift == 0
    }

    /// Drops low bits from every key until at least `shift` are dropped and the keys fit.
    fn coarsen(&mut self, shift: u32) {
        let mut shift = shift.max(self.shift);
        loop {
            let by = shift - self.shift;
            if by > 0 {
                let mut merged = Counts::default();
                for (k, c) in self.counts.drain() {
                    *merged.entry(k >> by).or_insert(0) += c;
                }
                self.counts = merged;
                self.shift = shift;
            }
            if self.counts.len() <= MAX_KEYS || shift >= 63 {
                return;
            }
            shift += 1;
        }
    }

    /// Counts both sketches at the same resolution (the coarser one's).
    pub fn align(a: &mut Sketch, b: &mut Sketch) {
        let shift = a.shift.max(b.shift);
        if a.shift < shift {
            a.coarsen(shift);
        }
        if b.shift < shift {
            b.coarsen(shift);
        }
        if a.shift != b.shift {
            // Coarsening one to fit made it coarser than the other: match again.
            Sketch::align(a, b);
        }
    }

    /// Adds another sketch of the same column (of other rows) to this one.
    pub fn merge(&mut self, other: &Sketch) {
        let mut other = other.clone();
        Sketch::align(self, &mut other);
        for (k, c) in other.counts {
            *self.counts.entry(k).or_insert(0) += c;
        }
        self.present += other.present;
        self.missing += other.missing;
        self.outside += other.outside;
        self.range = match (self.range, other.range) {
            (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
            (r, None) | (None, r) => r,
        };
        self.coarsen(self.shift);
    }

    /// The counts in value order: each value (a bucket's middle), and its count.
    pub fn sorted(&self) -> Vec<(f64, u64)> {
        let mut keys: Vec<(u64, u64)> = self.counts.iter().map(|(k, c)| (*k, *c)).collect();
        keys.sort_unstable_by_key(|(k, _)| *k);
        keys.into_iter()
            .map(|(k, c)| (self.representative(k), c))
            .collect()
    }

    /// The counts in key order, by key (for comparing two aligned sketches).
    pub(crate) fn sorted_keys(&self) -> Vec<(u64, u64)> {
        let mut keys: Vec<(u64, u64)> = self.counts.iter().map(|(k, c)| (*k, *c)).collect();
        keys.sort_unstable_by_key(|(k, _)| *k);
        keys
    }

    /// The value a key stands for: itself when exact, else its bucket's middle (clamped to the
    /// range seen, so a bucket never stands for a value outside the data).
    pub(crate) fn representative(&self, key: u64) -> f64 {
        self.representative_within(key, self.range)
    }

    /// [`Sketch::representative`], clamped to `range`.
    pub(crate) fn representative_within(&self, key: u64, range: Option<(f64, f64)>) -> f64 {
        if self.shift == 0 {
            return value_of(key);
        }
        let lo = value_of(key << self.shift);
        let hi = value_of(((key + 1) << self.shift).wrapping_sub(1));
        let mid = lo + (hi - lo) / 2.0;
        match range {
            Some((min, max)) => mid.clamp(min, max),
            None => mid,
        }
    }

    /// The largest share of the values one key holds: how far a statistic read at key
    /// boundaries can be from the exact one, for a bucketed sketch (0 when exact).
    pub fn resolution(&self) -> f64 {
        if self.shift == 0 || self.present == 0 {
            return 0.0;
        }
        let most = self.counts.values().copied().max().unwrap_or(0);
        most as f64 / self.present as f64
    }

    /// The distinct values or buckets held.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_order_of_values() {
        let values = [
            -1e300, -2.5, -1.0, -1e-300, 0.0, 1e-300, 0.5, 1.0, 3.0, 1e300,
        ];
        for w in values.windows(2) {
            assert!(key_of(w[0]) < key_of(w[1]), "{} < {}", w[0], w[1]);
        }
        for v in values {
            assert_eq!(value_of(key_of(v)), v);
        }
        assert_eq!(key_of(-0.0), key_of(0.0));
    }

    #[test]
    fn many_values_turn_to_buckets_that_keep_the_counts() {
        let mut s = Sketch::default();
        for i in 0..100_000 {
            s.add(f64::from(i) * 0.001);
        }
        s.add(f64::NAN);
        assert!(!s.is_exact());
        assert!(s.distinct() <= MAX_KEYS);
        assert_eq!(s.present, 100_000);
        assert_eq!(s.missing, 1);
        let total: u64 = s.sorted().iter().map(|(_, c)| c).sum();
        assert_eq!(total, 100_000);
        let sorted = s.sorted();
        assert!(sorted.windows(2).all(|w| w[0].0 <= w[1].0));
        assert!(s.resolution() < 0.01, "{}", s.resolution());
    }
}

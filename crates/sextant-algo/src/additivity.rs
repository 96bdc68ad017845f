//! The additivity check: influences plus base value must give back the model's margin.

/// A row passes when `|Σφ + base − margin| ≤ ADDITIVITY_TOLERANCE · max(1, |margin|)`.
pub const ADDITIVITY_TOLERANCE: f64 = 1e-4;

/// The outcome of an additivity check over some rows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Additivity {
    /// Rows (times outputs) checked.
    pub checked: usize,
    /// The largest `|Σφ + base − margin|`.
    pub worst_abs: f64,
    /// The largest `|Σφ + base − margin| / max(1, |margin|)`.
    pub worst_scaled: f64,
    /// How many rows (times outputs) exceed the tolerance.
    pub failing: usize,
}

impl Additivity {
    /// Folds another block's result into this one.
    pub fn merge(&mut self, other: Additivity) {
        self.checked += other.checked;
        self.worst_abs = self.worst_abs.max(other.worst_abs);
        self.worst_scaled = self.worst_scaled.max(other.worst_scaled);
        self.failing += other.failing;
    }

    /// Whether every row passed.
    pub fn passed(&self) -> bool {
        self.failing == 0
    }
}

/// Checks explanations (layout as in the crate docs) against margins (`n_rows × n_outputs`).
pub fn check_additivity(explanations: &[f64], margins: &[f64], n_features: usize) -> Additivity {
    let width = n_features + 1;
    assert_eq!(
        explanations.len(),
        margins.len() * width,
        "explanations and margins do not match"
    );
    let mut out = Additivity {
        checked: margins.len(),
        ..Additivity::default()
    };
    for (phi, &margin) in explanations.chunks(width).zip(margins) {
        let total: f64 = phi.iter().sum();
        let err = (total - margin).abs();
        let scaled = err / margin.abs().max(1.0);
        if scaled.is_nan() || scaled > ADDITIVITY_TOLERANCE {
            out.failing += 1;
        }
        out.worst_abs = out
            .worst_abs
            .max(if err.is_nan() { f64::INFINITY } else { err });
        out.worst_scaled = out.worst_scaled.max(if scaled.is_nan() {
            f64::INFINITY
        } else {
            scaled
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_rows_that_do_not_add_up() {
        // Two rows, two features: [φ0, φ1, base].
        let phi = [1.0, 2.0, 0.5, 1.0, 1.0, 0.0];
        let a = check_additivity(&phi, &[3.5, 2.1], 2);
        assert_eq!(a.checked, 2);
        assert_eq!(a.failing, 1);
        assert!((a.worst_abs - 0.1).abs() < 1e-12);
        let a = check_additivity(&[f64::NAN, 0.0, 0.0], &[0.0], 2);
        assert!(!a.passed() && a.worst_abs.is_infinite());
    }
}

//! How one internal node routes a value.

/// Values in `[-LIGHTGBM_ZERO_THRESHOLD, LIGHTGBM_ZERO_THRESHOLD]` count as zero for LightGBM's
/// `missing_type=Zero` splits (LightGBM's `kZeroThreshold`, a C++ `float` compared as `double`).
pub const LIGHTGBM_ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// Which comparison a split makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `x < threshold` goes left.
    Less,
    /// `x <= threshold` goes left.
    LessOrEqual,
    /// XGBoost categories: `x` is rounded to `f32`; a negative value is never in the set, otherwise
    /// its integer part is looked up; values in the set go left.
    CategoriesF32,
    /// LightGBM categories: `x` is truncated toward zero; a negative integer is never in the set;
    /// values in the set go left.
    CategoriesTruncated,
    /// `x == threshold` goes left (ONNX `BRANCH_EQ` on a double input).
    Equal,
    /// `x`, rounded to `f32`, equal to the threshold goes left (ONNX `BRANCH_EQ` on a float input).
    EqualF32,
    /// ONNX `BRANCH_MEMBER` on a double input: `x` goes left when it is a non-negative integer in
    /// the node's set.
    Members,
    /// ONNX `BRANCH_MEMBER` on a float input: as [`Split::Members`], with `x` rounded to `f32`
    /// first.
    MembersF32,
}

impl Split {
    /// Whether the split looks `x` up in a category set.
    pub fn uses_categories(self) -> bool {
        matches!(
            self,
            Split::CategoriesF32 | Split::CategoriesTruncated | Split::Members | Split::MembersF32
        )
    }
}

/// What counts as missing at a split, and what happens to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// NaN follows the node's default direction (XGBoost; LightGBM `missing_type=NaN`).
    Nan,
    /// NaN is read as 0.0, and values within ±[`LIGHTGBM_ZERO_THRESHOLD`] follow the default
    /// direction (LightGBM `missing_type=Zero`).
    Zero,
    /// NaN is read as 0.0 and compared like any value (LightGBM `missing_type=None`).
    AsZero,
}

/// The smallest `f64` that rounds (to nearest, ties to even) to an `f32` of at least `t`.
///
/// XGBoost casts each input to `f32` and sends it left when `(x as f32) < t`. Rounding is
/// monotonic, so that test equals `x < f32_less_boundary(t)` on the unrounded `f64`: the models keep
/// one `f64` comparison per node and the data need no per-model rounding.
pub fn f32_less_boundary(t: f32) -> f64 {
    if t.is_nan() || t == f32::NEG_INFINITY {
        return t as f64;
    }
    // One f32 step below t, continued past f32::MIN as if the exponent range went on.
    let below = if t == f32::MIN {
        -(2f64.powi(128))
    } else {
        t.next_down() as f64
    };
    let t64 = if t == f32::INFINITY {
        2f64.powi(128)
    } else {
        t as f64
    };
    // The midpoint of two neighbouring f32 values needs 25 significant bits: exact in f64.
    let mid = (below + t64) / 2.0;
    if (mid as f32) >= t {
        mid
    } else {
        mid.next_up()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(x: f64, t: f32) {
        let xgboost = (x as f32) < t;
        let ours = x < f32_less_boundary(t);
        assert_eq!(
            xgboost,
            ours,
            "x={x:e} t={t:e} boundary={:e}",
            f32_less_boundary(t)
        );
    }

    #[test]
    fn boundary_matches_f32_rounding_at_edges() {
        for t in [
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            0.1,
            -2.229,
            f32::MIN_POSITIVE,
            f32::MAX,
            f32::MIN,
            1e-45,
            -1e-45,
            f32::INFINITY,
        ] {
            let b = f32_less_boundary(t);
            for x in [
                b,
                b.next_down(),
                b.next_up(),
                t as f64,
                (t as f64).next_up(),
                (t as f64).next_down(),
            ] {
                check(x, t);
            }
        }
        check(f64::INFINITY, f32::INFINITY);
        check(1e300, f32::INFINITY);
        check(-1e300, f32::MIN);
        check(f64::NEG_INFINITY, f32::NEG_INFINITY);
    }

    proptest! {
        #[test]
        fn boundary_matches_f32_rounding(bits in any::<u32>(), delta in -3i64..=3, scale in -1e3f64..1e3) {
            let t = f32::from_bits(bits);
            prop_assume!(!t.is_nan());
            let b = f32_less_boundary(t);
            if b.is_finite() {
                let near = f64::from_bits((b.to_bits() as i64 + delta) as u64);
                check(near, t);
            }
            check(t as f64 + scale, t);
        }
    }
}

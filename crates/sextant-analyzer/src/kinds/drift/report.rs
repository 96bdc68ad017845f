//! One column's two sketches made into the report's entry: the comparison's statistics, the
//! histogram, missing shares, the range, and categories one side lacks, named.

use std::sync::Arc;

use sextant_algo::drift::{Sketch, compare_categorical, compare_numeric};
use sextant_api::{CategoryShare, ColumnKind, DriftBin, FeatureDrift, chi2_sf, kolmogorov_sf};
use sextant_model::{FeatureKind, Model, NewCategories};

/// The names of category codes: the model's, then those the reading met.
pub struct Names<'a> {
    model: &'a Model,
    book: &'a Arc<NewCategories>,
}

impl<'a> Names<'a> {
    pub fn new(model: &'a Model, book: &'a Arc<NewCategories>) -> Names<'a> {
        Names { model, book }
    }

    /// Whether feature `j` is categorical.
    pub fn categorical(&self, j: usize) -> bool {
        matches!(
            self.model.features()[j].kind,
            FeatureKind::Categorical { .. }
        )
    }

    /// The name of code `code` of feature `j`.
    fn name(&self, j: usize, code: f64) -> String {
        let feature = &self.model.features()[j];
        let FeatureKind::Categorical { categories } = &feature.kind else {
            return code.to_string();
        };
        let known = categories.as_ref().map(Vec::len);
        if let Some(names) = categories
            && code >= 0.0
            && code.fract() == 0.0
            && let Some(name) = names.get(code as usize)
        {
            return name.clone();
        }
        self.book
            .name(&feature.name, known, code)
            .unwrap_or_else(|| format!("{code}"))
    }
}

/// The share `part` is of `whole` (0 of nothing).
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The entry of column `name` (feature `j`, or a score output when `j` is out of range).
#[allow(clippy::too_many_arguments)]
pub fn column_drift(
    name: &str,
    categorical: bool,
    reference: &Sketch,
    current: &Sketch,
    rows_reference: u64,
    rows_current: u64,
    names: &Names,
    j: usize,
) -> FeatureDrift {
    let kind = if categorical {
        ColumnKind::Categorical
    } else {
        ColumnKind::Numeric
    };
    let missing = (
        share(reference.missing, rows_reference),
        share(current.missing, rows_current),
    );
    let mut drift = FeatureDrift::empty(name, kind, missing);

    let empty = match (reference.present, current.present) {
        (0, 0) => Some("every value is missing in both datasets"),
        (0, _) => {
            Some("every value is missing in the reference, so there is nothing to compare with")
        }
        (_, 0) => Some("every value is missing in the current dataset"),
        _ => None,
    };
    if let Some(problem) = empty {
        drift.problem = Some(format!("{name}: {problem}"));
        return drift;
    }
    if categorical {
        let c = compare_categorical(reference, current).expect("values on both sides");
        drift.psi = Some(c.psi);
        drift.jensen_shannon = Some(c.jensen_shannon);
        drift.chi2 = Some(c.chi2);
        drift.chi2_pvalue = Some(if c.dof == 0.0 {
            1.0
        } else {
            chi2_sf(c.chi2, c.dof)
        });
        for (code, r, k) in c.categories {
            let category = names.name(j, code);
            let (r_share, c_share) = (share(r, reference.present), share(k, current.present));
            if r == 0 {
                drift.new_categories.push(CategoryShare {
                    category: category.clone(),
                    share: c_share,
                });
            }
            if k == 0 {
                drift.vanished_categories.push(CategoryShare {
                    category: category.clone(),
                    share: r_share,
                });
            }
            drift.bins.push(DriftBin {
                lower: None,
                upper: None,
                category: Some(category),
                reference: r_share,
                current: c_share,
            });
        }
        drift.exact = reference.is_exact() && current.is_exact();
        if !drift.exact {
            drift.problem = Some(format!(
                "{name}: more than {} categories; the statistics merge neighbouring codes",
                sextant_algo::drift::MAX_KEYS
            ));
        }
        return drift;
    }
    let n = compare_numeric(reference, current).expect("values on both sides");
    drift.psi = Some(n.psi);
    drift.ks = Some(n.ks);
    drift.ks_pvalue = Some(kolmogorov_sf(n.effective_rows.sqrt() * n.ks));
    drift.wasserstein = Some(n.wasserstein);
    drift.jensen_shannon = Some(n.jensen_shannon);
    drift.exact = n.exact;
    drift.resolution = n.resolution;
    drift.reference_range = reference.range.map(|(a, b)| [a, b]);
    // A feature's current values were checked against the reference's range as they were
    // read; a score's were not (its reference range was not known yet).
    if j != usize::MAX {
        drift.out_of_range = Some(share(current.outside, current.present));
    }
    drift.bins = n
        .bins
        .into_iter()
        .map(|b| DriftBin {
            lower: b.lower,
            upper: b.upper,
            category: None,
            reference: b.reference,
            current: b.current,
        })
        .collect();
    drift
}

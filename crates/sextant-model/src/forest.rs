//! A tree ensemble with its features, base margin and link.

use crate::error::ModelError;
use crate::matrix::Rows;
use crate::tree::Tree;

/// Renames `features` in order; `names` has one per feature.
pub(crate) fn rename(features: &mut [Feature], names: &[String]) {
    assert_eq!(names.len(), features.len(), "one name per feature");
    for (f, name) in features.iter_mut().zip(names) {
        f.name = name.clone();
    }
}

/// The most input features a model may have.
pub const MAX_FEATURES: usize = 1 << 20;

/// How a model's margin (raw score) becomes its response.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Link {
    /// The response is the margin (regression, `binary:logitraw`, ranking).
    Identity,
    /// `1 / (1 + exp(-scale * margin))`, per output (binary classification; LightGBM's
    /// `sigmoid:` parameter is the scale; one-vs-rest multiclass).
    Logistic {
        /// Multiplies the margin before the sigmoid (1 for XGBoost).
        scale: f64,
    },
    /// Softmax across the outputs (multiclass).
    Softmax,
    /// `exp(margin)` (Poisson, gamma, Tweedie).
    Exp,
}

impl Link {
    /// A short name for messages and output metadata.
    pub fn name(&self) -> &'static str {
        match self {
            Link::Identity => "identity",
            Link::Logistic { .. } => "logistic",
            Link::Softmax => "softmax",
            Link::Exp => "exp",
        }
    }

    /// Turns one row's margins (one per output) into responses, in place.
    pub fn apply(&self, outputs: &mut [f64]) {
        match *self {
            Link::Identity => {}
            Link::Logistic { scale } => {
                for v in outputs.iter_mut() {
                    *v = 1.0 / (1.0 + (-scale * *v).exp());
                }
            }
            Link::Exp => {
                for v in outputs.iter_mut() {
                    *v = v.exp();
                }
            }
            Link::Softmax => {
                let max = outputs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for v in outputs.iter_mut() {
                    *v = (*v - max).exp();
                    sum += *v;
                }
                for v in outputs.iter_mut() {
                    *v /= sum;
                }
            }
        }
    }
}

/// Whether a feature is a number or a category code.
#[derive(Clone, Debug, PartialEq)]
pub enum FeatureKind {
    /// A number compared against thresholds.
    Numeric,
    /// A category code (a non-negative integer); `categories` lists the names of codes 0, 1, …
    /// when the model file records them.
    Categorical {
        /// Category names in code order, if known.
        categories: Option<Vec<String>>,
    },
}

/// One input feature of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct Feature {
    /// The column name data must provide.
    pub name: String,
    /// Numeric or categorical.
    pub kind: FeatureKind,
}

/// Where a model came from.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    /// The file format (`xgboost-json`, `lightgbm-text`).
    pub format: &'static str,
    /// The producing library's version, as recorded in the file.
    pub library_version: String,
    /// The training objective, as recorded in the file.
    pub objective: String,
}

/// A tree ensemble: the margin of output `k` is `base_margin[k]` plus the values of the leaves
/// reached in the trees whose output is `k`.
#[derive(Clone, Debug)]
pub struct Forest {
    features: Vec<Feature>,
    trees: Vec<Tree>,
    tree_outputs: Vec<u32>,
    base_margin: Vec<f64>,
    link: Link,
    info: ModelInfo,
    covers_known: bool,
}

impl Forest {
    /// Assembles a forest, checking that every tree writes to an existing output, that there is
    /// one base margin per output, that the link fits, and that feature names are unique.
    pub fn new(
        features: Vec<Feature>,
        trees: Vec<Tree>,
        tree_outputs: Vec<u32>,
        base_margin: Vec<f64>,
        link: Link,
        info: ModelInfo,
    ) -> Result<Forest, ModelError> {
        if features.len() > MAX_FEATURES {
            return Err(ModelError::TooManyFeatures {
                found: features.len(),
                max: MAX_FEATURES,
            });
        }
        let n_outputs = base_margin.len();
        if n_outputs == 0 {
            return Err(ModelError::BaseMarginLength {
                n_outputs: 1,
                found: 0,
            });
        }
        debug_assert_eq!(trees.len(), tree_outputs.len());
        for (tree, &output) in tree_outputs.iter().enumerate() {
            if output as usize >= n_outputs {
                return Err(ModelError::OutputOutOfRange {
                    tree,
                    output: output as usize,
                    n_outputs,
                });
            }
        }
        if link == Link::Softmax && n_outputs < 2 {
            return Err(ModelError::LinkMismatch {
                link: link.name(),
                n_outputs,
            });
        }
        let mut names: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ModelError::DuplicateFeature {
                name: w[0].to_string(),
            });
        }
        Ok(Forest {
            features,
            trees,
            tree_outputs,
            base_margin,
            link,
            info,
            covers_known: true,
        })
    }

    /// Marks the node covers as unknown: the file held none (ONNX trees), so path-dependent
    /// TreeSHAP must not run until [`Forest::count_covers`] has counted them from data.
    pub fn without_covers(mut self) -> Forest {
        self.covers_known = false;
        self
    }

    /// Whether every node's cover is known: from training (XGBoost, LightGBM), or counted.
    pub fn has_covers(&self) -> bool {
        self.covers_known
    }

    /// Sets every node's cover to the number of `rows` that reach it, as training would have
    /// recorded with unit weights, and marks the covers known.
    pub fn count_covers(&mut self, rows: Rows<'_>) {
        assert_eq!(
            rows.n_features(),
            self.n_features(),
            "rows do not have the model's features"
        );
        for tree in &mut self.trees {
            tree.count_covers(rows);
        }
        self.covers_known = true;
    }

    /// The input features, in the order rows must hold them.
    pub fn features(&self) -> &[Feature] {
        &self.features
    }

    /// Renames the features in order (their kinds stay); `names` has one per feature.
    pub fn rename_features(&mut self, names: &[String]) {
        rename(&mut self.features, names);
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    /// The trees.
    pub fn trees(&self) -> &[Tree] {
        &self.trees
    }

    /// The output each tree adds to, parallel to [`Forest::trees`].
    pub fn tree_outputs(&self) -> &[u32] {
        &self.tree_outputs
    }

    /// Number of outputs (1, or the number of classes for multiclass).
    pub fn n_outputs(&self) -> usize {
        self.base_margin.len()
    }

    /// The margin every output starts from.
    pub fn base_margin(&self) -> &[f64] {
        &self.base_margin
    }

    /// How margins become responses.
    pub fn link(&self) -> Link {
        self.link
    }

    /// Where the model came from.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// The depth of the deepest tree.
    pub fn max_depth(&self) -> usize {
        self.trees.iter().map(Tree::depth).max().unwrap_or(0)
    }

    /// Total number of leaves.
    pub fn leaf_count(&self) -> usize {
        self.trees.iter().map(Tree::leaf_count).sum()
    }

    /// Writes the margins of one row (all features, in model order) into `out` (one per output).
    pub fn predict_margin_row(&self, row: &[f64], out: &mut [f64]) {
        out.copy_from_slice(&self.base_margin);
        for (tree, &output) in self.trees.iter().zip(&self.tree_outputs) {
            out[output as usize] += tree.predict_row(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links() {
        let mut v = [0.0, 2.0_f64.ln()];
        Link::Softmax.apply(&mut v);
        assert!((v[0] - 1.0 / 3.0).abs() < 1e-15 && (v[1] - 2.0 / 3.0).abs() < 1e-15);
        let mut v = [0.0];
        Link::Logistic { scale: 1.0 }.apply(&mut v);
        assert_eq!(v[0], 0.5);
        let mut v = [1.0];
        Link::Exp.apply(&mut v);
        assert_eq!(v[0], 1.0_f64.exp());
    }

    #[test]
    fn refuses_inconsistent_parts() {
        let info = ModelInfo {
            format: "test",
            library_version: String::new(),
            objective: String::new(),
        };
        let f = |name: &str| Feature {
            name: name.into(),
            kind: FeatureKind::Numeric,
        };
        let err = Forest::new(
            vec![f("a"), f("a")],
            vec![],
            vec![],
            vec![0.0],
            Link::Identity,
            info.clone(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "feature name \"a\" appears twice in the model"
        );
        let err =
            Forest::new(vec![f("a")], vec![], vec![], vec![0.0], Link::Softmax, info).unwrap_err();
        assert!(matches!(err, ModelError::LinkMismatch { .. }));
    }
}

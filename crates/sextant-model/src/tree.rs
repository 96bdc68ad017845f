//! One decision tree as a flat node array.

use crate::error::ModelError;
use crate::split::{LIGHTGBM_ZERO_THRESHOLD, Missing, Split};

/// The deepest tree the algorithms accept (TreeSHAP keeps per-depth scratch space).
pub const MAX_TREE_DEPTH: usize = 256;

/// Marks a leaf in [`Node::left`] and [`Node::right`].
const LEAF: u32 = u32::MAX;

/// One node of a tree. Internal nodes route a row to `left` or `right`; leaves hold `value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Left child index, or `u32::MAX` for a leaf.
    pub left: u32,
    /// Right child index, or `u32::MAX` for a leaf.
    pub right: u32,
    /// Index of the feature this node splits on.
    pub feature: u32,
    /// The comparison made.
    pub split: Split,
    /// What counts as missing and how it is routed.
    pub missing: Missing,
    /// Where a missing value goes.
    pub default_left: bool,
    /// The numeric threshold; for category splits, unused.
    pub threshold: f64,
    /// Start of this node's category bitset in [`Tree::category_words`].
    pub categories_start: u32,
    /// Number of 32-bit words in this node's category bitset.
    pub categories_len: u32,
    /// The leaf's output (margin space); 0 for internal nodes.
    pub value: f64,
    /// Training weight that reached this node (hessian sum or row count).
    pub cover: f64,
}

impl Node {
    /// A leaf with the given value and cover.
    pub fn leaf(value: f64, cover: f64) -> Node {
        Node {
            left: LEAF,
            right: LEAF,
            feature: 0,
            split: Split::Less,
            missing: Missing::Nan,
            default_left: false,
            threshold: 0.0,
            categories_start: 0,
            categories_len: 0,
            value,
            cover,
        }
    }

    /// A numeric split node.
    #[allow(clippy::too_many_arguments)]
    pub fn numeric(
        feature: u32,
        split: Split,
        threshold: f64,
        missing: Missing,
        default_left: bool,
        left: u32,
        right: u32,
        cover: f64,
    ) -> Node {
        Node {
            left,
            right,
            feature,
            split,
            missing,
            default_left,
            threshold,
            categories_start: 0,
            categories_len: 0,
            value: 0.0,
            cover,
        }
    }

    /// Whether this node is a leaf.
    #[inline]
    pub fn is_leaf(&self) -> bool {
        self.left == LEAF
    }
}

/// A decision tree: node 0 is the root; category sets live in one shared word array.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    nodes: Vec<Node>,
    category_words: Vec<u32>,
    depth: usize,
}

impl Tree {
    /// Checks the structure (every node reached exactly once from the root, children in range,
    /// depth within [`MAX_TREE_DEPTH`], features below `n_features`, thresholds not NaN, finite leaf
    /// values and covers, category sets inside `category_words`) and builds the tree.
    /// `index` names the tree in errors.
    pub fn new(
        index: usize,
        nodes: Vec<Node>,
        category_words: Vec<u32>,
        n_features: usize,
    ) -> Result<Tree, ModelError> {
        if nodes.is_empty() {
            return Err(ModelError::EmptyTree { tree: index });
        }
        let len = nodes.len();
        let bad = |node: usize, field: &'static str, value: f64| ModelError::BadNumber {
            tree: index,
            node,
            field,
            value,
        };
        for (i, n) in nodes.iter().enumerate() {
            if !n.cover.is_finite() || n.cover < 0.0 {
                return Err(bad(i, "cover", n.cover));
            }
            if n.is_leaf() {
                if !n.value.is_finite() {
                    return Err(bad(i, "leaf value", n.value));
                }
                continue;
            }
            for child in [n.left, n.right] {
                if child as usize >= len {
                    return Err(ModelError::ChildOutOfRange {
                        tree: index,
                        node: i,
                        child,
                        len,
                    });
                }
            }
            if n.feature as usize >= n_features {
                return Err(ModelError::FeatureOutOfRange {
                    tree: index,
                    node: i,
                    feature: n.feature,
                    n_features,
                });
            }
            if n.split.uses_categories() {
                let end = n.categories_start as usize + n.categories_len as usize;
                if end > category_words.len() {
                    return Err(ModelError::CategoriesOutOfRange {
                        tree: index,
                        node: i,
                    });
                }
            } else if n.threshold.is_nan() {
                return Err(bad(i, "threshold", n.threshold));
            }
        }
        let depth = check_shape(index, &nodes)?;
        Ok(Tree {
            nodes,
            category_words,
            depth,
        })
    }

    /// The nodes; index 0 is the root.
    #[inline]
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The words holding every category set of this tree.
    #[inline]
    pub fn category_words(&self) -> &[u32] {
        &self.category_words
    }

    /// Number of edges on the longest root-to-leaf path.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Number of leaves.
    pub fn leaf_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.is_leaf()).count()
    }

    /// Whether `x` (the value of this node's feature) goes to the left child of `node`.
    #[inline]
    pub fn goes_left(&self, node: &Node, x: f64) -> bool {
        let mut x = x;
        if x.is_nan() {
            if node.missing == Missing::Nan {
                return node.default_left;
            }
            x = 0.0;
        }
        if node.missing == Missing::Zero
            && (-LIGHTGBM_ZERO_THRESHOLD..=LIGHTGBM_ZERO_THRESHOLD).contains(&x)
        {
            return node.default_left;
        }
        match node.split {
            Split::Less => x < node.threshold,
            Split::LessOrEqual => x <= node.threshold,
            Split::CategoriesF32 => {
                let x = x as f32;
                x >= 0.0 && self.in_categories(node, x as f64)
            }
            Split::CategoriesTruncated => x > -1.0 && self.in_categories(node, x),
            Split::Equal => x == node.threshold,
            Split::EqualF32 => (x as f32) as f64 == node.threshold,
            Split::Members => x >= 0.0 && x.fract() == 0.0 && self.in_categories(node, x),
            Split::MembersF32 => {
                let x = (x as f32) as f64;
                x >= 0.0 && x.fract() == 0.0 && self.in_categories(node, x)
            }
        }
    }

    /// The child of `node` that `x` goes to.
    #[inline]
    pub fn next(&self, node: &Node, x: f64) -> u32 {
        if self.goes_left(node, x) {
            node.left
        } else {
            node.right
        }
    }

    /// Index of the leaf that the row `row` (all features) reaches.
    #[inline]
    pub fn leaf_index(&self, row: &[f64]) -> usize {
        let mut i = 0usize;
        loop {
            let node = &self.nodes[i];
            if node.is_leaf() {
                return i;
            }
            i = self.next(node, row[node.feature as usize]) as usize;
        }
    }

    /// The leaf value that the row reaches.
    #[inline]
    pub fn predict_row(&self, row: &[f64]) -> f64 {
        self.nodes[self.leaf_index(row)].value
    }

    /// Sets each node's cover to the number of `rows` whose path goes through it.
    pub(crate) fn count_covers(&mut self, rows: crate::Rows<'_>) {
        let mut counts = vec![0u64; self.nodes.len()];
        for r in 0..rows.n_rows() {
            let row = rows.row(r);
            let mut i = 0usize;
            loop {
                counts[i] += 1;
                let node = &self.nodes[i];
                if node.is_leaf() {
                    break;
                }
                i = self.next(node, row[node.feature as usize]) as usize;
            }
        }
        for (node, count) in self.nodes.iter_mut().zip(counts) {
            node.cover = count as f64;
        }
    }

    /// Whether non-negative `x`'s integer part is in `node`'s category set.
    #[inline]
    fn in_categories(&self, node: &Node, x: f64) -> bool {
        let category = x.trunc();
        let bits = node.categories_len as f64 * 32.0;
        if category >= bits {
            return false;
        }
        let category = category as usize;
        let word = self.category_words[node.categories_start as usize + category / 32];
        word >> (category % 32) & 1 == 1
    }
}

/// Walks the tree from the root without recursion; returns its depth, or why it is not a tree.
fn check_shape(index: usize, nodes: &[Node]) -> Result<usize, ModelError> {
    let mut seen = vec![false; nodes.len()];
    seen[0] = true;
    let mut stack = vec![(0u32, 0usize)];
    let mut visited = 1usize;
    let mut max_depth = 0usize;
    while let Some((i, depth)) = stack.pop() {
        max_depth = max_depth.max(depth);
        let n = &nodes[i as usize];
        if n.is_leaf() {
            continue;
        }
        if depth + 1 > MAX_TREE_DEPTH {
            return Err(ModelError::TooDeep {
                tree: index,
                max: MAX_TREE_DEPTH,
            });
        }
        for child in [n.left, n.right] {
            if seen[child as usize] {
                return Err(ModelError::NotATree {
                    tree: index,
                    node: i as usize,
                    child,
                });
            }
            seen[child as usize] = true;
            visited += 1;
            stack.push((child, depth + 1));
        }
    }
    if visited != nodes.len() {
        return Err(ModelError::Unreachable {
            tree: index,
            unreachable: nodes.len() - visited,
            len: nodes.len(),
        });
    }
    Ok(max_depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stump(split: Split, missing: Missing, default_left: bool, threshold: f64) -> Tree {
        let mut root = Node::numeric(0, split, threshold, missing, default_left, 1, 2, 2.0);
        if split.uses_categories() {
            root.categories_start = 0;
            root.categories_len = 1;
        }
        Tree::new(
            0,
            vec![root, Node::leaf(-1.0, 1.0), Node::leaf(1.0, 1.0)],
            vec![0b1010],
            1,
        )
        .unwrap()
    }

    fn left(t: &Tree, x: f64) -> bool {
        t.goes_left(&t.nodes()[0], x)
    }

    #[test]
    fn numeric_comparisons() {
        let t = stump(Split::Less, Missing::Nan, true, 0.5);
        assert!(left(&t, 0.4) && !left(&t, 0.5) && left(&t, f64::NAN));
        let t = stump(Split::LessOrEqual, Missing::Nan, false, 0.5);
        assert!(left(&t, 0.5) && !left(&t, 0.6) && !left(&t, f64::NAN));
    }

    #[test]
    fn lightgbm_missing_types() {
        // None: NaN becomes 0.0 and is compared.
        let t = stump(Split::LessOrEqual, Missing::AsZero, false, -0.5);
        assert!(!left(&t, f64::NAN));
        let t = stump(Split::LessOrEqual, Missing::AsZero, false, 0.5);
        assert!(left(&t, f64::NAN));
        // Zero: zero-ish values and NaN take the default direction.
        let t = stump(Split::LessOrEqual, Missing::Zero, false, 0.5);
        assert!(!left(&t, 0.0) && !left(&t, 1e-36) && !left(&t, f64::NAN) && left(&t, 1e-30));
    }

    #[test]
    fn category_sets() {
        // Set {1, 3}.
        let t = stump(Split::CategoriesTruncated, Missing::Nan, false, 0.0);
        assert!(
            left(&t, 1.0) && left(&t, 3.7) && !left(&t, 2.0) && !left(&t, 40.0) && !left(&t, -1.0)
        );
        assert!(
            !left(&t, -0.5),
            "LightGBM truncates -0.5 to category 0, which is not in the set"
        );
        let t = stump(Split::CategoriesF32, Missing::Nan, true, 0.0);
        assert!(left(&t, 3.0) && !left(&t, 2.0) && left(&t, f64::NAN) && !left(&t, -0.5));
        assert!(
            left(&t, 2.999_999_999_9),
            "XGBoost rounds to f32 first: 3.0"
        );
    }

    #[test]
    fn onnx_equality_and_membership() {
        let t = stump(Split::Equal, Missing::Nan, false, 0.1);
        assert!(left(&t, 0.1) && !left(&t, 0.1f32 as f64) && !left(&t, f64::NAN));
        let t = stump(Split::EqualF32, Missing::Nan, true, 0.1f32 as f64);
        assert!(left(&t, 0.1) && left(&t, 0.1f32 as f64) && !left(&t, 0.2) && left(&t, f64::NAN));
        // Set {1, 3}: exact members only.
        let t = stump(Split::Members, Missing::Nan, false, 0.0);
        assert!(left(&t, 3.0) && !left(&t, 3.5) && !left(&t, 2.0) && !left(&t, -1.0));
        assert!(!left(&t, 2.999_999_999_9));
        let t = stump(Split::MembersF32, Missing::Nan, false, 0.0);
        assert!(left(&t, 2.999_999_999_9) && !left(&t, 2.9) && !left(&t, 64.0));
    }

    #[test]
    fn rejects_malformed_shapes() {
        let leaf = || Node::leaf(0.0, 1.0);
        let split = |l, r| Node::numeric(0, Split::Less, 0.0, Missing::Nan, true, l, r, 1.0);
        let err = Tree::new(3, vec![split(1, 0), leaf()], vec![], 1).unwrap_err();
        assert!(matches!(err, ModelError::NotATree { tree: 3, .. }), "{err}");
        let err = Tree::new(0, vec![split(1, 1), leaf()], vec![], 1).unwrap_err();
        assert!(matches!(err, ModelError::NotATree { .. }), "{err}");
        let err = Tree::new(0, vec![split(1, 7), leaf()], vec![], 1).unwrap_err();
        assert!(
            matches!(err, ModelError::ChildOutOfRange { child: 7, .. }),
            "{err}"
        );
        let err = Tree::new(0, vec![leaf(), leaf()], vec![], 1).unwrap_err();
        assert!(
            matches!(err, ModelError::Unreachable { unreachable: 1, .. }),
            "{err}"
        );
        let mut bad = split(1, 2);
        bad.threshold = f64::NAN;
        let err = Tree::new(0, vec![bad, leaf(), leaf()], vec![], 1).unwrap_err();
        assert!(err.to_string().contains("threshold is NaN"), "{err}");
        let mut bad = split(1, 2);
        bad.feature = 9;
        let err = Tree::new(0, vec![bad, leaf(), leaf()], vec![], 1).unwrap_err();
        assert!(
            matches!(err, ModelError::FeatureOutOfRange { feature: 9, .. }),
            "{err}"
        );
    }

    #[test]
    fn rejects_too_deep() {
        // A chain: node 2k splits into leaf 2k+1 and node 2k+2.
        let splits = MAX_TREE_DEPTH as u32 + 1;
        let mut nodes = Vec::new();
        for k in 0..splits {
            nodes.push(Node::numeric(
                0,
                Split::Less,
                0.0,
                Missing::Nan,
                true,
                2 * k + 1,
                2 * k + 2,
                1.0,
            ));
            nodes.push(Node::leaf(0.0, 1.0));
        }
        nodes.push(Node::leaf(0.0, 1.0));
        let err = Tree::new(0, nodes, vec![], 1).unwrap_err();
        assert!(matches!(err, ModelError::TooDeep { .. }), "{err}");
    }
}

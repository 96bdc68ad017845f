//! Batch prediction over a compact copy of the forest.
//!
//! Each node takes 16 bytes (threshold, right child, feature and flags); nodes are in pre-order,
//! so the left child is the next node. Most splits reduce to one comparison: `x <= t` becomes
//! `x < next_up(t)`, and where NaN goes is one flag (`x < t` is false for NaN, so NaN goes right
//! unless the flag sends it left). Only LightGBM's zero-as-missing splits and category splits
//! take the general path.
//!
//! Rows go through the forest in blocks, tree by tree, so a tree stays in cache while the block
//! walks it, and [`LANES`] rows walk it side by side: their steps are independent, so the
//! processor overlaps them. A leaf is a split that sends every value right, to itself, so each
//! walk takes exactly the tree's depth in steps, with no test for having arrived.

use rayon::prelude::*;
use sextant_model::{Forest, Missing, Node, Rows, Split, Tree};

const ROWS_PER_BLOCK: usize = 64;
/// Rows walking one tree side by side.
const LANES: usize = 16;
const FEATURE_MASK: u32 = (1 << 24) - 1;
/// NaN goes left (simple splits).
const NAN_LEFT: u32 = 1 << 31;
/// The split needs the general rule: `right` then indexes [`Predictor::general`].
const GENERAL: u32 = 1 << 30;

#[derive(Clone, Copy, Debug)]
struct CompactNode {
    threshold: f64,
    right: u32,
    meta: u32,
}

/// A forest laid out for fast prediction.
pub struct Predictor<'f> {
    forest: &'f Forest,
    nodes: Vec<CompactNode>,
    /// Leaf values, parallel to `nodes`.
    leaf_values: Vec<f64>,
    /// Start and depth of each tree.
    trees: Vec<(u32, u32)>,
    /// The original node and its tree, for splits that take the general rule.
    general: Vec<(usize, u32, u32)>,
}

impl<'f> Predictor<'f> {
    /// Lays the forest out in compact pre-order arrays. Panics on a forest without features
    /// (neither importer builds one): every step reads a feature of the row, a leaf's feature 0.
    pub fn new(forest: &'f Forest) -> Predictor<'f> {
        assert!(
            forest.n_features() > 0,
            "a forest needs at least one feature"
        );
        let mut p = Predictor {
            forest,
            nodes: Vec::new(),
            leaf_values: Vec::new(),
            trees: Vec::with_capacity(forest.trees().len()),
            general: Vec::new(),
        };
        for (t, tree) in forest.trees().iter().enumerate() {
            p.trees.push((p.nodes.len() as u32, tree.depth() as u32));
            p.push_subtree(t, tree, 0);
        }
        p
    }

    fn push_subtree(&mut self, t: usize, tree: &Tree, index: u32) {
        let n = &tree.nodes()[index as usize];
        let at = self.nodes.len();
        self.leaf_values
            .push(if n.is_leaf() { n.value } else { 0.0 });
        if n.is_leaf() {
            // `x < -∞` is false and NaN goes right: every value goes right, back to this node.
            self.nodes.push(CompactNode {
                threshold: f64::NEG_INFINITY,
                right: at as u32,
                meta: 0,
            });
            return;
        }
        let node = match simple_split(n) {
            Some((threshold, nan_left)) => CompactNode {
                threshold,
                right: 0,
                meta: n.feature | if nan_left { NAN_LEFT } else { 0 },
            },
            // A general node's `right` indexes `general`, which holds the real right child.
            None => {
                self.general.push((t, index, 0));
                CompactNode {
                    threshold: 0.0,
                    right: (self.general.len() - 1) as u32,
                    meta: n.feature | GENERAL,
                }
            }
        };
        self.nodes.push(node);
        self.push_subtree(t, tree, n.left);
        let right = self.nodes.len() as u32;
        if node.meta & GENERAL == 0 {
            self.nodes[at].right = right;
        } else {
            self.general[node.right as usize].2 = right;
        }
        self.push_subtree(t, tree, n.right);
    }

    /// Outputs per row.
    pub fn n_outputs(&self) -> usize {
        self.forest.n_outputs()
    }

    /// Writes each row's margins (one per output) into `out` (`n_rows × n_outputs`).
    pub fn predict_margins(&self, rows: Rows<'_>, out: &mut [f64]) {
        let n_out = self.forest.n_outputs();
        assert_eq!(
            out.len(),
            rows.n_rows() * n_out,
            "output buffer has the wrong length"
        );
        assert_eq!(
            rows.n_features(),
            self.forest.n_features(),
            "rows do not have the model's features"
        );
        out.par_chunks_mut(n_out * ROWS_PER_BLOCK)
            .enumerate()
            .for_each(|(block, out)| {
                let first = block * ROWS_PER_BLOCK;
                let n = out.len() / n_out;
                for o in out.chunks_mut(n_out) {
                    o.copy_from_slice(self.forest.base_margin());
                }
                // A block without missing values skips the NaN rule at every step.
                let has_nan = rows
                    .slice(first, first + n)
                    .values()
                    .iter()
                    .any(|v| v.is_nan());
                for (&(root, depth), &output) in self.trees.iter().zip(self.forest.tree_outputs()) {
                    let output = output as usize;
                    for start in (0..n).step_by(LANES) {
                        let lanes = LANES.min(n - start);
                        let mut row: [&[f64]; LANES] = [rows.row(first + start); LANES];
                        for (j, r) in row.iter_mut().enumerate().take(lanes) {
                            *r = rows.row(first + start + j);
                        }
                        let leaves = match (self.general.is_empty(), has_nan) {
                            (true, false) => self.walk::<false, false>(root as usize, depth, &row),
                            (true, true) => self.walk::<false, true>(root as usize, depth, &row),
                            (false, _) => self.walk::<true, true>(root as usize, depth, &row),
                        };
                        for (j, &leaf) in leaves.iter().enumerate().take(lanes) {
                            out[(start + j) * n_out + output] += self.leaf_values[leaf];
                        }
                    }
                }
            });
    }

    /// Walks [`LANES`] rows down one tree together; returns the leaves they reach.
    #[inline(always)]
    /// `GENERAL_SPLITS` is false for forests whose every split is simple, and `NAN` false for
    /// rows without missing values; each saves work at every step.
    fn walk<const GENERAL_SPLITS: bool, const NAN: bool>(
        &self,
        root: usize,
        depth: u32,
        rows: &[&[f64]; LANES],
    ) -> [usize; LANES] {
        let mut at = [root; LANES];
        for _ in 0..depth {
            for j in 0..LANES {
                // SAFETY: `at[j]` is a tree's root or a position written by `push_subtree` (a
                // left child is the next node, `right` a later one, a leaf points to itself,
                // general splits resolve through `general`), all below `nodes.len()`. A feature
                // index is below `n_features` (`Tree::new` checked every split; leaves read
                // feature 0 and `new` insists on one feature), the length of every row, which
                // `predict_margins` asserts. Bounds checks here cost a fifth of the walk.
                let node = unsafe { *self.nodes.get_unchecked(at[j]) };
                let x = unsafe { *rows[j].get_unchecked((node.meta & FEATURE_MASK) as usize) };
                at[j] = if !GENERAL_SPLITS || node.meta & GENERAL == 0 {
                    // Bit operations and a select the compiler must not turn into a branch: which
                    // way a row goes is data, and a mispredicted branch per step would cost more
                    // than the whole step.
                    let nan_left = NAN & x.is_nan() & (node.meta & NAN_LEFT != 0);
                    let left = (x < node.threshold) | nan_left;
                    std::hint::select_unpredictable(left, at[j] + 1, node.right as usize)
                } else {
                    self.general_step(at[j], node, x)
                };
            }
        }
        at
    }

    #[cold]
    fn general_step(&self, at: usize, node: CompactNode, x: f64) -> usize {
        let (t, index, right) = self.general[node.right as usize];
        let tree = &self.forest.trees()[t];
        if tree.goes_left(&tree.nodes()[index as usize], x) {
            at + 1
        } else {
            right as usize
        }
    }
}

/// `(t', nan_left)` such that the node sends `x` left exactly when `x < t'`, or `x` is NaN and
/// `nan_left`; `None` for splits that need the general rule.
pub(crate) fn simple_split(n: &Node) -> Option<(f64, bool)> {
    let nan_left = match n.missing {
        Missing::Nan => n.default_left,
        // NaN is read as 0.0 and compared.
        Missing::AsZero => match n.split {
            Split::Less => 0.0 < n.threshold,
            _ => 0.0 <= n.threshold,
        },
        Missing::Zero => return None,
    };
    match n.split {
        Split::Less => Some((n.threshold, nan_left)),
        Split::LessOrEqual if n.threshold < f64::INFINITY => {
            Some((n.threshold.next_up(), nan_left))
        }
        _ => None,
    }
}

/// Writes each row's margins (one per output) into `out` (`n_rows × n_outputs`).
pub fn predict_margins(forest: &Forest, rows: Rows<'_>, out: &mut [f64]) {
    Predictor::new(forest).predict_margins(rows, out);
}

/// Writes each row's responses (probabilities, values, …; one per output) into `out`.
pub fn predict_responses(forest: &Forest, rows: Rows<'_>, out: &mut [f64]) {
    predict_margins(forest, rows, out);
    let link = forest.link();
    out.par_chunks_mut(forest.n_outputs())
        .for_each(|o| link.apply(o));
}

//! Batch prediction over a compact copy of the forest.
//!
//! Each node takes 16 bytes (threshold, right child, feature with the split's flags); nodes are
//! in pre-order, so the left child is the next node. Rows go through the forest in blocks, tree
//! by tree, so a tree stays in cache while the block's rows walk it, and [`LANES`] rows walk it
//! side by side: their steps are independent, so the processor overlaps their memory latencies.
//! A leaf is stored as a split that sends every value right, to itself, so lanes that reach
//! their leaves early simply stay there while the others finish.

use rayon::prelude::*;
use sextant_model::{Forest, LIGHTGBM_ZERO_THRESHOLD, Missing, Rows, Split, Tree};

const ROWS_PER_BLOCK: usize = 64;
/// Rows walking one tree side by side.
const LANES: usize = 8;
const FEATURE_BITS: u32 = 24;
const FEATURE_MASK: u32 = (1 << FEATURE_BITS) - 1;
const LEAF: u32 = 1 << 31;
const DEFAULT_LEFT: u32 = 1 << 30;
// Split kind (2 bits) and missing rule (2 bits).
const KIND_SHIFT: u32 = 26;
const MISSING_SHIFT: u32 = 24;

#[derive(Clone, Copy, Debug)]
struct CompactNode {
    /// Threshold; a leaf's value; for category splits, the bitset's start and length.
    value: f64,
    right: u32,
    meta: u32,
}

/// A forest laid out for fast prediction.
pub struct Predictor<'f> {
    forest: &'f Forest,
    nodes: Vec<CompactNode>,
    /// Leaf values, parallel to `nodes`.
    leaf_values: Vec<f64>,
    /// Start of each tree in `nodes`.
    roots: Vec<u32>,
    words: Vec<u32>,
}

impl<'f> Predictor<'f> {
    /// Lays the forest out in compact pre-order arrays.
    pub fn new(forest: &'f Forest) -> Predictor<'f> {
        let mut p = Predictor {
            forest,
            nodes: Vec::new(),
            leaf_values: Vec::new(),
            roots: Vec::with_capacity(forest.trees().len()),
            words: Vec::new(),
        };
        for tree in forest.trees() {
            p.roots.push(p.nodes.len() as u32);
            let word_base = p.words.len() as u32;
            p.words.extend_from_slice(tree.category_words());
            p.push_subtree(tree, 0, word_base);
        }
        p
    }

    fn push_subtree(&mut self, tree: &Tree, index: u32, word_base: u32) {
        let n = &tree.nodes()[index as usize];
        let at = self.nodes.len();
        self.leaf_values
            .push(if n.is_leaf() { n.value } else { 0.0 });
        if n.is_leaf() {
            // `x < -∞` is false and NaN goes right: every value goes right, back to this node.
            self.nodes.push(CompactNode {
                value: f64::NEG_INFINITY,
                right: at as u32,
                meta: LEAF,
            });
            return;
        }
        let kind = match n.split {
            Split::Less => 0,
            Split::LessOrEqual => 1,
            Split::CategoriesF32 => 2,
            Split::CategoriesTruncated => 3,
        };
        let missing = match n.missing {
            Missing::Nan => 0,
            Missing::Zero => 1,
            Missing::AsZero => 2,
        };
        let value = match n.split {
            Split::Less | Split::LessOrEqual => n.threshold,
            _ => f64::from_bits(
                ((word_base + n.categories_start) as u64) << 32 | n.categories_len as u64,
            ),
        };
        let meta = n.feature
            | kind << KIND_SHIFT
            | missing << MISSING_SHIFT
            | if n.default_left { DEFAULT_LEFT } else { 0 };
        self.nodes.push(CompactNode {
            value,
            right: 0,
            meta,
        });
        self.push_subtree(tree, n.left, word_base);
        self.nodes[at].right = self.nodes.len() as u32;
        self.push_subtree(tree, n.right, word_base);
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
                for (&root, &output) in self.roots.iter().zip(self.forest.tree_outputs()) {
                    let output = output as usize;
                    let mut start = 0;
                    while start < n {
                        let lanes = LANES.min(n - start);
                        let mut row: [&[f64]; LANES] = [rows.row(first + start); LANES];
                        for (j, r) in row.iter_mut().enumerate().take(lanes) {
                            *r = rows.row(first + start + j);
                        }
                        let leaves = self.walk(root as usize, &row);
                        for j in 0..lanes {
                            out[(start + j) * n_out + output] += self.leaf_values[leaves[j]];
                        }
                        start += lanes;
                    }
                }
            });
    }

    /// Walks [`LANES`] rows down one tree together; returns the leaves they reach.
    #[inline]
    fn walk(&self, root: usize, rows: &[&[f64]; LANES]) -> [usize; LANES] {
        let mut at = [root; LANES];
        loop {
            let mut all_leaves = true;
            for j in 0..LANES {
                let node = self.nodes[at[j]];
                all_leaves &= node.meta & LEAF != 0;
                let x = rows[j][(node.meta & FEATURE_MASK) as usize];
                at[j] = if self.goes_left(node, x) {
                    at[j] + 1
                } else {
                    node.right as usize
                };
            }
            if all_leaves {
                return at;
            }
        }
    }

    #[inline(always)]
    fn goes_left(&self, node: CompactNode, x: f64) -> bool {
        let default_left = node.meta & DEFAULT_LEFT != 0;
        let missing = node.meta >> MISSING_SHIFT & 3;
        let mut x = x;
        if x.is_nan() {
            if missing == 0 {
                return default_left;
            }
            x = 0.0;
        }
        if missing == 1 && (-LIGHTGBM_ZERO_THRESHOLD..=LIGHTGBM_ZERO_THRESHOLD).contains(&x) {
            return default_left;
        }
        // Ordered tests rather than a `match`: a forest mostly uses one kind of split, which the
        // branch predictor learns, where a jump table costs an indirect jump per node.
        let kind = node.meta >> KIND_SHIFT & 3;
        if kind == 0 {
            x < node.value
        } else if kind == 1 {
            x <= node.value
        } else if kind == 2 {
            let x = x as f32;
            x >= 0.0 && self.in_categories(node, x as f64)
        } else {
            x > -1.0 && self.in_categories(node, x)
        }
    }

    #[inline]
    fn in_categories(&self, node: CompactNode, x: f64) -> bool {
        let bits = node.value.to_bits();
        let (start, len) = ((bits >> 32) as usize, (bits & 0xffff_ffff) as usize);
        let category = x.trunc();
        if category >= len as f64 * 32.0 {
            return false;
        }
        let category = category as usize;
        self.words[start + category / 32] >> (category % 32) & 1 == 1
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

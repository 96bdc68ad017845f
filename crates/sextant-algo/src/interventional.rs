//! Exact interventional TreeSHAP: the marginal game `v(S) = mean over background rows z of
//! f(x_S, z_not S)` (shap's `feature_perturbation="interventional"`; the game QII uses).
//!
//! For one row `x` and one background row `z`, a leaf is reached by the hybrid row exactly when
//! every feature on its path where `x` and `z` part ways takes the side its path needs: a set `A`
//! of features must come from `x` and a set `B` from `z`. The leaf's game `v·[A ⊆ S, B ∩ S = ∅]`
//! has closed-form Shapley values: `v·(|A|−1)!|B|!/(|A|+|B|)!` for each feature of `A` and
//! `−v·|A|!(|B|−1)!/(|A|+|B|)!` for each of `B`. One walk per tree visits only the leaves that some
//! hybrid reaches, so a row costs O(T·L·B) at worst.
//!
//! Every node's decision is computed once: for the background rows when the explainer is built,
//! for an explained row once per tree. And the background rows walk each tree together: a group
//! of them shares one walk while they agree with each other, and splits only where they part
//! ways, so a leaf credits a whole group at once.

use rayon::prelude::*;
use sextant_model::{Forest, Rows, Tree};

/// Which row a feature is bound to during one walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Free,
    X,
    Z,
}

/// Interventional TreeSHAP over one forest and one background dataset.
pub struct Interventional<'a> {
    forest: &'a Forest,
    n_background: usize,
    base_values: Vec<f64>,
    /// `background_left[(tree_offset + node) * n_background + b]`: background row `b` goes left
    /// at `node` (a node's decisions for every background row are contiguous).
    background_left: Vec<bool>,
    /// Start of each tree's nodes in `background_left` (in units of nodes).
    tree_offsets: Vec<usize>,
    /// `weights[a * stride + b] = (a−1)! b! / (a+b)!` for `a ≥ 1`.
    weights: Vec<f64>,
    stride: usize,
    max_nodes: usize,
}

impl<'a> Interventional<'a> {
    /// Prepares the explainer: the background rows' decisions at every node, and the base value
    /// of each output (the mean margin of the background rows). The background must have at
    /// least one row and the forest's features.
    pub fn new(forest: &'a Forest, background: Rows<'_>) -> Interventional<'a> {
        assert!(
            background.n_rows() > 0,
            "the background needs at least one row"
        );
        assert_eq!(
            background.n_features(),
            forest.n_features(),
            "background rows do not have the model's features"
        );
        let n_out = forest.n_outputs();
        let n_background = background.n_rows();
        let mut margins = vec![0.0; n_background * n_out];
        crate::predict_margins(forest, background, &mut margins);
        let mut base_values = vec![0.0; n_out];
        for row in margins.chunks(n_out) {
            for (b, m) in base_values.iter_mut().zip(row) {
                *b += m;
            }
        }
        for b in &mut base_values {
            *b /= n_background as f64;
        }
        let mut tree_offsets = Vec::with_capacity(forest.trees().len());
        let mut background_left = Vec::new();
        let mut offset = 0;
        for tree in forest.trees() {
            tree_offsets.push(offset);
            for node in tree.nodes() {
                for b in 0..n_background {
                    let z = background.row(b);
                    background_left
                        .push(!node.is_leaf() && tree.goes_left(node, z[node.feature as usize]));
                }
            }
            offset += tree.nodes().len();
        }
        let stride = forest.max_depth() + 1;
        let max_nodes = forest
            .trees()
            .iter()
            .map(|t| t.nodes().len())
            .max()
            .unwrap_or(0);
        Interventional {
            forest,
            n_background,
            base_values,
            background_left,
            tree_offsets,
            weights: shapley_weights(stride),
            stride,
            max_nodes,
        }
    }

    /// The base value (mean background margin) of each output.
    pub fn base_values(&self) -> &[f64] {
        &self.base_values
    }

    /// Explains `rows` into `out` (layout in the crate docs).
    pub fn explain(&self, rows: Rows<'_>, out: &mut [f64]) {
        let forest = self.forest;
        let per_row = crate::explanation_row_width(forest, rows, out);
        out.par_chunks_mut(per_row).enumerate().for_each_init(
            || Scratch {
                sides: vec![Side::Free; forest.n_features()],
                bound: Vec::with_capacity(self.stride),
                row_left: vec![false; self.max_nodes],
                group: vec![0; self.n_background],
            },
            |scratch, (i, phi)| self.explain_row(rows.row(i), phi, scratch),
        );
    }

    fn explain_row(&self, x: &[f64], phi: &mut [f64], scratch: &mut Scratch) {
        phi.fill(0.0);
        let width = self.forest.n_features() + 1;
        let nb = self.n_background;
        let trees = self
            .forest
            .trees()
            .iter()
            .zip(self.forest.tree_outputs())
            .zip(&self.tree_offsets);
        for ((tree, &output), &offset) in trees {
            for (left, node) in scratch.row_left.iter_mut().zip(tree.nodes()) {
                *left = !node.is_leaf() && tree.goes_left(node, x[node.feature as usize]);
            }
            let start = output as usize * width;
            for (i, g) in scratch.group.iter_mut().enumerate() {
                *g = i as u32;
            }
            let mut walk = Walk {
                tree,
                row_left: &scratch.row_left,
                background_left: &self.background_left
                    [offset * nb..(offset + tree.nodes().len()) * nb],
                n_background: nb,
                phi: &mut phi[start..start + width - 1],
                sides: &mut scratch.sides,
                bound: &mut scratch.bound,
                weights: &self.weights,
                stride: self.stride,
            };
            walk.recurse(0, &mut scratch.group, 0, 0);
        }
        for (k, &base) in self.base_values.iter().enumerate() {
            let block = &mut phi[k * width..(k + 1) * width];
            for v in &mut block[..width - 1] {
                *v /= nb as f64;
            }
            block[width - 1] = base;
        }
    }
}

/// Per-task working memory.
struct Scratch {
    sides: Vec<Side>,
    bound: Vec<u32>,
    row_left: Vec<bool>,
    group: Vec<u32>,
}

/// `(a−1)! b! / (a+b)! = 1 / (a · C(a+b, a))`, tabulated for `a, b < n` from Pascal's triangle
/// (exact integers up to 2^53, then correctly rounded sums: no factorial overflow).
fn shapley_weights(n: usize) -> Vec<f64> {
    let size = 2 * n;
    let mut binom = vec![0.0f64; size * size];
    for m in 0..size {
        binom[m * size] = 1.0;
        for k in 1..=m {
            binom[m * size + k] = binom[(m - 1) * size + k - 1]
                + if k < m {
                    binom[(m - 1) * size + k]
                } else {
                    0.0
                };
        }
    }
    let mut weights = vec![0.0; n * n];
    for a in 1..n {
        for b in 0..n {
            weights[a * n + b] = 1.0 / (a as f64 * binom[(a + b) * size + a]);
        }
    }
    weights
}

/// One row and a group of background rows through one tree.
struct Walk<'w> {
    tree: &'w Tree,
    row_left: &'w [bool],
    background_left: &'w [bool],
    n_background: usize,
    phi: &'w mut [f64],
    sides: &'w mut [Side],
    bound: &'w mut Vec<u32>,
    weights: &'w [f64],
    stride: usize,
}

impl Walk<'_> {
    /// `group` holds the background rows that reach this node in the same state: `a` features
    /// bound to `x`, `b` to `z`, listed in `bound`.
    fn recurse(&mut self, node_index: u32, group: &mut [u32], a: usize, b: usize) {
        let i = node_index as usize;
        let node = &self.tree.nodes()[i];
        if node.is_leaf() {
            self.credit(node.value * group.len() as f64, a, b);
            return;
        }
        let nb = self.n_background;
        let z_left = &self.background_left[i * nb..(i + 1) * nb];
        let x_left = self.row_left[i];
        let (x_child, other) = if x_left {
            (node.left, node.right)
        } else {
            (node.right, node.left)
        };
        let f = node.feature as usize;
        match self.sides[f] {
            Side::X => self.recurse(x_child, group, a, b),
            Side::Z => {
                let k = partition(group, |z| z_left[z as usize]);
                let (left, right) = group.split_at_mut(k);
                if !left.is_empty() {
                    self.recurse(node.left, left, a, b);
                }
                if !right.is_empty() {
                    self.recurse(node.right, right, a, b);
                }
            }
            Side::Free => {
                let k = partition(group, |z| z_left[z as usize] == x_left);
                let (agree, diverge) = group.split_at_mut(k);
                if !agree.is_empty() {
                    self.recurse(x_child, agree, a, b);
                }
                if !diverge.is_empty() {
                    self.bound.push(f as u32);
                    self.sides[f] = Side::X;
                    self.recurse(x_child, diverge, a + 1, b);
                    self.sides[f] = Side::Z;
                    self.recurse(other, diverge, a, b + 1);
                    self.sides[f] = Side::Free;
                    self.bound.pop();
                }
            }
        }
    }

    fn credit(&mut self, value: f64, a: usize, b: usize) {
        if a + b == 0 || value == 0.0 {
            return;
        }
        let gain = if a > 0 {
            value * self.weights[a * self.stride + b]
        } else {
            0.0
        };
        let loss = if b > 0 {
            value * self.weights[b * self.stride + a]
        } else {
            0.0
        };
        for &f in self.bound.iter() {
            match self.sides[f as usize] {
                Side::X => self.phi[f as usize] += gain,
                Side::Z => self.phi[f as usize] -= loss,
                Side::Free => {}
            }
        }
    }
}

/// Reorders `items` so those satisfying `pred` come first; returns how many do. Branch-free
/// (every item is swapped, the boundary moves by the predicate), since the predicate is data.
fn partition(items: &mut [u32], pred: impl Fn(u32) -> bool) -> usize {
    let mut k = 0;
    for i in 0..items.len() {
        let v = items[i];
        items.swap(i, k);
        k += pred(v) as usize;
    }
    k
}

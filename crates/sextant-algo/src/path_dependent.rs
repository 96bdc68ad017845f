//! Exact path-dependent TreeSHAP (Lundberg et al. 2018, Algorithm 2): the game in which an absent
//! feature's split is resolved by the share of training cover that went each way. This is what
//! XGBoost's `pred_contribs`, LightGBM's `pred_contrib` and shap's `tree_path_dependent` compute.

use rayon::prelude::*;
use sextant_model::{Forest, Rows, Tree};

use crate::cover_ratio;

/// Marks the root's placeholder element of a path (it stands for no feature).
const NO_FEATURE: u32 = u32::MAX;

/// Path-dependent TreeSHAP over one forest; holds per-tree expectations computed once.
pub struct PathDependent<'f> {
    forest: &'f Forest,
    base_values: Vec<f64>,
    scratch_len: usize,
}

impl<'f> PathDependent<'f> {
    /// Prepares the explainer: the base value of each output is its base margin plus every
    /// tree's cover-weighted mean leaf value.
    pub fn new(forest: &'f Forest) -> PathDependent<'f> {
        let mut base_values = forest.base_margin().to_vec();
        for (tree, &output) in forest.trees().iter().zip(forest.tree_outputs()) {
            base_values[output as usize] += expected_value(tree);
        }
        let d = forest.max_depth() + 2;
        PathDependent {
            forest,
            base_values,
            scratch_len: d * (d + 1) / 2 + d,
        }
    }

    /// The base value (expected margin) of each output.
    pub fn base_values(&self) -> &[f64] {
        &self.base_values
    }

    /// Explains `rows` into `out` (layout in the crate docs).
    pub fn explain(&self, rows: Rows<'_>, out: &mut [f64]) {
        let forest = self.forest;
        let width = forest.n_features() + 1;
        let per_row = forest.n_outputs() * width;
        assert_eq!(
            out.len(),
            rows.n_rows() * per_row,
            "output buffer has the wrong length"
        );
        assert_eq!(
            rows.n_features(),
            forest.n_features(),
            "rows do not have the model's features"
        );
        out.par_chunks_mut(per_row * crate::ROWS_PER_TASK)
            .enumerate()
            .for_each(|(chunk, out)| {
                let mut path = vec![PathElement::default(); self.scratch_len];
                let first = chunk * crate::ROWS_PER_TASK;
                for (i, phi) in out.chunks_mut(per_row).enumerate() {
                    self.explain_row(rows.row(first + i), phi, &mut path);
                }
            });
    }

    fn explain_row(&self, x: &[f64], phi: &mut [f64], path: &mut [PathElement]) {
        phi.fill(0.0);
        let width = self.forest.n_features() + 1;
        for (k, &base) in self.base_values.iter().enumerate() {
            phi[k * width + width - 1] = base;
        }
        for (tree, &output) in self.forest.trees().iter().zip(self.forest.tree_outputs()) {
            let start = output as usize * width;
            let walk = Walk {
                tree,
                x,
                phi: &mut phi[start..start + width - 1],
            };
            walk.run(path);
        }
    }
}

/// The cover-weighted mean of a tree's leaf values (the path-dependent game's value with no
/// feature known).
pub(crate) fn expected_value(tree: &Tree) -> f64 {
    let nodes = tree.nodes();
    let mut total = 0.0;
    let mut stack = vec![(0u32, 1.0f64)];
    while let Some((i, weight)) = stack.pop() {
        let n = &nodes[i as usize];
        if n.is_leaf() {
            total += weight * n.value;
            continue;
        }
        for child in [n.left, n.right] {
            stack.push((
                child,
                weight * cover_ratio(nodes[child as usize].cover, n.cover),
            ));
        }
    }
    total
}

#[derive(Clone, Copy, Debug)]
struct PathElement {
    feature: u32,
    zero_fraction: f64,
    one_fraction: f64,
    weight: f64,
}

impl Default for PathElement {
    fn default() -> Self {
        PathElement {
            feature: NO_FEATURE,
            zero_fraction: 0.0,
            one_fraction: 0.0,
            weight: 0.0,
        }
    }
}

/// One row through one tree.
struct Walk<'a> {
    tree: &'a Tree,
    x: &'a [f64],
    phi: &'a mut [f64],
}

impl Walk<'_> {
    fn run(mut self, scratch: &mut [PathElement]) {
        self.recurse(0, scratch, 0, 1.0, 1.0, NO_FEATURE);
    }

    /// `parent[..=depth]` holds the parent's path; this node's path is built right after it, so
    /// deeper calls never overwrite what their ancestors still need.
    fn recurse(
        &mut self,
        node_index: u32,
        parent: &mut [PathElement],
        depth: usize,
        zero_fraction: f64,
        one_fraction: f64,
        feature: u32,
    ) {
        let (head, path) = parent.split_at_mut(depth + 1);
        path[..depth].copy_from_slice(&head[..depth]);
        extend(path, depth, zero_fraction, one_fraction, feature);
        let mut depth = depth;
        let node = &self.tree.nodes()[node_index as usize];
        if node.is_leaf() {
            for i in 1..=depth {
                let e = path[i];
                let share = e.one_fraction - e.zero_fraction;
                if share != 0.0 {
                    self.phi[e.feature as usize] +=
                        unwound_sum(path, depth, i) * share * node.value;
                }
            }
            return;
        }
        let split = node.feature;
        let (hot, cold) = if self.tree.goes_left(node, self.x[split as usize]) {
            (node.left, node.right)
        } else {
            (node.right, node.left)
        };
        let nodes = self.tree.nodes();
        let hot_zero = cover_ratio(nodes[hot as usize].cover, node.cover);
        let cold_zero = cover_ratio(nodes[cold as usize].cover, node.cover);
        let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);
        // A feature met again on the path is undone first, so each feature is one player.
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == split) {
            incoming_zero = path[k].zero_fraction;
            incoming_one = path[k].one_fraction;
            unwind(path, depth, k);
            depth -= 1;
        }
        // A branch whose both fractions are zero carries no weight: skipping it also avoids
        // dividing by its zero fraction.
        if hot_zero * incoming_zero != 0.0 || incoming_one != 0.0 {
            self.recurse(
                hot,
                path,
                depth + 1,
                hot_zero * incoming_zero,
                incoming_one,
                split,
            );
        }
        if cold_zero * incoming_zero != 0.0 {
            self.recurse(cold, path, depth + 1, cold_zero * incoming_zero, 0.0, split);
        }
    }
}

/// Adds a player to the path and updates the permutation weights.
#[inline]
fn extend(
    path: &mut [PathElement],
    depth: usize,
    zero_fraction: f64,
    one_fraction: f64,
    feature: u32,
) {
    path[depth] = PathElement {
        feature,
        zero_fraction,
        one_fraction,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].weight += one_fraction * path[i].weight * (i + 1) as f64 / d1;
        path[i].weight = zero_fraction * path[i].weight * (depth - i) as f64 / d1;
    }
}

/// Removes player `index` from the path, undoing [`extend`].
#[inline]
fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let d1 = (depth + 1) as f64;
    let mut next_one = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].weight;
            path[i].weight = next_one * d1 / ((i + 1) as f64 * one);
            next_one = tmp - path[i].weight * zero * (depth - i) as f64 / d1;
        } else {
            path[i].weight = path[i].weight * d1 / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

/// The total permutation weight of the path with player `index` removed, without modifying it.
#[inline]
fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let mut next_one = path[depth].weight;
    let mut total = 0.0;
    if one != 0.0 {
        for i in (0..depth).rev() {
            let tmp = next_one / ((i + 1) as f64 * one);
            total += tmp;
            next_one = path[i].weight - tmp * zero * (depth - i) as f64;
        }
    } else {
        for i in (0..depth).rev() {
            total += path[i].weight / (zero * (depth - i) as f64);
        }
    }
    total * (depth + 1) as f64
}

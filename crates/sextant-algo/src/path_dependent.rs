//! Exact path-dependent TreeSHAP: the game in which an absent feature's split is resolved by the
//! share of training cover that went each way (what XGBoost's `pred_contribs`, LightGBM's
//! `pred_contrib` and shap's `tree_path_dependent` compute), in O(T·L·D) per row.
//!
//! Rows go through the forest in blocks: for each tree, one pre-order pass over its internal
//! nodes decides every row of the block at every node and carries each row's slot mask down to
//! the leaves; then each leaf credits the block's rows from its table (see `leaf_paths`). A leaf's
//! data are loaded once per block, not once per row.

use rayon::prelude::*;
use sextant_model::{Forest, Rows, Tree};

use crate::cover_ratio;
use crate::leaf_paths::{Leaf, LeafPaths};
use crate::predict::simple_split;

/// Leaves whose path has at most this many distinct features get a `2^d` table (128 KiB at 14).
pub const DEFAULT_TABLE_DEPTH: usize = 14;

/// The most memory the tables of one explainer may take; past it, the table limit is lowered
/// until they fit (deep leaves then take the classic way).
pub const TABLE_BUDGET_BYTES: usize = 256 << 20;

/// Rows explained together in one pass over a tree.
const BLOCK_ROWS: usize = 64;

/// How a [`PathDependent`] explainer computes each leaf's share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strategy {
    /// Leaves with a precomputed table: O(d) per row (Fast TreeSHAP v2's subset weights).
    pub table_leaves: usize,
    /// Leaves past the table limit: O(d²) per row (classic extend/unwind on the leaf's path).
    pub path_leaves: usize,
    /// Bytes held by the tables.
    pub table_bytes: usize,
    /// The table limit in distinct features per path.
    pub table_depth: usize,
}

/// Path-dependent TreeSHAP over one forest.
pub struct PathDependent<'f> {
    forest: &'f Forest,
    trees: Vec<LeafPaths>,
    base_values: Vec<f64>,
    strategy: Strategy,
    max_positions: usize,
    max_walk: usize,
    max_path_slots: usize,
}

impl<'f> PathDependent<'f> {
    /// Prepares the explainer with the default table limit.
    pub fn new(forest: &'f Forest) -> PathDependent<'f> {
        Self::with_table_depth(
            forest,
            table_depth_within(forest, DEFAULT_TABLE_DEPTH, TABLE_BUDGET_BYTES),
        )
    }

    /// Prepares the explainer, tabulating leaves with at most `table_depth` distinct features on
    /// their path (0 computes every leaf the classic way). The base value of each output is its
    /// base margin plus every tree's cover-weighted mean leaf value.
    pub fn with_table_depth(forest: &'f Forest, table_depth: usize) -> PathDependent<'f> {
        let table_depth = table_depth.min(20);
        let mut base_values = forest.base_margin().to_vec();
        for (tree, &output) in forest.trees().iter().zip(forest.tree_outputs()) {
            base_values[output as usize] += expected_value(tree);
        }
        // Tabulating is per tree and takes tens of milliseconds on a large forest: spread it over
        // the cores, as the explanations are (a one-row call is then not mostly set-up).
        let trees: Vec<LeafPaths> = forest
            .trees()
            .par_iter()
            .map(|t| LeafPaths::new(t, table_depth))
            .collect();
        let mut strategy = Strategy {
            table_leaves: 0,
            path_leaves: 0,
            table_bytes: 0,
            table_depth,
        };
        let mut max_path_slots = 0;
        for t in &trees {
            for leaf in &t.leaves {
                if leaf.table.is_some() {
                    strategy.table_leaves += 1;
                } else {
                    strategy.path_leaves += 1;
                    max_path_slots = max_path_slots.max(leaf.features.len());
                }
            }
            strategy.table_bytes += t.tables.len() * std::mem::size_of::<f64>();
        }
        let max_positions = trees
            .iter()
            .map(|t| t.positions as usize)
            .max()
            .unwrap_or(0);
        let max_walk = trees.iter().map(|t| t.walk.len()).max().unwrap_or(0);
        PathDependent {
            forest,
            trees,
            base_values,
            strategy,
            max_positions,
            max_walk,
            max_path_slots,
        }
    }

    /// The base value (expected margin) of each output.
    pub fn base_values(&self) -> &[f64] {
        &self.base_values
    }

    /// How the leaves are computed.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Explains `rows` into `out` (layout in the crate docs).
    pub fn explain(&self, rows: Rows<'_>, out: &mut [f64]) {
        let per_row = crate::explanation_row_width(self.forest, rows, out);
        out.par_chunks_mut(per_row * BLOCK_ROWS)
            .enumerate()
            .for_each_init(
                || Scratch::new(self),
                |scratch, (block, out)| {
                    let first = block * BLOCK_ROWS;
                    let n = out.len() / per_row;
                    self.explain_block(rows.slice(first, first + n), out, scratch);
                },
            );
    }

    /// Explains up to [`BLOCK_ROWS`] rows. The block works feature-major (one column of `BLOCK_ROWS`
    /// values per feature, in and out), so every inner loop runs over contiguous rows.
    fn explain_block(&self, rows: Rows<'_>, out: &mut [f64], scratch: &mut Scratch) {
        let n = rows.n_rows();
        let width = self.forest.n_features() + 1;
        let per_row = self.forest.n_outputs() * width;
        for (r, row) in (0..n).map(|r| (r, rows.row(r))) {
            for (f, &x) in row.iter().enumerate() {
                scratch.columns[f * BLOCK_ROWS + r] = x;
            }
        }
        scratch.phi.fill(0.0);
        let forest = self.forest;
        for ((tree, paths), &output) in forest
            .trees()
            .iter()
            .zip(&self.trees)
            .zip(forest.tree_outputs())
        {
            scratch.route(tree, paths, n);
            let offset = output as usize * width;
            for leaf in &paths.leaves {
                match leaf.table {
                    Some(start) => {
                        scratch.credit_from_table(leaf, &paths.tables[start..], n, offset)
                    }
                    None => scratch.credit_by_path(leaf, n, offset),
                }
            }
        }
        for (r, phi) in out.chunks_mut(per_row).enumerate() {
            for (j, v) in phi.iter_mut().enumerate() {
                *v = scratch.phi[j * BLOCK_ROWS + r];
            }
            for (k, &base) in self.base_values.iter().enumerate() {
                phi[k * width + width - 1] = base;
            }
        }
    }
}

/// Per-task working memory, allocated once per rayon task.
struct Scratch {
    /// `decisions[walk_index * BLOCK_ROWS + r]`: row `r` goes left at that node.
    decisions: Vec<bool>,
    /// `masks[position * BLOCK_ROWS + r]`: slots row `r` follows all the way to that position.
    masks: Vec<u64>,
    /// `columns[feature * BLOCK_ROWS + r]`: the block's input, feature-major.
    columns: Vec<f64>,
    /// `phi[(output * (n_features + 1) + feature) * BLOCK_ROWS + r]`: the block's influences.
    phi: Vec<f64>,
    path: Vec<PathElement>,
    ones: Vec<bool>,
    leave: [f64; BLOCK_ROWS],
}

impl Scratch {
    fn new(explainer: &PathDependent<'_>) -> Scratch {
        Scratch {
            decisions: vec![false; explainer.max_walk * BLOCK_ROWS],
            masks: vec![0; explainer.max_positions * BLOCK_ROWS],
            path: vec![PathElement::default(); explainer.max_path_slots + 1],
            ones: vec![false; explainer.max_path_slots],
            columns: vec![0.0; explainer.forest.n_features() * BLOCK_ROWS],
            phi: vec![
                0.0;
                explainer.forest.n_outputs()
                    * (explainer.forest.n_features() + 1)
                    * BLOCK_ROWS
            ],
            leave: [0.0; BLOCK_ROWS],
        }
    }

    /// Decides every row at every internal node and carries the slot masks down.
    fn route(&mut self, tree: &Tree, paths: &LeafPaths, n: usize) {
        self.masks[..n].fill(0);
        for (w, walk) in paths.walk.iter().enumerate() {
            let node = &tree.nodes()[walk.node as usize];
            let xs = &self.columns[node.feature as usize * BLOCK_ROWS..][..n];
            let bit = if walk.slot < 64 { 1u64 << walk.slot } else { 0 };
            let open = if walk.opens_slot { bit } else { 0 };
            let at = walk.position as usize * BLOCK_ROWS;
            let (left, right) = (
                walk.left as usize * BLOCK_ROWS,
                walk.right as usize * BLOCK_ROWS,
            );
            let decisions = &mut self.decisions[w * BLOCK_ROWS..][..n];
            let simple = simple_split(node);
            for (r, (&x, decision)) in xs.iter().zip(decisions.iter_mut()).enumerate() {
                // Most splits are one comparison (see `simple_split`); the others take the
                // general rule. Whether a row goes left is data: selects, not branches.
                let goes_left = match simple {
                    Some((threshold, nan_left)) => (x < threshold) | (x.is_nan() & nan_left),
                    None => tree.goes_left(node, x),
                };
                *decision = goes_left;
                let m = self.masks[at + r] | open;
                let off = m & !bit;
                self.masks[left + r] = std::hint::select_unpredictable(goes_left, m, off);
                self.masks[right + r] = std::hint::select_unpredictable(goes_left, off, m);
            }
        }
    }

    /// A tabulated leaf: `φ_k = (1 − z_k)/z_k · C(S∖{k})` for slots the row follows, `−C(S)` for
    /// the others. The loops run over the block's rows with selects instead of branches: whether
    /// a row follows a slot is data, and mispredicted branches would dominate.
    fn credit_from_table(&mut self, leaf: &Leaf, table: &[f64], n: usize, offset: usize) {
        let d = leaf.features.len();
        let masks = &self.masks[leaf.position as usize * BLOCK_ROWS..][..n];
        let table = &table[..1 << d];
        // Masks only hold bits of this leaf's slots, so `& last` never changes an index; it lets
        // the compiler drop the bounds checks.
        let last = table.len() - 1;
        let leave = &mut self.leave[..n];
        for (l, &s) in leave.iter_mut().zip(masks) {
            *l = -table[s as usize & last];
        }
        for (k, (&f, &ratio)) in leaf.features.iter().zip(&leaf.ratios).enumerate() {
            let bit = 1u64 << k;
            let column = &mut self.phi[(offset + f as usize) * BLOCK_ROWS..][..n];
            for ((c, &s), &l) in column.iter_mut().zip(masks).zip(leave.iter()) {
                let present = ratio * table[(s & !bit) as usize & last];
                // A bit blend, not `if`: the compiler would otherwise branch on data.
                let pick = (s >> k & 1).wrapping_neg();
                *c += f64::from_bits((present.to_bits() & pick) | (l.to_bits() & !pick));
            }
        }
    }

    /// A leaf past the table limit: classic extend/unwind over its own path, O(d²) per row.
    fn credit_by_path(&mut self, leaf: &Leaf, n: usize, offset: usize) {
        let d = leaf.features.len();
        for r in 0..n {
            let ones = &mut self.ones[..d];
            ones.fill(true);
            for &(w, left, slot) in &leaf.path {
                if self.decisions[w as usize * BLOCK_ROWS + r] != left {
                    ones[slot as usize] = false;
                }
            }
            // A slot the row leaves and the cover never reaches makes the leaf's game zero.
            if (0..d).any(|k| !ones[k] && leaf.zero_fractions[k] == 0.0) {
                continue;
            }
            let path = &mut self.path[..=d];
            path[0] = PathElement {
                zero_fraction: 1.0,
                one_fraction: 1.0,
                weight: 1.0,
            };
            for (k, (&z, &one)) in leaf.zero_fractions.iter().zip(ones.iter()).enumerate() {
                extend(path, k + 1, z, if one { 1.0 } else { 0.0 });
            }
            for k in 0..d {
                let e = path[k + 1];
                let share = e.one_fraction - e.zero_fraction;
                if share != 0.0 {
                    let at = (offset + leaf.features[k] as usize) * BLOCK_ROWS + r;
                    self.phi[at] += unwound_sum(path, d, k + 1) * share * leaf.value;
                }
            }
        }
    }
}

/// The largest table limit, at most `max`, whose tables fit in `budget` bytes.
fn table_depth_within(forest: &Forest, max: usize, budget: usize) -> usize {
    // Leaves by number of distinct features on their path.
    let mut leaves_by_slots = vec![0usize; max + 1];
    for tree in forest.trees() {
        let mut stack: Vec<(u32, Vec<u32>)> = vec![(0, Vec::new())];
        while let Some((i, mut features)) = stack.pop() {
            let node = &tree.nodes()[i as usize];
            if node.is_leaf() {
                if let Some(count) = leaves_by_slots.get_mut(features.len()) {
                    *count += 1;
                }
                continue;
            }
            if !features.contains(&node.feature) {
                features.push(node.feature);
            }
            stack.push((node.left, features.clone()));
            stack.push((node.right, features));
        }
    }
    (0..=max)
        .rev()
        .find(|&limit| {
            let entries: usize = (0..=limit).map(|d| leaves_by_slots[d] << d).sum();
            entries * std::mem::size_of::<f64>() <= budget
        })
        .unwrap_or(0)
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

#[derive(Clone, Copy, Debug, Default)]
struct PathElement {
    zero_fraction: f64,
    one_fraction: f64,
    weight: f64,
}

/// Adds a player to the path and updates the permutation weights (Lundberg et al., Algorithm 2).
#[inline]
fn extend(path: &mut [PathElement], depth: usize, zero_fraction: f64, one_fraction: f64) {
    path[depth] = PathElement {
        zero_fraction,
        one_fraction,
        weight: 0.0,
    };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].weight += one_fraction * path[i].weight * (i + 1) as f64 / d1;
        path[i].weight = zero_fraction * path[i].weight * (depth - i) as f64 / d1;
    }
}

/// The total permutation weight of the path with player `index` removed.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_limit_shrinks_to_the_budget() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/data/small/lgb_multiclass.txt"
        );
        let model = sextant_import::load_model(std::path::Path::new(path), None).unwrap();
        let forest = model.trees().unwrap();
        let full = PathDependent::with_table_depth(forest, DEFAULT_TABLE_DEPTH).strategy();
        assert_eq!(
            table_depth_within(forest, DEFAULT_TABLE_DEPTH, usize::MAX),
            DEFAULT_TABLE_DEPTH
        );
        assert_eq!(
            table_depth_within(forest, DEFAULT_TABLE_DEPTH, full.table_bytes),
            DEFAULT_TABLE_DEPTH
        );
        let limit = table_depth_within(forest, DEFAULT_TABLE_DEPTH, full.table_bytes / 4);
        assert!(limit < DEFAULT_TABLE_DEPTH);
        let reduced = PathDependent::with_table_depth(forest, limit).strategy();
        assert!(
            reduced.table_bytes <= full.table_bytes / 4 && reduced.path_leaves > 0,
            "{reduced:?}"
        );
    }
}

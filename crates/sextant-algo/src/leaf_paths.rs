//! Per-leaf summaries of a tree for O(T·L·D) path-dependent TreeSHAP.
//!
//! For a leaf, let `P` be the distinct features on its path (its *slots*, numbered by first
//! occurrence from the root), `z_k` the product of the cover ratios of the branches the path takes
//! at the nodes of slot `k`, and for a row `S ⊆ P` the slots whose every node the row follows. The
//! leaf's share of the path-dependent game is `v · Π_k (k ∈ coalition ? [k ∈ S] : z_k)`, whose
//! Shapley values have a closed form (derived in docs/architecture.md):
//!
//! - `k ∉ S`: `φ_k = −Z(S) · v·A(S)`
//! - `k ∈ S`: `φ_k = (1 − z_k) · Z(S) · v·A(S \ {k})`
//!
//! with `Z(S) = Π_{j ∈ P∖S} z_j` and `A(T) = Σ_{U ⊆ T} |U|!(d−|U|−1)!/d! · Π_{j ∈ T∖U} z_j`.
//! Since `Z(S ∖ {k}) = z_k·Z(S)`, both lines read one table `C(T) = v·Z(T)·A(T)`:
//! `φ_k = −C(S)` and `φ_k = (1 − z_k)/z_k · C(S ∖ {k})`. `C` is tabulated per leaf (2^d entries),
//! so a row costs O(d) per leaf (Fast TreeSHAP v2's idea). Leaves deeper than the table limit, or
//! with a branch no training weight reached (`z_k = 0`), keep the O(d²) extend/unwind of classic
//! TreeSHAP, applied to the leaf's own path.

use sextant_model::Tree;

use crate::cover_ratio;

/// One internal node, in pre-order, with its slot on the paths through it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WalkNode {
    /// Index in the tree's node array.
    pub node: u32,
    /// This node's pre-order position.
    pub position: u32,
    /// Pre-order positions of the children (leaves included).
    pub left: u32,
    pub right: u32,
    /// This node's feature's slot on the paths through it.
    pub slot: u8,
    /// Whether this node is the first of its feature on the path (its slot starts here).
    pub opens_slot: bool,
}

/// A leaf summarised for the fast path.
#[derive(Clone, Debug)]
pub(crate) struct Leaf {
    /// Pre-order position of the leaf (where its row masks are found).
    pub position: u32,
    /// Feature of each slot.
    pub features: Vec<u32>,
    /// `z_k` of each slot.
    pub zero_fractions: Vec<f64>,
    /// `(1 − z_k) / z_k` of each slot (tabulated leaves only).
    pub ratios: Vec<f64>,
    /// The leaf value.
    pub value: f64,
    /// Offset of `v·A` in [`LeafPaths::tables`], or `None` for a leaf past the table limit.
    pub table: Option<usize>,
    /// For leaves without a table: `(walk index of the node, goes left, slot)` along the path.
    pub path: Vec<(u32, bool, u8)>,
}

/// All leaves of one tree, plus its internal nodes in pre-order.
#[derive(Clone, Debug)]
pub(crate) struct LeafPaths {
    /// Internal nodes in pre-order (`positions` index both these and the leaves).
    pub walk: Vec<WalkNode>,
    /// Number of pre-order positions (internal nodes and leaves) in the tree.
    pub positions: u32,
    pub leaves: Vec<Leaf>,
    pub tables: Vec<f64>,
}

impl LeafPaths {
    /// Summarises `tree`, tabulating leaves whose path has at most `table_depth` distinct
    /// features.
    pub fn new(tree: &Tree, table_depth: usize) -> LeafPaths {
        let mut out = LeafPaths {
            walk: Vec::new(),
            positions: 0,
            leaves: Vec::new(),
            tables: Vec::new(),
        };
        let mut path = PathState::default();
        out.visit(tree, 0, &mut path, table_depth);
        out
    }

    /// Pre-order walk; returns the position given to `node`.
    fn visit(&mut self, tree: &Tree, node: u32, path: &mut PathState, table_depth: usize) -> u32 {
        let position = self.positions;
        self.positions += 1;
        let n = &tree.nodes()[node as usize];
        if n.is_leaf() {
            self.add_leaf(position, n.value, path, table_depth);
            return position;
        }
        let existing = path.features.iter().position(|&f| f == n.feature);
        let slot = existing.unwrap_or(path.features.len());
        let walk_index = self.walk.len();
        self.walk.push(WalkNode {
            node,
            position,
            left: 0,
            right: 0,
            slot: slot.min(255) as u8,
            opens_slot: existing.is_none(),
        });
        if existing.is_none() {
            path.features.push(n.feature);
            path.zero_fractions.push(1.0);
        }
        let mut children = [0u32; 2];
        for (i, (child, left)) in [(n.left, true), (n.right, false)].into_iter().enumerate() {
            let ratio = cover_ratio(tree.nodes()[child as usize].cover, n.cover);
            let saved = path.zero_fractions[slot];
            path.zero_fractions[slot] = saved * ratio;
            path.steps
                .push((walk_index as u32, left, slot.min(255) as u8));
            children[i] = self.visit(tree, child, path, table_depth);
            path.steps.pop();
            path.zero_fractions[slot] = saved;
        }
        self.walk[walk_index].left = children[0];
        self.walk[walk_index].right = children[1];
        if existing.is_none() {
            path.features.pop();
            path.zero_fractions.pop();
        }
        position
    }

    fn add_leaf(&mut self, position: u32, value: f64, path: &PathState, table_depth: usize) {
        let d = path.features.len();
        let z = &path.zero_fractions;
        let tabulate = d <= table_depth && z.iter().all(|&zk| zk > 0.0);
        let table = tabulate.then(|| {
            let offset = self.tables.len();
            let absent = absent_products(z);
            let full = (1usize << d) - 1;
            let sums = weighted_sums(z);
            self.tables
                .extend((0..=full).map(|t| value * sums[t] * absent[full & !t]));
            offset
        });
        let ratios = if tabulate {
            z.iter().map(|&zk| (1.0 - zk) / zk).collect()
        } else {
            Vec::new()
        };
        self.leaves.push(Leaf {
            position,
            features: path.features.clone(),
            zero_fractions: path.zero_fractions.clone(),
            ratios,
            value,
            table,
            path: if table.is_some() {
                Vec::new()
            } else {
                path.steps.clone()
            },
        });
    }
}

#[derive(Default)]
struct PathState {
    features: Vec<u32>,
    zero_fractions: Vec<f64>,
    steps: Vec<(u32, bool, u8)>,
}

/// `Π_{j ∈ U} z_j` for every subset `U` (bit mask) of the slots.
fn absent_products(z: &[f64]) -> Vec<f64> {
    let n = 1usize << z.len();
    let mut out = vec![1.0; n];
    for u in 1..n {
        let top = usize::BITS as usize - 1 - u.leading_zeros() as usize;
        out[u] = out[u & !(1 << top)] * z[top];
    }
    out
}

/// `A(T)` for every subset `T` (bit mask) of the `d` slots:
/// `Σ_{u=0}^{|T|} u!(d−u−1)!/d! · e_{|T|−u}(z_T)`, with `e_k` the elementary symmetric
/// polynomials of the slots' zero fractions, built subset by subset (`T = T' ∪ {top bit}`).
fn weighted_sums(z: &[f64]) -> Vec<f64> {
    let d = z.len();
    let n = 1usize << d;
    // weight[u] = u!(d−u−1)!/d! = 1 / (d · C(d−1, u)).
    let mut weight = vec![0.0; d.max(1)];
    let mut binom = 1.0f64;
    for (u, w) in weight.iter_mut().enumerate().take(d) {
        *w = 1.0 / (d as f64 * binom);
        binom = binom * (d - 1 - u) as f64 / (u + 1) as f64;
    }
    let width = d + 1;
    let mut e = vec![0.0f64; n * width];
    e[0] = 1.0;
    for t in 1..n {
        let top = usize::BITS as usize - 1 - t.leading_zeros() as usize;
        let rest = t & !(1 << top);
        e[t * width] = 1.0;
        for k in 1..width {
            e[t * width + k] = e[rest * width + k] + z[top] * e[rest * width + k - 1];
        }
    }
    (0..n)
        .map(|t| {
            let size = t.count_ones() as usize;
            if size >= d && d > 0 {
                return 0.0; // Never looked up: with every slot in S there is no k ∉ S.
            }
            (0..=size)
                .map(|u| weight[u] * e[t * width + size - u])
                .sum()
        })
        .collect()
}

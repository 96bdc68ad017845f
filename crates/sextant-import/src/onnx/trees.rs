//! Reads the ONNX-ML tree operators into one plain description of the ensemble: branches, leaves
//! with their weights per target, roots, base values, aggregation and post-transform.
//!
//! - `TreeEnsembleClassifier` and `TreeEnsembleRegressor` (ai.onnx.ml 1 and 3) list nodes by
//!   `(tree id, node id)`; a node whose mode is `LEAF` is a leaf, and its weights are listed
//!   separately (`class_*` / `target_*`) by the same ids.
//! - `TreeEnsemble` (ai.onnx.ml 5) lists branches by index; each child is either a branch or,
//!   where `nodes_trueleafs` / `nodes_falseleafs` say so, an index into the leaves' weights.

use std::collections::HashMap;

use super::attributes::Attributes;
use super::proto::NodeProto;
use crate::ImportError;

/// What a branch compares (`true` sends a value to the "true" child).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `x <= t`
    Leq,
    /// `x < t`
    Lt,
    /// `x >= t`
    Gte,
    /// `x > t`
    Gt,
    /// `x == t`
    Eq,
    /// `x != t`
    Neq,
    /// `x` is one of the branch's members.
    Member,
}

/// Where an edge leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Child {
    /// A branch, by index into [`Ensemble::branches`].
    Branch(usize),
    /// A leaf, by index into [`Ensemble::leaves`].
    Leaf(usize),
}

/// One internal node.
#[derive(Clone, Debug)]
pub struct Branch {
    pub feature: usize,
    pub mode: Mode,
    pub threshold: f64,
    /// The set of a `Member` branch.
    pub members: Vec<f64>,
    /// Whether a missing value goes to the "true" child.
    pub missing_true: bool,
    pub yes: Child,
    pub no: Child,
    /// Where the operator lists it: `tree T node N` (ai.onnx.ml 1 and 3) or `branch I` (5).
    pub origin: String,
}

/// How the summed scores become outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostTransform {
    None,
    Logistic,
    Softmax,
    SoftmaxZero,
    Probit,
}

/// How the trees' scores are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    Sum,
    Average,
    Min,
    Max,
}

/// A tree ensemble as the operator describes it.
#[derive(Debug)]
pub struct Ensemble {
    pub branches: Vec<Branch>,
    /// Per leaf: `(target, weight)` pairs.
    pub leaves: Vec<Vec<(usize, f64)>>,
    /// Each tree's root.
    pub roots: Vec<Child>,
    /// Targets (regression) or classes.
    pub n_targets: usize,
    /// Added to each target after aggregation (may be shorter than `n_targets`, or empty).
    pub base_values: Vec<f64>,
    pub post_transform: PostTransform,
    pub aggregate: Aggregate,
    /// Whether the operator is a classifier (its `n_targets` counts classes).
    pub classifier: bool,
    /// Input columns the branches read: one more than the largest feature id.
    pub features_read: usize,
}

/// The largest category code a `BRANCH_MEMBER` set may hold (its bitset's size).
pub const MAX_MEMBER: f64 = 65_535.0;

/// Reads a tree operator node.
pub fn read(node: &NodeProto) -> Result<Ensemble, ImportError> {
    match node.op_type.as_str() {
        "TreeEnsemble" => read_v5(node),
        "TreeEnsembleClassifier" | "TreeEnsembleRegressor" => read_v3(node),
        other => Err(ImportError::Unsupported(format!(
            "{other} is not a tree operator"
        ))),
    }
}

fn post_transform(a: &Attributes, name: &str, text: &str) -> Result<PostTransform, ImportError> {
    Ok(match text {
        "NONE" => PostTransform::None,
        "LOGISTIC" => PostTransform::Logistic,
        "SOFTMAX" => PostTransform::Softmax,
        "SOFTMAX_ZERO" => PostTransform::SoftmaxZero,
        "PROBIT" => PostTransform::Probit,
        other => return Err(a.error(name, format!("unknown post-transform {other:?}"))),
    })
}

fn index(a: &Attributes, name: &str, i: usize, v: i64, len: usize) -> Result<usize, ImportError> {
    usize::try_from(v)
        .ok()
        .filter(|&v| v < len)
        .ok_or_else(|| a.error(name, format!("entry {i} is {v}, outside 0..{len}")))
}

fn same_length(a: &Attributes, names: &[(&str, usize)]) -> Result<usize, ImportError> {
    let (first, n) = names[0];
    for &(name, len) in &names[1..] {
        if len != n {
            return Err(a.error(
                name,
                format!("has {len} entries, and {first} has {n}: they must match"),
            ));
        }
    }
    Ok(n)
}

fn feature(a: &Attributes, i: usize, v: i64) -> Result<usize, ImportError> {
    usize::try_from(v)
        .ok()
        .filter(|&v| v < sextant_model::MAX_FEATURES)
        .ok_or_else(|| {
            a.error(
                "nodes_featureids",
                format!("entry {i} is {v}, not a feature index"),
            )
        })
}

/// ai.onnx.ml 1 and 3: nodes by `(tree id, node id)`.
fn read_v3(node: &NodeProto) -> Result<Ensemble, ImportError> {
    let a = Attributes::of(node);
    let classifier = node.op_type == "TreeEnsembleClassifier";
    let tree_ids = a.ints("nodes_treeids");
    let node_ids = a.ints("nodes_nodeids");
    let features = a.ints("nodes_featureids");
    let modes = a.strings("nodes_modes")?;
    let values = a.numbers("nodes_values")?;
    let yes = a.ints("nodes_truenodeids");
    let no = a.ints("nodes_falsenodeids");
    let tracks = a.ints("nodes_missing_value_tracks_true");
    let n = same_length(
        &a,
        &[
            ("nodes_treeids", tree_ids.len()),
            ("nodes_nodeids", node_ids.len()),
            ("nodes_featureids", features.len()),
            ("nodes_modes", modes.len()),
            ("nodes_truenodeids", yes.len()),
            ("nodes_falsenodeids", no.len()),
        ],
    )?;
    if n == 0 {
        return Err(a.error("nodes_treeids", "the ensemble has no nodes"));
    }
    if !values.is_empty() && values.len() != n {
        return Err(a.error(
            "nodes_values",
            format!("has {} entries for {n} nodes", values.len()),
        ));
    }
    if !tracks.is_empty() && tracks.len() != n {
        return Err(a.error(
            "nodes_missing_value_tracks_true",
            format!("has {} entries for {n} nodes", tracks.len()),
        ));
    }
    // Every node as a child: a leaf or a branch, numbered in file order.
    let mut position = HashMap::with_capacity(n);
    let mut as_child = Vec::with_capacity(n);
    let (mut n_branches, mut n_leaves) = (0, 0);
    for i in 0..n {
        if position.insert((tree_ids[i], node_ids[i]), i).is_some() {
            return Err(a.error(
                "nodes_nodeids",
                format!("tree {} lists node {} twice", tree_ids[i], node_ids[i]),
            ));
        }
        if modes[i] == "LEAF" {
            as_child.push(Child::Leaf(n_leaves));
            n_leaves += 1;
        } else {
            as_child.push(Child::Branch(n_branches));
            n_branches += 1;
        }
    }
    let child = |name: &str, i: usize, id: i64| -> Result<Child, ImportError> {
        position
            .get(&(tree_ids[i], id))
            .map(|&p| as_child[p])
            .ok_or_else(|| {
                a.error(
                    name,
                    format!(
                        "node {} of tree {} points to node {id}, which the tree does not have",
                        node_ids[i], tree_ids[i]
                    ),
                )
            })
    };
    let mut branches = Vec::with_capacity(n_branches);
    let mut referenced = vec![false; n];
    let mut features_read = 0;
    for i in 0..n {
        let mode = match modes[i].as_str() {
            "LEAF" => continue,
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_GT" => Mode::Gt,
            "BRANCH_EQ" => Mode::Eq,
            "BRANCH_NEQ" => Mode::Neq,
            other => {
                return Err(a.error(
                    "nodes_modes",
                    format!("entry {i} is {other:?}, not a node mode"),
                ));
            }
        };
        let f = feature(&a, i, features[i])?;
        features_read = features_read.max(f + 1);
        let (t, f_) = (
            child("nodes_truenodeids", i, yes[i])?,
            child("nodes_falsenodeids", i, no[i])?,
        );
        for id in [yes[i], no[i]] {
            referenced[position[&(tree_ids[i], id)]] = true;
        }
        branches.push(Branch {
            feature: f,
            mode,
            origin: format!("node {} of tree {}", node_ids[i], tree_ids[i]),
            threshold: values.get(i).copied().unwrap_or(0.0),
            members: Vec::new(),
            missing_true: tracks.get(i).is_some_and(|&t| t != 0),
            yes: t,
            no: f_,
        });
    }
    // A tree's root is its one node that no node points to; trees in order of first mention.
    let mut roots: Vec<(i64, Option<usize>)> = Vec::new();
    let mut tree_slot = HashMap::new();
    for i in 0..n {
        let slot = *tree_slot.entry(tree_ids[i]).or_insert_with(|| {
            roots.push((tree_ids[i], None));
            roots.len() - 1
        });
        if referenced[i] {
            continue;
        }
        if let Some(other) = roots[slot].1 {
            return Err(a.error(
                "nodes_nodeids",
                format!(
                    "tree {} has more than one root (nodes {} and {}): nothing points to either",
                    tree_ids[i], node_ids[other], node_ids[i]
                ),
            ));
        }
        roots[slot].1 = Some(i);
    }
    let roots = roots
        .into_iter()
        .map(|(tree, root)| {
            root.map(|p| as_child[p]).ok_or_else(|| {
                a.error(
                    "nodes_nodeids",
                    format!("tree {tree} has no root: every node is some node's child (a cycle)"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let prefix = if classifier { "class" } else { "target" };
    let w_trees = a.ints(&format!("{prefix}_treeids"));
    let w_nodes = a.ints(&format!("{prefix}_nodeids"));
    let w_ids = a.ints(&format!("{prefix}_ids"));
    let weights_name = format!("{prefix}_weights");
    let weights = a.numbers(&weights_name)?;
    let n_weights = same_length(
        &a,
        &[
            (&weights_name, weights.len()),
            (&format!("{prefix}_treeids"), w_trees.len()),
            (&format!("{prefix}_nodeids"), w_nodes.len()),
            (&format!("{prefix}_ids"), w_ids.len()),
        ],
    )?;
    let n_targets = if classifier {
        let ints = a.ints("classlabels_int64s").len();
        let strings = a.strings("classlabels_strings")?.len();
        ints.max(strings)
    } else {
        usize::try_from(a.int("n_targets", 1)).unwrap_or(0)
    };
    if n_targets == 0 {
        let name = if classifier {
            "classlabels_int64s"
        } else {
            "n_targets"
        };
        return Err(a.error(name, "the ensemble has no outputs"));
    }
    let mut leaves = vec![Vec::new(); n_leaves];
    for w in 0..n_weights {
        let target = index(&a, &format!("{prefix}_ids"), w, w_ids[w], n_targets)?;
        let leaf = match position
            .get(&(w_trees[w], w_nodes[w]))
            .map(|&p| as_child[p])
        {
            Some(Child::Leaf(l)) => l,
            _ => {
                return Err(a.error(
                    &format!("{prefix}_nodeids"),
                    format!(
                        "entry {w} names node {} of tree {}, which is not a leaf",
                        w_nodes[w], w_trees[w]
                    ),
                ));
            }
        };
        leaves[leaf].push((target, weights[w]));
    }
    let aggregate = if classifier {
        Aggregate::Sum
    } else {
        match a.string("aggregate_function", "SUM")?.as_str() {
            "SUM" => Aggregate::Sum,
            "AVERAGE" => Aggregate::Average,
            "MIN" => Aggregate::Min,
            "MAX" => Aggregate::Max,
            other => {
                return Err(a.error("aggregate_function", format!("unknown function {other:?}")));
            }
        }
    };
    let transform = a.string("post_transform", "NONE")?;
    Ok(Ensemble {
        branches,
        leaves,
        roots,
        n_targets,
        base_values: a.numbers("base_values")?,
        post_transform: post_transform(&a, "post_transform", &transform)?,
        aggregate,
        classifier,
        features_read,
    })
}

/// ai.onnx.ml 5: branches by index, leaves apart.
fn read_v5(node: &NodeProto) -> Result<Ensemble, ImportError> {
    let a = Attributes::of(node);
    let features = a.ints("nodes_featureids");
    let modes = a.numbers("nodes_modes")?;
    let splits = a.numbers("nodes_splits")?;
    let yes = a.ints("nodes_truenodeids");
    let no = a.ints("nodes_falsenodeids");
    let yes_leaf = a.ints("nodes_trueleafs");
    let no_leaf = a.ints("nodes_falseleafs");
    let tracks = a.ints("nodes_missing_value_tracks_true");
    let n = same_length(
        &a,
        &[
            ("nodes_featureids", features.len()),
            ("nodes_modes", modes.len()),
            ("nodes_splits", splits.len()),
            ("nodes_truenodeids", yes.len()),
            ("nodes_falsenodeids", no.len()),
            ("nodes_trueleafs", yes_leaf.len()),
            ("nodes_falseleafs", no_leaf.len()),
        ],
    )?;
    if !tracks.is_empty() && tracks.len() != n {
        return Err(a.error(
            "nodes_missing_value_tracks_true",
            format!("has {} entries for {n} nodes", tracks.len()),
        ));
    }
    let leaf_targets = a.ints("leaf_targetids");
    let leaf_weights = a.numbers("leaf_weights")?;
    let n_leaves = same_length(
        &a,
        &[
            ("leaf_weights", leaf_weights.len()),
            ("leaf_targetids", leaf_targets.len()),
        ],
    )?;
    let n_targets = usize::try_from(a.int("n_targets", 0)).unwrap_or(0);
    if n_targets == 0 {
        return Err(a.error("n_targets", "the ensemble has no outputs"));
    }
    let leaves = (0..n_leaves)
        .map(|l| {
            Ok(vec![(
                index(&a, "leaf_targetids", l, leaf_targets[l], n_targets)?,
                leaf_weights[l],
            )])
        })
        .collect::<Result<Vec<_>, ImportError>>()?;
    let mut members = a.numbers("membership_values")?.into_iter();
    let mut branches = Vec::with_capacity(n);
    let mut features_read = 0;
    for i in 0..n {
        let mode = match modes[i] as i64 {
            0 => Mode::Leq,
            1 => Mode::Lt,
            2 => Mode::Gte,
            3 => Mode::Gt,
            4 => Mode::Eq,
            5 => Mode::Neq,
            6 => Mode::Member,
            other => {
                return Err(a.error(
                    "nodes_modes",
                    format!("entry {i} is {other}, not a node mode"),
                ));
            }
        };
        let f = feature(&a, i, features[i])?;
        features_read = features_read.max(f + 1);
        let child = |name: &str, leaf: i64, id: i64| -> Result<Child, ImportError> {
            Ok(if leaf != 0 {
                Child::Leaf(index(&a, name, i, id, n_leaves)?)
            } else {
                Child::Branch(index(&a, name, i, id, n)?)
            })
        };
        let set = if mode == Mode::Member {
            // Each member branch's set, in branch order, ends at a NaN.
            members.by_ref().take_while(|v| !v.is_nan()).collect()
        } else {
            Vec::new()
        };
        branches.push(Branch {
            feature: f,
            mode,
            origin: format!("branch {i}"),
            threshold: splits[i],
            members: set,
            missing_true: tracks.get(i).is_some_and(|&t| t != 0),
            yes: child("nodes_truenodeids", yes_leaf[i], yes[i])?,
            no: child("nodes_falsenodeids", no_leaf[i], no[i])?,
        });
    }
    let roots = a
        .ints("tree_roots")
        .iter()
        .enumerate()
        .map(|(t, &r)| index(&a, "tree_roots", t, r, n).map(Child::Branch))
        .collect::<Result<Vec<_>, _>>()?;
    if roots.is_empty() {
        return Err(a.error("tree_roots", "the ensemble has no trees"));
    }
    let aggregate = match a.int("aggregate_function", 1) {
        0 => Aggregate::Average,
        1 => Aggregate::Sum,
        2 => Aggregate::Min,
        3 => Aggregate::Max,
        other => return Err(a.error("aggregate_function", format!("unknown function {other}"))),
    };
    let transform = match a.int("post_transform", 0) {
        0 => "NONE",
        1 => "SOFTMAX",
        2 => "LOGISTIC",
        3 => "SOFTMAX_ZERO",
        4 => "PROBIT",
        other => return Err(a.error("post_transform", format!("unknown post-transform {other}"))),
    };
    Ok(Ensemble {
        branches,
        leaves,
        roots,
        n_targets,
        base_values: Vec::new(),
        post_transform: post_transform(&a, "post_transform", transform)?,
        aggregate,
        classifier: false,
        features_read,
    })
}

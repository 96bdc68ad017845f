//! Turns an ONNX tree ensemble into Sextant's [`Forest`], so that it predicts what onnxruntime
//! predicts and every tree algorithm runs on it.
//!
//! - **Outputs.** A regressor has one output per target. A classifier with more than two classes
//!   has one per class. A binary classifier has one: the positive class's score. Exporters write
//!   binary scores two ways, and onnxruntime reads them so: weights for a single class id are the
//!   positive class's score; weights for both classes are two scores, of which the positive
//!   class's is taken (or, under softmax, their difference under a logistic link, which is the
//!   same probability).
//! - **Aggregation.** `AVERAGE` divides every leaf weight by the number of trees, as onnxruntime
//!   divides the sum; base values are added after. `MIN` and `MAX` are not sums of leaves, so no
//!   Shapley method for trees applies to them: they are refused.
//! - **Comparisons.** The "true" child is the left one; `>=`, `>` and `!=` swap the children of
//!   the complementary test. A float input is rounded to `f32` before onnxruntime compares it, so
//!   thresholds become the `f64` boundaries that give the same answer on unrounded values.
//! - **Missing values.** NaN fails every comparison except `!=`, and goes to the "true" child where
//!   `nodes_missing_value_tracks_true` says so.
//! - **Covers.** ONNX records none; the forest says so ([`Forest::without_covers`]).

use sextant_model::{
    Feature, Forest, Link, MAX_TREE_DEPTH, Missing, ModelInfo, Node, Split, Tree, f32_less_boundary,
};

use super::trees::{Aggregate, Branch, Child, Ensemble, MAX_MEMBER, Mode, PostTransform};
use crate::ImportError;

/// Builds the forest. `f32_input`: whether the operator reads a float (not double) tensor.
pub fn build(
    ensemble: &Ensemble,
    features: Vec<Feature>,
    f32_input: bool,
    info: ModelInfo,
    node_name: &str,
) -> Result<Forest, ImportError> {
    let unsupported = |what: String| ImportError::Unsupported(format!("{node_name}: {what}"));
    let malformed = |what: String| ImportError::Onnx(format!("{node_name}: {what}"));
    if ensemble.features_read > features.len() {
        return Err(unsupported(format!(
            "the trees read feature {} and the input has {} columns",
            ensemble.features_read - 1,
            features.len()
        )));
    }
    match ensemble.aggregate {
        Aggregate::Min | Aggregate::Max => {
            return Err(unsupported(
                "the trees are combined by MIN or MAX, not summed: Sextant's tree algorithms need a sum of leaves".into(),
            ));
        }
        Aggregate::Sum | Aggregate::Average => {}
    }
    let (coefficients, base, link) = outputs(ensemble).map_err(unsupported)?;
    let scale = match ensemble.aggregate {
        Aggregate::Average => 1.0 / ensemble.roots.len() as f64,
        _ => 1.0,
    };
    let mut trees = Vec::new();
    let mut tree_outputs = Vec::new();
    let mut claimed = vec![false; ensemble.branches.len()];
    for (t, root) in ensemble.roots.iter().enumerate() {
        let shape =
            walk(ensemble, *root, &mut claimed).map_err(|m| malformed(format!("tree {t}: {m}")))?;
        for (k, coef) in coefficients.iter().enumerate() {
            let value = |leaf: usize| -> f64 {
                ensemble.leaves[leaf]
                    .iter()
                    .map(|&(target, w)| coef[target] * w)
                    .sum::<f64>()
                    * scale
            };
            let writes = shape.iter().any(|step| match step {
                Step::Leaf(l) => ensemble.leaves[*l].iter().any(|&(tg, _)| coef[tg] != 0.0),
                Step::Branch(_) => false,
            });
            if !writes {
                continue;
            }
            let (nodes, words) = lay_out(ensemble, &shape, value, f32_input)
                .map_err(|m| unsupported(format!("tree {t}: {m}")))?;
            trees.push(Tree::new(trees.len(), nodes, words, features.len())?);
            tree_outputs.push(k as u32);
        }
    }
    // A branch no root leads to is not part of any tree: the trees hold a cycle that cut it off
    // from its root, or the file lists a node that nothing reaches. Either way the file does not
    // describe the model its exporter meant.
    if let Some(lost) = claimed.iter().position(|&c| !c) {
        return Err(malformed(format!(
            "{} is not reached from any tree's root (a cycle, or a node nothing points to)",
            ensemble.branches[lost].origin
        )));
    }
    Ok(Forest::new(features, trees, tree_outputs, base, link, info)?.without_covers())
}

/// Per output: coefficients over the operator's targets; the base margins; the link.
#[allow(clippy::type_complexity)]
fn outputs(e: &Ensemble) -> Result<(Vec<Vec<f64>>, Vec<f64>, Link), String> {
    let n = e.n_targets;
    let unit = |k: usize| {
        (0..n)
            .map(|t| if t == k { 1.0 } else { 0.0 })
            .collect::<Vec<f64>>()
    };
    let transform = |outputs: usize| -> Result<Link, String> {
        match e.post_transform {
            PostTransform::None => Ok(Link::Identity),
            PostTransform::Logistic => Ok(Link::Logistic { scale: 1.0 }),
            PostTransform::Softmax if outputs >= 2 => Ok(Link::Softmax),
            PostTransform::Softmax => Err("a softmax over a single score".into()),
            PostTransform::SoftmaxZero => {
                Err("post_transform SOFTMAX_ZERO is not supported".into())
            }
            PostTransform::Probit => Err("post_transform PROBIT is not supported".into()),
        }
    };
    let base_of = |k: usize| e.base_values.get(k).copied().unwrap_or(0.0);
    if !(e.classifier && n == 2) {
        // Regression targets, or classes of a multiclass classifier. onnxruntime adds base
        // values to a regressor only when there is one per target (or one for one target).
        let base = if e.classifier || e.base_values.len() == n {
            (0..n).map(base_of).collect()
        } else {
            vec![0.0; n]
        };
        return Ok(((0..n).map(unit).collect(), base, transform(n)?));
    }
    let mut classes: Vec<usize> = e.leaves.iter().flatten().map(|&(t, _)| t).collect();
    classes.sort_unstable();
    classes.dedup();
    if classes.len() <= 1 {
        // One class's weights: the positive class's score, whatever id they carry.
        let id = classes.first().copied().unwrap_or(1);
        let base = match e.base_values.len() {
            2 => e.base_values[1],
            1 => e.base_values[0],
            _ => 0.0,
        };
        return Ok((vec![unit(id)], vec![base], transform(1)?));
    }
    // Two scores, one per class.
    if e.post_transform == PostTransform::Softmax {
        // softmax(s0, s1)[1] = logistic(s1 - s0).
        return Ok((
            vec![vec![-1.0, 1.0]],
            vec![base_of(1) - base_of(0)],
            Link::Logistic { scale: 1.0 },
        ));
    }
    Ok((vec![unit(1)], vec![base_of(1)], transform(1)?))
}

/// A tree's nodes in pre-order.
enum Step {
    Branch(usize),
    Leaf(usize),
}

/// The tree under `root` in pre-order ("true" child first), checking that no branch is reached
/// twice in it or belongs to another tree, and that it is not deeper than Sextant allows.
fn walk(e: &Ensemble, root: Child, claimed: &mut [bool]) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut stack = vec![(root, 0usize)];
    while let Some((child, depth)) = stack.pop() {
        if depth > MAX_TREE_DEPTH {
            return Err(format!("deeper than {MAX_TREE_DEPTH} levels"));
        }
        match child {
            Child::Leaf(l) => steps.push(Step::Leaf(l)),
            Child::Branch(b) => {
                if std::mem::replace(&mut claimed[b], true) {
                    return Err(format!(
                        "{} is reached twice (a cycle, or a node shared between trees)",
                        e.branches[b].origin
                    ));
                }
                steps.push(Step::Branch(b));
                stack.push((e.branches[b].no, depth + 1));
                stack.push((e.branches[b].yes, depth + 1));
            }
        }
    }
    Ok(steps)
}

/// The nodes and category words of one output's tree.
fn lay_out(
    e: &Ensemble,
    shape: &[Step],
    value: impl Fn(usize) -> f64,
    f32_input: bool,
) -> Result<(Vec<Node>, Vec<u32>), String> {
    let mut nodes: Vec<Node> = Vec::with_capacity(shape.len());
    let mut words = Vec::new();
    // Branches whose children are still to be placed: (node index, its branch, children placed).
    let mut open: Vec<(usize, usize, u8)> = Vec::new();
    for step in shape {
        let at = nodes.len() as u32;
        if let Some((parent, branch, placed)) = open.last_mut() {
            // Pre-order, "true" child first; a node testing the complement takes it on the right.
            let yes = *placed == 0;
            let left = yes != swapped(e.branches[*branch].mode);
            if left {
                nodes[*parent].left = at;
            } else {
                nodes[*parent].right = at;
            }
            *placed += 1;
            if *placed == 2 {
                open.pop();
            }
        }
        match *step {
            Step::Leaf(l) => nodes.push(Node::leaf(value(l), 0.0)),
            Step::Branch(b) => {
                nodes.push(branch_node(&e.branches[b], b, f32_input, &mut words)?);
                open.push((nodes.len() - 1, b, 0));
            }
        }
    }
    Ok((nodes, words))
}

/// Whether the node tests the complement of the branch's condition (its "true" child goes right).
fn swapped(mode: Mode) -> bool {
    matches!(mode, Mode::Gte | Mode::Gt | Mode::Neq)
}

/// The largest `f32` at or below `t`.
fn floor_f32(t: f64) -> f32 {
    let f = t as f32;
    if (f as f64) > t { f.next_down() } else { f }
}

/// The smallest `f32` at or above `t`.
fn ceil_f32(t: f64) -> f32 {
    let f = t as f32;
    if (f as f64) < t { f.next_up() } else { f }
}

/// The node for one branch; children are placed by [`lay_out`].
fn branch_node(
    b: &Branch,
    index: usize,
    f32_input: bool,
    words: &mut Vec<u32>,
) -> Result<Node, String> {
    if b.threshold.is_nan() && b.mode != Mode::Member {
        return Err(format!("branch {index} has a NaN threshold"));
    }
    let t = b.threshold;
    // `split`, `threshold` test the branch's condition (Leq, Lt, Eq, Member) or its complement
    // (Gt = not Leq, Gte = not Lt, Neq = not Eq).
    let (split, threshold) = match (b.mode, f32_input) {
        (Mode::Leq | Mode::Gt, false) => (Split::LessOrEqual, t),
        (Mode::Lt | Mode::Gte, false) => (Split::Less, t),
        (Mode::Leq | Mode::Gt, true) => {
            let f = floor_f32(t);
            if f == f32::INFINITY {
                (Split::LessOrEqual, f64::INFINITY)
            } else {
                (Split::Less, f32_less_boundary(f.next_up()))
            }
        }
        (Mode::Lt | Mode::Gte, true) => (Split::Less, f32_less_boundary(ceil_f32(t))),
        (Mode::Eq | Mode::Neq, false) => (Split::Equal, t),
        (Mode::Eq | Mode::Neq, true) => (Split::EqualF32, t),
        (Mode::Member, _) => (
            if f32_input {
                Split::MembersF32
            } else {
                Split::Members
            },
            0.0,
        ),
    };
    // NaN fails the test (so goes where its failure goes) unless it tracks "true"; for Neq the
    // node tests Eq, which NaN fails, and NaN satisfies Neq: it goes right, the "true" side.
    let nan_left = match b.mode {
        Mode::Neq => false,
        m if swapped(m) => !b.missing_true,
        _ => b.missing_true,
    };
    let mut node = Node::numeric(
        b.feature as u32,
        split,
        threshold,
        Missing::Nan,
        nan_left,
        0,
        0,
        0.0,
    );
    if b.mode == Mode::Member {
        let start = words.len();
        for &m in &b.members {
            if !((0.0..=MAX_MEMBER).contains(&m) && m.fract() == 0.0) {
                return Err(format!(
                    "branch {index} tests membership of {m}; Sextant reads sets of category codes 0 to {MAX_MEMBER}"
                ));
            }
            let m = m as usize;
            let needed = start + m / 32 + 1;
            if words.len() < needed {
                words.resize(needed, 0);
            }
            words[start + m / 32] |= 1 << (m % 32);
        }
        node.categories_start = start as u32;
        node.categories_len = (words.len() - start) as u32;
    }
    Ok(node)
}

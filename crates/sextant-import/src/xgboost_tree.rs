//! One XGBoost JSON tree (`learner.gradient_booster.model.trees[i]`) into a [`Tree`].

use sextant_model::{Missing, Node, Split, Tree, f32_less_boundary};

use crate::error::ImportError;
use crate::json::At;

pub(crate) fn parse_tree(
    at: At<'_>,
    path: &str,
    index: usize,
    n_features: usize,
    scale: f64,
    category_budget: &mut usize,
) -> Result<Tree, ImportError> {
    let wrap = |e: ImportError| match e {
        ImportError::Field { path: p, message } => {
            ImportError::field(format!("{path}.{p}"), message)
        }
        other => other,
    };
    let inner = || -> Result<Tree, ImportError> {
        let param = at.get("tree_param")?;
        if let Some(size) = param.opt("size_leaf_vector") {
            let size = size.uint()?;
            if size > 1 {
                return Err(ImportError::Unsupported(format!(
                    "tree {index} is a multi-target tree (size_leaf_vector={size}); train with multi_strategy=\"one_output_per_tree\""
                )));
            }
        }
        let n = param.get("num_nodes")?.uint()?;
        // The declared size is only trusted once the arrays confirm it.
        let left = at.get("left_children")?;
        let left_vals = left.array()?;
        if left_vals.len() as u64 != n {
            return Err(left.err(format!(
                "has {} items, but tree_param.num_nodes is {n}",
                left_vals.len()
            )));
        }
        let n = n as usize;
        let left = left.ints(Some(n))?;
        let right = at.get("right_children")?.ints(Some(n))?;
        let split_index = at.get("split_indices")?.ints(Some(n))?;
        let condition = at.get("split_conditions")?.floats(Some(n))?;
        let default_left = at.get("default_left")?.bools(Some(n))?;
        let cover = at.get("sum_hessian")?.floats(Some(n))?;
        let split_type = match at.opt("split_type") {
            Some(v) => v.ints(Some(n))?,
            None => vec![0; n],
        };
        let category_sets = categories(at, n)?;

        let mut nodes = Vec::with_capacity(n);
        let mut words: Vec<u32> = Vec::new();
        for i in 0..n {
            if left[i] == -1 {
                if right[i] != -1 {
                    return Err(ImportError::field(
                        format!("right_children[{i}]"),
                        "a leaf (left child -1) must have right child -1",
                    ));
                }
                nodes.push(Node::leaf(condition[i] as f32 as f64 * scale, cover[i]));
                continue;
            }
            let child = |v: i64, name: &str| -> Result<u32, ImportError> {
                u32::try_from(v).map_err(|_| {
                    ImportError::field(
                        format!("{name}[{i}]"),
                        format!("child index {v} is not a node"),
                    )
                })
            };
            let (l, r) = (
                child(left[i], "left_children")?,
                child(right[i], "right_children")?,
            );
            let feature = u32::try_from(split_index[i]).map_err(|_| {
                ImportError::field(
                    format!("split_indices[{i}]"),
                    format!("{} is not a feature index", split_index[i]),
                )
            })?;
            let threshold = condition[i] as f32;
            if threshold.is_nan() {
                return Err(ImportError::field(
                    format!("split_conditions[{i}]"),
                    "threshold is NaN",
                ));
            }
            let node = match split_type[i] {
                0 => Node::numeric(
                    feature,
                    Split::Less,
                    f32_less_boundary(threshold),
                    Missing::Nan,
                    default_left[i],
                    l,
                    r,
                    cover[i],
                ),
                1 => {
                    let Some(set) = category_sets
                        .iter()
                        .find(|(node, _)| *node == i)
                        .map(|(_, set)| set)
                    else {
                        return Err(ImportError::field(
                            "categories_nodes",
                            format!("node {i} is a categorical split but has no category set"),
                        ));
                    };
                    let start = words.len() as u32;
                    let max = set.iter().copied().max().unwrap_or(0) as usize;
                    let n_words = max / 32 + 1;
                    *category_budget = category_budget.checked_sub(n_words).ok_or_else(|| {
                        ImportError::Unsupported(format!(
                            "the category sets need more than {} MiB (category codes up to {max})",
                            (MAX_CATEGORY_WORDS * 4) >> 20
                        ))
                    })?;
                    words.resize(words.len() + n_words, 0);
                    for &c in set {
                        words[start as usize + c as usize / 32] |= 1 << (c % 32);
                    }
                    // XGBoost sends the listed categories right; our category sets go left, so
                    // the children swap and so does the default direction.
                    let mut node = Node::numeric(
                        feature,
                        Split::CategoriesF32,
                        0.0,
                        Missing::Nan,
                        !default_left[i],
                        r,
                        l,
                        cover[i],
                    );
                    node.categories_start = start;
                    node.categories_len = n_words as u32;
                    node
                }
                other => {
                    return Err(ImportError::field(
                        format!("split_type[{i}]"),
                        format!("unknown split type {other}"),
                    ));
                }
            };
            nodes.push(node);
        }
        Ok(Tree::new(index, nodes, words, n_features)?)
    };
    inner().map_err(wrap)
}

/// The largest category code we accept in a split (XGBoost's own limit is 2^24).
const MAX_CATEGORY: i64 = 1 << 24;

/// The most bitset words all categorical splits of one model may use together (64 MiB), so a
/// file listing huge category codes at many nodes cannot make us allocate without bound.
pub(crate) const MAX_CATEGORY_WORDS: usize = 1 << 24;

/// The category sets of a tree's categorical nodes: `(node, categories)`.
fn categories(at: At<'_>, n_nodes: usize) -> Result<Vec<(usize, Vec<u32>)>, ImportError> {
    let Some(nodes) = at.opt("categories_nodes") else {
        return Ok(Vec::new());
    };
    let nodes = nodes.ints(None)?;
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    let segments = at.get("categories_segments")?.ints(Some(nodes.len()))?;
    let sizes = at.get("categories_sizes")?.ints(Some(nodes.len()))?;
    let all = at.get("categories")?.ints(None)?;
    let mut out = Vec::with_capacity(nodes.len());
    for k in 0..nodes.len() {
        let (node, start, size) = (nodes[k], segments[k], sizes[k]);
        if node < 0 || node as usize >= n_nodes {
            return Err(ImportError::field(
                format!("categories_nodes[{k}]"),
                format!("node {node} is not in the tree"),
            ));
        }
        let end = start
            .checked_add(size)
            .filter(|&e| start >= 0 && size >= 0 && e as usize <= all.len());
        let Some(end) = end else {
            return Err(ImportError::field(
                format!("categories_segments[{k}]"),
                format!(
                    "segment {start}+{size} lies outside the {} stored categories",
                    all.len()
                ),
            ));
        };
        let mut set = Vec::with_capacity(size as usize);
        for &c in &all[start as usize..end as usize] {
            if !(0..MAX_CATEGORY).contains(&c) {
                return Err(ImportError::field(
                    "categories",
                    format!("category {c} is outside 0..2^24"),
                ));
            }
            set.push(c as u32);
        }
        out.push((node as usize, set));
    }
    Ok(out)
}

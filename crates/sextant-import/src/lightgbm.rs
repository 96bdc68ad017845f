//! LightGBM text models (`Booster.save_model`, format versions v3 and v4).

use sextant_model::{
    Feature, FeatureKind, Forest, Link, MAX_FEATURES, Missing, ModelInfo, Node, Split, Tree,
};

use crate::error::ImportError;
use crate::lightgbm_sections::{Block, Sections};

/// Parses a LightGBM text model.
pub fn parse_lightgbm(bytes: &[u8]) -> Result<Forest, ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        ImportError::Line {
            line,
            message: "not UTF-8 text".into(),
        }
    })?;
    let sections = Sections::split(text)?;
    let header = &sections.header;
    let version = header
        .get("version")
        .map_or("unknown", |(_, v)| v)
        .to_string();
    if !matches!(version.as_str(), "v2" | "v3" | "v4") {
        return Err(ImportError::Unsupported(format!(
            "LightGBM model format version {version:?} (supported: v2, v3, v4)"
        )));
    }
    let per_iteration = header
        .number::<usize>("num_tree_per_iteration")?
        .unwrap_or(1);
    let num_class = header.number::<usize>("num_class")?.unwrap_or(1);
    if per_iteration == 0 || per_iteration > 1 << 16 {
        return Err(header.err(
            "num_tree_per_iteration",
            format!("{per_iteration} is not a usable number of outputs"),
        ));
    }
    let max_feature_idx = header
        .number::<i64>("max_feature_idx")?
        .ok_or_else(|| header.missing("max_feature_idx"))?;
    let names: Vec<String> = match header.get("feature_names") {
        Some((_, v)) => v.split_whitespace().map(str::to_string).collect(),
        None => Vec::new(),
    };
    let n_features = usize::try_from(max_feature_idx + 1)
        .ok()
        .filter(|&n| n > 0 && n <= MAX_FEATURES && n == names.len())
        .ok_or_else(|| {
            header.err(
                "feature_names",
                format!(
                    "lists {} names, but max_feature_idx is {max_feature_idx}",
                    names.len()
                ),
            )
        })?;
    let objective_text = header
        .get("objective")
        .map_or("custom", |(_, v)| v)
        .to_string();
    let link = link_for(&objective_text, per_iteration)?;
    let _ = num_class;

    let categorical = categorical_features(&sections, n_features)?;
    let mut features: Vec<Feature> = names
        .into_iter()
        .map(|name| Feature {
            name,
            kind: FeatureKind::Numeric,
        })
        .collect();
    for (k, &f) in categorical.iter().enumerate() {
        let categories = sections
            .pandas_categorical
            .as_ref()
            .and_then(|lists| (lists.len() == categorical.len()).then(|| lists[k].clone()));
        features[f].kind = FeatureKind::Categorical { categories };
    }

    let n_trees = sections.trees.len();
    let scale = if header.has_flag("average_output") {
        let iterations = n_trees / per_iteration;
        if iterations == 0 {
            1.0
        } else {
            1.0 / iterations as f64
        }
    } else {
        1.0
    };
    let mut trees = Vec::with_capacity(n_trees);
    let mut outputs = Vec::with_capacity(n_trees);
    for (i, block) in sections.trees.iter().enumerate() {
        trees.push(parse_tree(block, i, n_features, scale)?);
        outputs.push((i % per_iteration) as u32);
    }
    let info = ModelInfo {
        format: "lightgbm-text",
        library_version: version,
        objective: objective_text,
    };
    Ok(Forest::new(
        features,
        trees,
        outputs,
        vec![0.0; per_iteration],
        link,
        info,
    )?)
}

/// LightGBM's output transformation, from its `objective=` line.
fn link_for(objective: &str, outputs: usize) -> Result<Link, ImportError> {
    let mut words = objective.split_whitespace();
    let name = words.next().unwrap_or("custom");
    let sigmoid = words
        .filter_map(|w| w.strip_prefix("sigmoid:"))
        .map(|v| v.parse::<f64>().ok().filter(|s| s.is_finite() && *s > 0.0))
        .next();
    let scale = match sigmoid {
        Some(Some(s)) => s,
        Some(None) => {
            return Err(ImportError::field(
                "objective",
                format!("bad sigmoid parameter in {objective:?}"),
            ));
        }
        None => 1.0,
    };
    let link = match name {
        "regression" | "regression_l2" | "l2" | "mean_squared_error" | "mse" | "regression_l1"
        | "l1" | "huber" | "fair" | "quantile" | "mape" | "lambdarank" | "rank_xendcg"
        | "custom" => Link::Identity,
        "binary" | "multiclassova" | "cross_entropy" | "xentropy" => Link::Logistic { scale },
        "multiclass" | "softmax" => Link::Softmax,
        "poisson" | "gamma" | "tweedie" => Link::Exp,
        other => {
            return Err(ImportError::Unsupported(format!(
                "LightGBM objective {other:?} (supported: regression and its variants, binary, multiclass, multiclassova, cross_entropy, poisson, gamma, tweedie, lambdarank, rank_xendcg)"
            )));
        }
    };
    if link == Link::Softmax && outputs < 2 {
        return Err(ImportError::field(
            "num_tree_per_iteration",
            format!("multiclass objective with {outputs} tree per iteration"),
        ));
    }
    Ok(link)
}

/// Which features are categorical: the `[categorical_feature: …]` parameter when present, else the
/// features whose `feature_infos` entry lists categories (`a:b:c`) rather than a range (`[lo:hi]`).
fn categorical_features(
    sections: &Sections<'_>,
    n_features: usize,
) -> Result<Vec<usize>, ImportError> {
    if let Some((line, list)) = sections.categorical_parameter {
        let mut out = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let f: usize = item
                .parse()
                .ok()
                .filter(|&f| f < n_features)
                .ok_or_else(|| ImportError::Line {
                    line,
                    message: format!(
                        "categorical_feature {item:?} is not a feature index below {n_features}"
                    ),
                })?;
            out.push(f);
        }
        out.sort_unstable();
        out.dedup();
        return Ok(out);
    }
    let Some((_, infos)) = sections.header.get("feature_infos") else {
        return Ok(Vec::new());
    };
    Ok(infos
        .split_whitespace()
        .enumerate()
        .filter(|(i, info)| *i < n_features && !info.starts_with('[') && *info != "none")
        .map(|(i, _)| i)
        .collect())
}

/// decision_type bits.
const CATEGORICAL_MASK: u8 = 1;
const DEFAULT_LEFT_MASK: u8 = 2;

fn parse_tree(
    block: &Block<'_>,
    index: usize,
    n_features: usize,
    scale: f64,
) -> Result<Tree, ImportError> {
    if block.get("is_linear").is_some_and(|(_, v)| v.trim() != "0") {
        return Err(ImportError::Unsupported(format!(
            "tree {index} is a linear tree (is_linear=1, trained with linear_tree=true); Sextant explains piecewise-constant trees only"
        )));
    }
    let num_leaves: usize = block
        .number("num_leaves")?
        .ok_or_else(|| block.missing("num_leaves"))?;
    if num_leaves == 0 {
        return Err(block.err("num_leaves", "a tree needs at least one leaf".into()));
    }
    let leaf_value: Vec<f64> = block.list("leaf_value", num_leaves)?;
    let leaf_count: Vec<f64> = match block.get("leaf_count") {
        Some(_) => block.list("leaf_count", num_leaves)?,
        None if num_leaves == 1 => vec![0.0],
        None => return Err(block.missing("leaf_count")),
    };
    if num_leaves == 1 {
        return Ok(Tree::new(
            index,
            vec![Node::leaf(leaf_value[0] * scale, leaf_count[0])],
            Vec::new(),
            n_features,
        )?);
    }
    let n_internal = num_leaves - 1;
    let split_feature: Vec<i64> = block.list("split_feature", n_internal)?;
    let threshold: Vec<f64> = block.list("threshold", n_internal)?;
    let decision_type: Vec<u8> = block.list("decision_type", n_internal)?;
    let left_child: Vec<i64> = block.list("left_child", n_internal)?;
    let right_child: Vec<i64> = block.list("right_child", n_internal)?;
    let internal_count: Vec<f64> = block.list("internal_count", n_internal)?;
    let num_cat: usize = block.number("num_cat")?.unwrap_or(0);
    let (cat_boundaries, cat_threshold): (Vec<usize>, Vec<u32>) = if num_cat > 0 {
        let boundaries: Vec<usize> = block.list("cat_boundaries", num_cat + 1)?;
        let (_, words_text) = block
            .get("cat_threshold")
            .ok_or_else(|| block.missing("cat_threshold"))?;
        let n_words = words_text.split_whitespace().count();
        let words = block.list("cat_threshold", n_words)?;
        if boundaries.windows(2).any(|w| w[0] > w[1])
            || boundaries.last().is_some_and(|&b| b > n_words)
            || boundaries[0] != 0
        {
            return Err(block.err(
                "cat_boundaries",
                format!("boundaries must rise from 0 to at most {n_words}"),
            ));
        }
        (boundaries, words)
    } else {
        (Vec::new(), Vec::new())
    };

    // Internal node k sits at k; leaf j at n_internal + j.
    let child = |v: i64, key: &str, k: usize| -> Result<u32, ImportError> {
        let target = if v >= 0 { v } else { n_internal as i64 + !v };
        if target < 0
            || target >= (n_internal + num_leaves) as i64
            || (v >= 0 && v as usize >= n_internal)
        {
            return Err(block.err(
                key,
                format!("item {k}: child {v} is not a node of this tree"),
            ));
        }
        Ok(target as u32)
    };
    let mut nodes = Vec::with_capacity(n_internal + num_leaves);
    for k in 0..n_internal {
        let (l, r) = (
            child(left_child[k], "left_child", k)?,
            child(right_child[k], "right_child", k)?,
        );
        let feature = u32::try_from(split_feature[k]).map_err(|_| {
            block.err(
                "split_feature",
                format!("item {k}: {} is not a feature index", split_feature[k]),
            )
        })?;
        let dt = decision_type[k];
        let default_left = dt & DEFAULT_LEFT_MASK != 0;
        let node = if dt & CATEGORICAL_MASK != 0 {
            let t = threshold[k];
            let slot = (t >= 0.0 && t.fract() == 0.0 && (t as usize) < num_cat).then_some(t as usize).ok_or_else(|| {
                block.err("threshold", format!("item {k}: categorical split points to category set {t}, but the tree has {num_cat}"))
            })?;
            let (start, end) = (cat_boundaries[slot], cat_boundaries[slot + 1]);
            // LightGBM sends NaN right at categorical splits, whatever the missing type.
            let mut node = Node::numeric(
                feature,
                Split::CategoriesTruncated,
                0.0,
                Missing::Nan,
                false,
                l,
                r,
                internal_count[k],
            );
            node.categories_start = start as u32;
            node.categories_len = (end - start) as u32;
            node
        } else {
            let missing = match (dt >> 2) & 3 {
                0 => Missing::AsZero,
                1 => Missing::Zero,
                2 => Missing::Nan,
                other => {
                    return Err(block.err(
                        "decision_type",
                        format!("item {k}: unknown missing type {other}"),
                    ));
                }
            };
            Node::numeric(
                feature,
                Split::LessOrEqual,
                threshold[k],
                missing,
                default_left,
                l,
                r,
                internal_count[k],
            )
        };
        nodes.push(node);
    }
    for j in 0..num_leaves {
        nodes.push(Node::leaf(leaf_value[j] * scale, leaf_count[j]));
    }
    Ok(Tree::new(index, nodes, cat_threshold, n_features)?)
}

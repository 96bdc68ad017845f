//! XGBoost JSON models (`Booster.save_model("m.json")`, XGBoost 1.x to 3.x).

use serde_json::Value;
use sextant_model::{Feature, FeatureKind, Forest, Link, MAX_FEATURES, ModelInfo};

use crate::error::ImportError;
use crate::json::At;
use crate::xgboost_tree::{MAX_CATEGORY_WORDS, parse_tree};

/// Parses an XGBoost JSON model.
pub fn parse_xgboost_json(bytes: &[u8]) -> Result<Forest, ImportError> {
    // serde_json refuses nesting deeper than 128 levels, so hostile nesting is an error, not a
    // stack overflow.
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| ImportError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let root = At::root(&doc);
    let version = match root.opt("version") {
        Some(v) => v
            .ints(None)?
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join("."),
        None => "unknown".to_string(),
    };
    let learner = root.get("learner")?;
    let params = learner.get("learner_model_param")?;
    let objective_owned = learner.get("objective")?;
    let objective_name = objective_owned.get("name")?;
    let objective_name = objective_name.str()?.to_string();
    let objective = Objective::from_name(&objective_name)?;

    let n_features = params.get("num_feature")?.uint()? as usize;
    let num_class = params
        .opt("num_class")
        .map(|v| v.uint())
        .transpose()?
        .unwrap_or(0) as usize;
    let num_target = params
        .opt("num_target")
        .map(|v| v.uint())
        .transpose()?
        .unwrap_or(1) as usize;
    let n_outputs = num_class.max(num_target).max(1);
    if n_features == 0 || n_features > MAX_FEATURES {
        return Err(params.err(format!(
            "num_feature is {n_features}; Sextant supports 1 to {MAX_FEATURES}"
        )));
    }
    if n_outputs > MAX_OUTPUTS {
        return Err(params.err(format!("{n_outputs} outputs (num_class / num_target) is more than Sextant supports ({MAX_OUTPUTS})")));
    }

    let base_score = params.get("base_score")?;
    let base_margin = base_margins(base_score, n_outputs, objective)?;

    let booster = learner.get("gradient_booster")?;
    let booster_name = booster.get("name")?.str()?.to_string();
    let (gbtree, weight_drop) = match booster_name.as_str() {
        "gbtree" => (booster.get("model")?, None),
        "dart" => {
            let weights = booster.get("weight_drop")?.floats(None)?;
            let inner = booster.get("gbtree")?;
            (inner.get("model")?, Some(weights))
        }
        "gblinear" => {
            return Err(ImportError::Unsupported(
                "the gblinear booster (linear models) is not a tree ensemble".into(),
            ));
        }
        other => return Err(ImportError::Unsupported(format!("booster {other:?}"))),
    };
    let features = feature_list(&learner, &gbtree, n_features)?;

    let trees_json = gbtree.get("trees")?;
    let tree_values = trees_json.array()?;
    let tree_info = gbtree.get("tree_info")?.ints(Some(tree_values.len()))?;
    if let Some(w) = &weight_drop
        && w.len() != tree_values.len()
    {
        return Err(ImportError::field(
            "learner.gradient_booster.weight_drop",
            format!("has {} weights for {} trees", w.len(), tree_values.len()),
        ));
    }

    let mut category_budget = MAX_CATEGORY_WORDS;
    let mut trees = Vec::with_capacity(tree_values.len());
    let mut outputs = Vec::with_capacity(tree_values.len());
    for (i, tree_value) in tree_values.iter().enumerate() {
        let path = format!("{}.trees[{i}]", trees_json.path());
        let at = At::root(tree_value);
        let scale = weight_drop.as_ref().map_or(1.0, |w| w[i]);
        let tree = parse_tree(at, &path, i, n_features, scale, &mut category_budget)?;
        let group = tree_info[i];
        if group < 0 || group as usize >= n_outputs {
            return Err(ImportError::field(
                format!("{}.tree_info[{i}]", gbtree.path()),
                format!("tree {i} writes to output {group}, but the model has {n_outputs} outputs"),
            ));
        }
        trees.push(tree);
        outputs.push(group as u32);
    }
    let info = ModelInfo {
        format: "xgboost-json",
        library_version: version,
        objective: objective_name,
    };
    Ok(Forest::new(
        features,
        trees,
        outputs,
        base_margin,
        objective.link(),
        info,
    )?)
}

/// The objectives we can turn into margins and responses.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Objective {
    /// Margin = base_score; response = margin.
    Identity,
    /// base_score is a probability (margin = logit); response = sigmoid(margin).
    Logistic,
    /// base_score is a probability (margin = logit); response = margin.
    LogitRaw,
    /// base_score is a mean (margin = ln); response = exp(margin).
    Log,
    /// base_score is per-class margin; response = softmax.
    Softmax,
}

impl Objective {
    fn from_name(name: &str) -> Result<Objective, ImportError> {
        Ok(match name {
            "reg:squarederror"
            | "reg:linear"
            | "reg:squaredlogerror"
            | "reg:pseudohubererror"
            | "reg:absoluteerror"
            | "rank:pairwise"
            | "rank:ndcg"
            | "rank:map" => Objective::Identity,
            "reg:logistic" | "binary:logistic" => Objective::Logistic,
            "binary:logitraw" => Objective::LogitRaw,
            "count:poisson" | "reg:gamma" | "reg:tweedie" => Objective::Log,
            "multi:softprob" | "multi:softmax" => Objective::Softmax,
            other => {
                return Err(ImportError::Unsupported(format!(
                    "XGBoost objective {other:?} (supported: reg:squarederror, reg:squaredlogerror, reg:pseudohubererror, reg:absoluteerror, reg:logistic, binary:logistic, binary:logitraw, count:poisson, reg:gamma, reg:tweedie, multi:softprob, multi:softmax, rank:pairwise, rank:ndcg, rank:map)"
                )));
            }
        })
    }

    fn link(self) -> Link {
        match self {
            Objective::Identity | Objective::LogitRaw => Link::Identity,
            Objective::Logistic => Link::Logistic { scale: 1.0 },
            Objective::Log => Link::Exp,
            Objective::Softmax => Link::Softmax,
        }
    }

    /// XGBoost's `ProbToMargin`: turns the stored base_score into margin space.
    fn to_margin(self, base_score: f64) -> Option<f64> {
        let margin = match self {
            Objective::Identity | Objective::Softmax => base_score,
            Objective::Logistic | Objective::LogitRaw => {
                if !(base_score > 0.0 && base_score < 1.0) {
                    return None;
                }
                -(1.0 / base_score - 1.0).ln()
            }
            Objective::Log => {
                if base_score <= 0.0 {
                    return None;
                }
                base_score.ln()
            }
        };
        margin.is_finite().then_some(margin)
    }
}

/// Reads `base_score`: a number, a string holding one (`"5E-1"`), or XGBoost 3's vector form
/// (`"[5.008E-1]"`, one entry per output); returns one margin per output.
fn base_margins(
    at: At<'_>,
    n_outputs: usize,
    objective: Objective,
) -> Result<Vec<f64>, ImportError> {
    let values: Vec<f64> = match at.value {
        Value::Number(n) => vec![n.as_f64().unwrap_or(f64::NAN)],
        Value::String(s) => {
            let inner = s.trim();
            let inner = inner
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(inner);
            inner
                .split(',')
                .map(|p| {
                    p.trim()
                        .parse::<f64>()
                        .map_err(|_| at.err(format!("cannot read {p:?} as a number in {s:?}")))
                })
                .collect::<Result<_, _>>()?
        }
        _ => return Err(at.err("expected a number or a string holding numbers")),
    };
    let values = match values.len() {
        1 => vec![values[0]; n_outputs],
        n if n == n_outputs => values,
        n => {
            return Err(at.err(format!(
                "has {n} values, but the model has {n_outputs} outputs"
            )));
        }
    };
    values
        .iter()
        .map(|&v| {
            objective
                .to_margin(v)
                .ok_or_else(|| at.err(format!("{v} is not a valid base score for this objective")))
        })
        .collect()
}

/// Feature names and kinds: from the model when it records them, else `f0`, `f1`, ….
fn feature_list(
    learner: &At<'_>,
    gbtree: &At<'_>,
    n_features: usize,
) -> Result<Vec<Feature>, ImportError> {
    let names = match learner.opt("feature_names") {
        Some(v) => v.strings()?,
        None => Vec::new(),
    };
    let names = if names.is_empty() {
        (0..n_features).map(|i| format!("f{i}")).collect()
    } else if names.len() != n_features {
        return Err(ImportError::field(
            "learner.feature_names",
            format!("has {} names, but num_feature is {n_features}", names.len()),
        ));
    } else {
        names
    };
    let types = match learner.opt("feature_types") {
        Some(v) => v.strings()?,
        None => Vec::new(),
    };
    if !types.is_empty() && types.len() != n_features {
        return Err(ImportError::field(
            "learner.feature_types",
            format!("has {} types, but num_feature is {n_features}", types.len()),
        ));
    }
    let category_names = match gbtree.opt("cats") {
        Some(cats) => category_names(cats, n_features)?,
        None => vec![None; n_features],
    };
    let mut features = Vec::with_capacity(n_features);
    for (i, name) in names.into_iter().enumerate() {
        let kind = match types.get(i).map(String::as_str) {
            Some("c") => FeatureKind::Categorical {
                categories: category_names[i].clone(),
            },
            Some("q" | "float" | "int" | "i") | None => FeatureKind::Numeric,
            Some(other) => {
                return Err(ImportError::field(
                    format!("learner.feature_types[{i}]"),
                    format!("unknown feature type {other:?}"),
                ));
            }
        };
        features.push(Feature { name, kind });
    }
    Ok(features)
}

/// XGBoost 3's category encoder (`cats.enc`): for each feature, its category names (strings are
/// stored as UTF-8 bytes cut by `offsets`; numeric categories as plain values).
fn category_names(
    cats: At<'_>,
    n_features: usize,
) -> Result<Vec<Option<Vec<String>>>, ImportError> {
    let Some(enc) = cats.opt("enc") else {
        return Ok(vec![None; n_features]);
    };
    let enc_at = enc;
    let entries = enc_at.array()?;
    if entries.is_empty() {
        return Ok(vec![None; n_features]);
    }
    if entries.len() != n_features {
        return Err(enc_at.err(format!(
            "has {} entries, but num_feature is {n_features}",
            entries.len()
        )));
    }
    let mut out = Vec::with_capacity(n_features);
    for (i, entry) in entries.iter().enumerate() {
        let path = format!("{}[{i}]", enc_at.path());
        let at = At::root(entry);
        let wrap = |e: ImportError| match e {
            ImportError::Field { path: p, message } => {
                ImportError::field(format!("{path}.{p}"), message)
            }
            other => other,
        };
        let values = at.get("values").map_err(wrap)?;
        let values = values.floats(None).map_err(wrap)?;
        let offsets = match at.opt("offsets") {
            Some(o) => o.ints(None).map_err(wrap)?,
            None => Vec::new(),
        };
        if values.is_empty() {
            out.push(None);
        } else if offsets.is_empty() {
            out.push(Some(values.iter().map(|v| v.to_string()).collect()));
        } else {
            let mut names = Vec::with_capacity(offsets.len().saturating_sub(1));
            for w in offsets.windows(2) {
                let (a, b) = (w[0], w[1]);
                if a < 0 || b < a || b as usize > values.len() {
                    return Err(ImportError::field(
                        path,
                        format!("offsets {a}..{b} lie outside its {} values", values.len()),
                    ));
                }
                let bytes: Vec<u8> = values[a as usize..b as usize]
                    .iter()
                    .map(|&v| v as u8)
                    .collect();
                names.push(String::from_utf8_lossy(&bytes).into_owned());
            }
            out.push(Some(names));
        }
    }
    Ok(out)
}

/// The most outputs (classes or targets) a model may have.
const MAX_OUTPUTS: usize = 1 << 16;

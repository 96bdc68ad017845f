//! Sharded jobs: several analyzers explain disjoint slices of the rows, each storing its part
//! under `results/<cache-key>/parts/<index>/` and posting the part's manifest. When every part
//! is in, the scheduler merges their manifests — no data is copied: the result's table is the
//! list of part tables in row order, importance is the row-weighted mean of the parts', and the
//! additivity figures add up — and records the result. Progress of the shards is summed for the
//! job.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sextant_store::{
    AdditivitySummary, Artifacts, JobProgress, PartInfo, ResultManifest, TablePart, result_prefix,
};

use super::jobs::MAX_SHARDS;
use crate::error::{ApiError, ApiResult};

/// Checks a part's place in its job.
pub fn check(part: &PartInfo) -> ApiResult<()> {
    if part.count == 0 || part.count > MAX_SHARDS || part.index >= part.count {
        return Err(ApiError::bad_request(format!(
            "part {} of {} is not a valid shard",
            part.index, part.count
        )));
    }
    Ok(())
}

/// The parts of `count` stored for a result so far, by index.
async fn stored_parts(
    artifacts: &Artifacts,
    cache_key: &str,
    count: u32,
) -> ApiResult<BTreeMap<u32, ResultManifest>> {
    let prefix = format!("{}/parts/", result_prefix(cache_key));
    let mut parts = BTreeMap::new();
    for key in artifacts.list(&prefix).await? {
        if !key.ends_with("/manifest.json") {
            continue;
        }
        let bytes = artifacts.get_bytes(&key).await?;
        let Ok(manifest) = serde_json::from_slice::<ResultManifest>(&bytes) else {
            tracing::warn!(%key, "ignoring an unreadable part manifest");
            continue;
        };
        // Parts of an earlier attempt split another way cover other rows: only the same split.
        if let Some(part) = manifest.part
            && part.count == count
        {
            parts.insert(part.index, manifest);
        }
    }
    Ok(parts)
}

/// After a part is stored: the merged result when every part of its job is in.
pub async fn merge_when_complete(
    artifacts: &Artifacts,
    cache_key: &str,
    count: u32,
) -> ApiResult<Option<ResultManifest>> {
    let parts = stored_parts(artifacts, cache_key, count).await?;
    if parts.len() < count as usize {
        return Ok(None);
    }
    let parts: Vec<ResultManifest> = parts.into_values().collect();
    let mut importance = Vec::new();
    for part in &parts {
        if let Some(key) = &part.importance {
            let doc: Value = serde_json::from_slice(&artifacts.get_bytes(key).await?)
                .map_err(|e| ApiError::internal(format!("{key}: {e}")))?;
            importance.push((part.rows, doc));
        }
    }
    let prefix = result_prefix(cache_key);
    let mut merged = merge_manifests(&parts);
    if !importance.is_empty() {
        let key = format!("{prefix}/importance.json");
        let doc = merge_importance(&importance);
        artifacts
            .put_bytes(&key, serde_json::to_vec_pretty(&doc).expect("JSON").into())
            .await?;
        merged.importance = Some(key);
    }
    artifacts
        .put_bytes(
            &format!("{prefix}/manifest.json"),
            serde_json::to_vec_pretty(&merged).expect("JSON").into(),
        )
        .await?;
    Ok(Some(merged))
}

/// One manifest from the parts' (in index order).
fn merge_manifests(parts: &[ResultManifest]) -> ResultManifest {
    let first = &parts[0];
    let additivity = parts
        .iter()
        .filter_map(|p| p.additivity)
        .reduce(|a, b| AdditivitySummary {
            checked: a.checked + b.checked,
            failing: a.failing + b.failing,
            worst_abs: a.worst_abs.max(b.worst_abs),
        });
    let table_parts: Vec<TablePart> = parts
        .iter()
        .map(|p| TablePart {
            table: p.table.clone(),
            first_row: p.part.map_or(0, |i| i.first_row),
            rows: p.rows,
        })
        .collect();
    ResultManifest {
        version: first.version,
        kind: first.kind,
        cache_key: first.cache_key.clone(),
        rows: parts.iter().map(|p| p.rows).sum(),
        table: first.table.clone(),
        columns: first.columns.clone(),
        metrics: None,
        importance: None,
        method: first.method,
        additivity,
        algorithm_version: first.algorithm_version.clone(),
        seconds: parts.iter().map(|p| p.seconds).fold(0.0, f64::max),
        part: None,
        parts: table_parts,
    }
}

/// Global importance of the whole from the parts' (each a mean over its rows): row-weighted
/// means, sorted by mean |φ| again.
pub fn merge_importance(parts: &[(u64, Value)]) -> Value {
    let total: u64 = parts.iter().map(|(rows, _)| rows).sum();
    let weight = |rows: u64| rows as f64 / total.max(1) as f64;
    // feature → (mean_abs, mean, mean_abs_by_class), in the first part's order.
    let mut order: Vec<String> = Vec::new();
    let mut sums: BTreeMap<String, (f64, f64, Vec<f64>)> = BTreeMap::new();
    for (rows, doc) in parts {
        let w = weight(*rows);
        for entry in doc["features"].as_array().into_iter().flatten() {
            let name = entry["feature"].as_str().unwrap_or_default().to_string();
            let sum = sums.entry(name.clone()).or_insert_with(|| {
                order.push(name);
                (0.0, 0.0, Vec::new())
            });
            sum.0 += w * entry["mean_abs"].as_f64().unwrap_or(0.0);
            sum.1 += w * entry["mean"].as_f64().unwrap_or(0.0);
            if let Some(by_class) = entry["mean_abs_by_class"].as_array() {
                sum.2.resize(by_class.len(), 0.0);
                for (s, v) in sum.2.iter_mut().zip(by_class) {
                    *s += w * v.as_f64().unwrap_or(0.0);
                }
            }
        }
    }
    let mut features: Vec<Value> = order
        .iter()
        .map(|name| {
            let (mean_abs, mean, by_class) = &sums[name];
            let mut entry = json!({"feature": name, "mean_abs": mean_abs, "mean": mean});
            if !by_class.is_empty() {
                entry["mean_abs_by_class"] = json!(by_class);
            }
            entry
        })
        .collect();
    sort_importance(&mut features);
    let mut merged = parts.first().map(|(_, d)| d.clone()).unwrap_or(json!({}));
    merged["rows"] = json!(total);
    merged["features"] = json!(features);
    merged["shards"] = json!(parts.len());
    merged
}

/// Orders importance entries by mean |φ|, largest first.
pub fn sort_importance(features: &mut [Value]) {
    features.sort_by(|a, b| {
        b["mean_abs"]
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&a["mean_abs"].as_f64().unwrap_or(0.0))
    });
}

/// The job's progress from its shards' (a shard not heard from yet counts as not started).
pub fn sum_progress(shards: &[Option<JobProgress>]) -> JobProgress {
    let heard: Vec<&JobProgress> = shards.iter().flatten().collect();
    let rows_total = if heard.len() == shards.len() {
        heard.iter().map(|p| p.rows_total).sum::<Option<u64>>()
    } else {
        None
    };
    let slowest = heard.iter().min_by(|a, b| a.percent.total_cmp(&b.percent));
    JobProgress {
        phase: match slowest {
            Some(p) if heard.len() == shards.len() => p.phase.clone(),
            _ => "loading".into(),
        },
        rows_done: heard.iter().map(|p| p.rows_done).sum(),
        rows_total,
        percent: heard.iter().map(|p| p.percent).sum::<f64>() / shards.len().max(1) as f64,
        eta_seconds: if heard.len() == shards.len() {
            heard.iter().filter_map(|p| p.eta_seconds).reduce(f64::max)
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn importance_is_the_row_weighted_mean() {
        let a = json!({"method": null, "rows": 300, "features": [
            {"feature": "x", "mean_abs": 1.0, "mean": 0.5},
            {"feature": "y", "mean_abs": 2.0, "mean": -1.0},
        ]});
        let b = json!({"method": null, "rows": 100, "features": [
            {"feature": "y", "mean_abs": 6.0, "mean": 3.0},
            {"feature": "x", "mean_abs": 5.0, "mean": 0.5},
        ]});
        let m = merge_importance(&[(300, a), (100, b)]);
        assert_eq!(m["rows"], 400);
        assert_eq!(m["features"][0]["feature"], "y");
        assert_eq!(m["features"][0]["mean_abs"], 3.0);
        assert_eq!(m["features"][0]["mean"], 0.0);
        assert_eq!(m["features"][1]["mean_abs"], 2.0);
        assert_eq!(m["features"][1]["mean"], 0.5);
    }

    #[test]
    fn progress_adds_up_over_shards() {
        let p = |done, total, percent| {
            Some(JobProgress {
                phase: "computing".into(),
                rows_done: done,
                rows_total: Some(total),
                percent,
                eta_seconds: Some(percent),
            })
        };
        let all = sum_progress(&[p(50, 100, 50.0), p(100, 100, 100.0)]);
        assert_eq!((all.rows_done, all.rows_total), (150, Some(200)));
        assert_eq!(all.percent, 75.0);
        assert_eq!(all.eta_seconds, Some(100.0));
        let partial = sum_progress(&[p(50, 100, 50.0), None]);
        assert_eq!((partial.rows_total, partial.percent), (None, 25.0));
        assert_eq!(partial.phase, "loading");
    }
}

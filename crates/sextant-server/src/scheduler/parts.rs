//! Sharded jobs: several analyzers explain disjoint slices of the rows, each storing its part
//! under `results/<cache-key>/parts/<index>/` and posting the part's manifest. When every part
//! is in, the scheduler merges their manifests — no data is copied: the result's table is the
//! list of part tables in row order, the documents are merged by the job's kind (`Analysis::merge`:
//! importance is the row-weighted mean of the parts'), and the
//! additivity figures add up — and records the result. Progress of the shards is summed for the
//! job.

use std::collections::BTreeMap;

use sextant_analyzer::{Documents, analysis};
use sextant_api::{
    AdditivitySummary, JobProgress, PartInfo, ResultManifest, TablePart, result_prefix,
};
use sextant_store::Artifacts;

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
    let mut documents = Vec::with_capacity(parts.len());
    for part in &parts {
        documents.push(Documents {
            drift: read_document(artifacts, part.drift.as_deref()).await?,
            metrics: read_document(artifacts, part.metrics.as_deref()).await?,
            importance: read_document(artifacts, part.importance.as_deref()).await?,
        });
    }
    let merged_documents = analysis(parts[0].kind)
        .merge(&documents)
        .map_err(ApiError::internal)?;
    let prefix = result_prefix(cache_key);
    let mut merged = merge_manifests(&parts, analysis(parts[0].kind).shards_rows());
    if let Some(doc) = &merged_documents.metrics {
        merged.metrics =
            Some(write_document(artifacts, &format!("{prefix}/metrics.json"), doc).await?);
    }
    if let Some(doc) = &merged_documents.drift {
        merged.drift = Some(write_document(artifacts, &format!("{prefix}/drift.json"), doc).await?);
    }
    if let Some(doc) = &merged_documents.importance {
        merged.importance =
            Some(write_document(artifacts, &format!("{prefix}/importance.json"), doc).await?);
    }
    artifacts
        .put_bytes(
            &format!("{prefix}/manifest.json"),
            serde_json::to_vec_pretty(&merged).expect("JSON").into(),
        )
        .await?;
    Ok(Some(merged))
}

/// A stored JSON document, if the manifest names one.
async fn read_document<T: serde::de::DeserializeOwned>(
    artifacts: &Artifacts,
    key: Option<&str>,
) -> ApiResult<Option<T>> {
    let Some(key) = key else {
        return Ok(None);
    };
    let doc = serde_json::from_slice(&artifacts.get_bytes(key).await?)
        .map_err(|e| ApiError::internal(format!("{key}: {e}")))?;
    Ok(Some(doc))
}

/// Stores a JSON document at `key`; returns the key.
async fn write_document(
    artifacts: &Artifacts,
    key: &str,
    doc: &impl serde::Serialize,
) -> ApiResult<String> {
    let bytes = serde_json::to_vec_pretty(doc).map_err(ApiError::internal)?;
    artifacts.put_bytes(key, bytes.into()).await?;
    Ok(key.to_string())
}

/// One manifest from the parts' (in index order). Parts of a kind that shards its columns
/// (`shards_rows` false) each read every row: the result's rows are the first part's, and each
/// part's table holds its own columns' rows.
fn merge_manifests(parts: &[ResultManifest], shards_rows: bool) -> ResultManifest {
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
        drift: None,
        version: first.version,
        kind: first.kind,
        cache_key: first.cache_key.clone(),
        rows: if shards_rows {
            parts.iter().map(|p| p.rows).sum()
        } else {
            first.rows
        },
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

//! The importance of a project's feature groups, from a stored influences table: on each row
//! the influences of a group's members are summed (per output), and the group's importance is
//! the mean of that sum's absolute value (and of the sum itself), as a feature's is of its own.

use sextant_api::{GroupImportance, Importance, ImportanceSums, StoredResult};

use super::reading::{blocking, local_tables, paths, scan};
use super::segments::{InSegment, InfluenceLayout, holds};
use crate::Deps;
use crate::error::{ApiError, ApiResult};

/// Each of the project's feature groups' importance over the result's rows (or the segment's),
/// largest first; empty when the project has none.
pub(super) async fn group_importance(
    deps: &Deps,
    project: &str,
    result: &StoredResult,
    whole: &Importance,
    segment: Option<&InSegment>,
) -> ApiResult<Vec<GroupImportance>> {
    let groups = deps.metastore.feature_groups(project).await?;
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let layout = InfluenceLayout::of(whole);
    let (names, outputs) = (&layout.names, layout.outputs);
    // Each group's members, as positions among the table's feature columns.
    let members: Vec<Vec<usize>> = groups
        .iter()
        .map(|g| {
            g.features
                .iter()
                .map(|f| {
                    names.iter().position(|n| n == f).ok_or_else(|| {
                        ApiError::invalid(format!(
                            "feature group {:?}: this result has no influences of feature {f:?}",
                            g.name
                        ))
                    })
                })
                .collect()
        })
        .collect::<ApiResult<_>>()?;
    let wanted = layout.columns("");
    let nf = names.len();
    let n_groups = groups.len();
    let copies = local_tables(deps, result).await?;
    let inside = segment.map(InSegment::rows);
    let (sums, rows) = blocking(move || {
        let mut sums = ImportanceSums::new(n_groups, outputs, false);
        let mut summed = vec![0.0; n_groups];
        let mut rows = 0u64;
        scan(&paths(&copies), &wanted, |cells| {
            if inside
                .as_ref()
                .is_some_and(|inside| !holds(inside, cells[0]))
            {
                return;
            }
            rows += 1;
            for k in 0..outputs {
                let phi = &cells[1 + k * nf..1 + (k + 1) * nf];
                for (total, positions) in summed.iter_mut().zip(&members) {
                    *total = positions.iter().map(|&j| phi[j]).sum();
                }
                sums.add(k, &summed);
            }
        })?;
        Ok((sums, rows))
    })
    .await?;
    let group_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
    let mut out: Vec<GroupImportance> = sums
        .features(&group_names, rows)
        .into_iter()
        .zip(groups)
        .map(|(f, g)| GroupImportance {
            group: g.name,
            features: g.features,
            mean: f.mean,
            mean_abs: f.mean_abs,
            mean_abs_by_class: f.mean_abs_by_class,
        })
        .collect();
    out.sort_by(|a, b| b.mean_abs.total_cmp(&a.mean_abs));
    Ok(out)
}

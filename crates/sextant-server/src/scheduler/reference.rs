//! A drift job's reference dataset, held to the job's data before the job is made.

use std::collections::BTreeSet;

use sextant_api::{Dataset, Project};

use crate::error::{ApiError, ApiResult};

/// Checks that a drift job's two datasets can be compared: both have rows, and the same
/// columns but for the label and the id (production data often lacks the label).
pub(super) fn comparable(
    project: &Project,
    reference: &Dataset,
    current: &Dataset,
) -> ApiResult<()> {
    for d in [reference, current] {
        if d.summary.rows == 0 {
            return Err(ApiError::invalid(format!(
                "dataset {:?} has no rows: drift compares the rows of two datasets",
                d.name
            )));
        }
    }
    let s = &project.schema;
    let compared = |d: &Dataset| -> BTreeSet<String> {
        d.summary
            .columns
            .iter()
            .filter(|c| Some(*c) != s.label.as_ref() && Some(*c) != s.id.as_ref())
            .cloned()
            .collect()
    };
    let (r, c) = (compared(reference), compared(current));
    if r != c {
        let list = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
            a.difference(b)
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (only_r, only_c) = (list(&r, &c), list(&c, &r));
        let mut parts = Vec::new();
        if !only_r.is_empty() {
            parts.push(format!("only {:?} has {only_r}", reference.name));
        }
        if !only_c.is_empty() {
            parts.push(format!("only {:?} has {only_c}", current.name));
        }
        return Err(ApiError::invalid(format!(
            "datasets {:?} and {:?} have different columns ({}): drift compares datasets of the same columns, so upload them with the same ones",
            reference.name,
            current.name,
            parts.join("; ")
        )));
    }
    Ok(())
}

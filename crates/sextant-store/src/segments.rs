//! Segments and feature groups in the metastore: a project's named filter expressions and its
//! named sets of features.

use async_trait::async_trait;

use crate::error::StoreResult;
use sextant_api::{FeatureGroup, Segment};

/// A project's segments and feature groups.
#[async_trait]
pub trait Segments: Send + Sync {
    /// Adds a segment; a taken name is a conflict, an unknown project not found.
    async fn add_segment(&self, segment: &Segment) -> StoreResult<()>;
    /// A segment by name.
    async fn segment(&self, project: &str, name: &str) -> StoreResult<Segment>;
    /// A project's segments, by group (ungrouped first), then name.
    async fn segments(&self, project: &str) -> StoreResult<Vec<Segment>>;
    /// Removes a segment and answers it.
    async fn delete_segment(&self, project: &str, name: &str) -> StoreResult<Segment>;

    /// Adds a feature group; a taken name is a conflict, an unknown project not found.
    async fn add_feature_group(&self, group: &FeatureGroup) -> StoreResult<()>;
    /// A project's feature groups, by name.
    async fn feature_groups(&self, project: &str) -> StoreResult<Vec<FeatureGroup>>;
    /// Removes a feature group and answers it.
    async fn delete_feature_group(&self, project: &str, name: &str) -> StoreResult<FeatureGroup>;
}

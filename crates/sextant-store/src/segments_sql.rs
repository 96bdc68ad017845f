//! The SQL backends' [`Segments`](crate::Segments) (segments and feature groups): written once, expanded per database by
//! [`sql_segments!`] beside [`sql_metastore!`](crate::sql::sql_metastore) (whose row helpers it
//! uses).

/// Expands [`Segments`](crate::Segments) for `$store` (a `pool` field) with rows `$row`.
macro_rules! sql_segments {
    ($store:ty, $row:ty) => {
        fn segment_row(row: &$row) -> StoreResult<Segment> {
            Ok(Segment {
                project: get(row, "project")?,
                name: get(row, "name")?,
                expression: get(row, "expression")?,
                group: get(row, "segment_group")?,
                protected: get::<i64>(row, "protected")? != 0,
                created_at: time(get(row, "created_at")?),
                created_by: get(row, "created_by")?,
            })
        }

        fn feature_group_row(row: &$row) -> StoreResult<FeatureGroup> {
            Ok(FeatureGroup {
                project: get(row, "project")?,
                name: get(row, "name")?,
                features: parse("feature group", &get::<String>(row, "features")?)?,
                created_at: time(get(row, "created_at")?),
                created_by: get(row, "created_by")?,
            })
        }

        #[async_trait]
        impl Segments for $store {
            async fn add_segment(&self, segment: &Segment) -> StoreResult<()> {
                self.project(&segment.project).await?;
                sqlx::query(
                    "INSERT INTO segments
             (project, name, expression, segment_group, protected, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&segment.project)
                .bind(&segment.name)
                .bind(&segment.expression)
                .bind(&segment.group)
                .bind(i64::from(segment.protected))
                .bind(millis(segment.created_at))
                .bind(&segment.created_by)
                .execute(&self.pool)
                .await
                .map_err(|e| {
                    taken(
                        e,
                        format!(
                            "project {:?} already has a segment named {:?}",
                            segment.project, segment.name
                        ),
                    )
                })?;
                Ok(())
            }

            async fn segment(&self, project: &str, name: &str) -> StoreResult<Segment> {
                let row = sqlx::query("SELECT * FROM segments WHERE project = $1 AND name = $2")
                    .bind(project)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db("read a segment"))?
                    .ok_or_else(|| not_found("segment", name))?;
                segment_row(&row)
            }

            async fn segments(&self, project: &str) -> StoreResult<Vec<Segment>> {
                self.project(project).await?;
                sqlx::query(
                    "SELECT * FROM segments WHERE project = $1
             ORDER BY COALESCE(segment_group, ''), name",
                )
                .bind(project)
                .fetch_all(&self.pool)
                .await
                .map_err(db("list segments"))?
                .iter()
                .map(segment_row)
                .collect()
            }

            async fn delete_segment(&self, project: &str, name: &str) -> StoreResult<Segment> {
                let segment = self.segment(project, name).await?;
                sqlx::query("DELETE FROM segments WHERE project = $1 AND name = $2")
                    .bind(project)
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(db("delete a segment"))?;
                Ok(segment)
            }

            async fn add_feature_group(&self, group: &FeatureGroup) -> StoreResult<()> {
                self.project(&group.project).await?;
                sqlx::query(
                    "INSERT INTO feature_groups (project, name, features, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&group.project)
                .bind(&group.name)
                .bind(json(&group.features))
                .bind(millis(group.created_at))
                .bind(&group.created_by)
                .execute(&self.pool)
                .await
                .map_err(|e| {
                    taken(
                        e,
                        format!(
                            "project {:?} already has a feature group named {:?}",
                            group.project, group.name
                        ),
                    )
                })?;
                Ok(())
            }

            async fn feature_groups(&self, project: &str) -> StoreResult<Vec<FeatureGroup>> {
                self.project(project).await?;
                sqlx::query("SELECT * FROM feature_groups WHERE project = $1 ORDER BY name")
                    .bind(project)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db("list feature groups"))?
                    .iter()
                    .map(feature_group_row)
                    .collect()
            }

            async fn delete_feature_group(
                &self,
                project: &str,
                name: &str,
            ) -> StoreResult<FeatureGroup> {
                let row =
                    sqlx::query("SELECT * FROM feature_groups WHERE project = $1 AND name = $2")
                        .bind(project)
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db("read a feature group"))?
                        .ok_or_else(|| not_found("feature group", name))?;
                let group = feature_group_row(&row)?;
                sqlx::query("DELETE FROM feature_groups WHERE project = $1 AND name = $2")
                    .bind(project)
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(db("delete a feature group"))?;
                Ok(group)
            }
        }
    };
}

pub(crate) use sql_segments;

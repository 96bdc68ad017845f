//! Deleting a project, for the SQL backends: expanded per database by [`sql_projects!`] beside
//! [`sql_metastore!`](crate::sql::sql_metastore), whose row helpers it uses.

/// Expands the project deletion of `$store` (a `pool` field).
macro_rules! sql_projects {
    ($store:ty) => {
impl $store {
    /// [`Metastore::delete_project`](crate::Metastore::delete_project).
    async fn remove_project(&self, name: &str) -> StoreResult<ProjectRemains> {
        let mut tx = self.pool.begin_with(DIALECT.begin_write).await.map_err(db("begin"))?;
        sqlx::query(AssertSqlSafe(format!(
            "SELECT name FROM projects WHERE name = $1{}",
            DIALECT.update_lock
        )))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db("read before delete"))?
        .ok_or_else(|| not_found("project", name))?;
        let active = sqlx::query(AssertSqlSafe(format!(
            "SELECT id FROM jobs WHERE project = $1 AND state IN {ACTIVE} ORDER BY created_at"
        )))
        .bind(name)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("look up jobs"))?;
        refuse_while_running(&active, &format!("project {name:?} has"))?;
        let models = sqlx::query("SELECT * FROM models WHERE project = $1")
            .bind(name)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("list models"))?
            .iter()
            .map(model_row)
            .collect::<StoreResult<Vec<_>>>()?;
        let datasets = sqlx::query("SELECT * FROM datasets WHERE project = $1")
            .bind(name)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("list datasets"))?
            .iter()
            .map(dataset_row)
            .collect::<StoreResult<Vec<_>>>()?;
        // Results no other project's job refers to go with the project.
        let results = sqlx::query(
            "SELECT DISTINCT cache_key FROM jobs WHERE project = $1 AND cache_key NOT IN
             (SELECT cache_key FROM jobs WHERE project <> $1)",
        )
        .bind(name)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("list results"))?
        .iter()
        .map(|r| get::<String>(r, "cache_key"))
        .collect::<StoreResult<Vec<_>>>()?;
        for statement in [
            "DELETE FROM job_inputs WHERE project = $1",
            "DELETE FROM jobs WHERE project = $1",
            "DELETE FROM models WHERE project = $1",
            "DELETE FROM datasets WHERE project = $1",
            "DELETE FROM members WHERE project = $1",
            "DELETE FROM segments WHERE project = $1",
            "DELETE FROM feature_groups WHERE project = $1",
            "DELETE FROM projects WHERE name = $1",
        ] {
            sqlx::query(statement)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db("delete a project"))?;
        }
        for key in &results {
            sqlx::query("DELETE FROM results WHERE cache_key = $1")
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db("delete a result"))?;
        }
        tx.commit().await.map_err(db("commit"))?;
        Ok(ProjectRemains {
            models,
            datasets,
            results,
        })
    }
}
    };
}

pub(crate) use sql_projects;

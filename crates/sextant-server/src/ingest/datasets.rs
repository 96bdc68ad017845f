//! Dataset uploads: a CSV or Parquet file, checked against the project's schema (columns, types,
//! label values) before it is stored.

use std::path::Path;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use sextant_api::{
    Dataset, DatasetRole, DatasetSummary, FeatureType, Project, Role, Task, dataset_key,
};
use sextant_data::{TableFormat, open_table};
use sextant_model::{Feature, FeatureKind};
use utoipa::ToSchema;

use super::forget_content;
use super::upload::{self, check_name};
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiMultipart, ApiPath, ApiResult};

/// The multipart form of a dataset upload.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct DatasetUpload {
    /// The dataset's name in the project.
    #[schema(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    name: String,
    /// train, test, production, background or custom (default custom).
    #[serde(default)]
    #[schema(value_type = DatasetRole)]
    role: Option<DatasetRole>,
    /// The table: a `.csv` (with a header) or `.parquet` file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

fn parse_role(text: Option<&String>) -> ApiResult<DatasetRole> {
    match text.map(|s| s.trim()) {
        None | Some("") => Ok(DatasetRole::Custom),
        Some(role) => serde_json::from_value(json!(role)).map_err(|_| {
            ApiError::bad_request(format!(
                "role {role:?} is not one of train, test, production, background, custom"
            ))
        }),
    }
}

/// Uploads a dataset.
#[utoipa::path(post, path = "/api/v1/projects/{project}/datasets", tag = "ingest",
    params(("project" = String, Path)),
    request_body(content_type = "multipart/form-data", content = inline(DatasetUpload)),
    responses((status = 201, body = Dataset), (status = 409, body = crate::error::ErrorBody),
              (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn upload_dataset(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiMultipart(multipart): ApiMultipart,
) -> ApiResult<(StatusCode, Json<Dataset>)> {
    caller.require(&deps, &project, Role::Editor).await?;
    let project = deps.metastore.project(&project).await?;
    let upload = upload::receive(
        multipart,
        &deps.config.scratch_dir(),
        deps.config.max_upload_bytes,
        &["name", "role"],
    )
    .await?;
    let name = upload.field("name")?.to_string();
    check_name("dataset", &name)?;
    let role = parse_role(upload.fields.get("role"))?;
    if deps.metastore.dataset(&project.name, &name).await.is_ok() {
        return Err(ApiError::from(sextant_store::StoreError::Conflict(
            format!(
                "project {:?} already has a dataset named {name:?}",
                project.name
            ),
        )));
    }
    let file_name = upload.file.file_name.clone();
    let format = match TableFormat::from_path(Path::new(&file_name)) {
        Ok(TableFormat::Csv) => "csv",
        Ok(TableFormat::Parquet) => "parquet",
        Err(_) => {
            return Err(ApiError::invalid(format!(
                "{file_name:?}: unknown table format (upload a .csv or .parquet file)"
            )));
        }
    };
    // The readers pick the format from the extension, so give the staged file one.
    let typed_path = upload.file.path.with_extension(format);
    std::fs::rename(&upload.file.path, &typed_path).map_err(ApiError::internal)?;
    let staged = upload::StagedFile {
        path: tempfile::TempPath::try_from_path(typed_path).map_err(ApiError::internal)?,
        file_name: file_name.clone(),
        bytes: upload.file.bytes,
        sha256: upload.file.sha256.clone(),
    };
    let schema_project = project.clone();
    let path = staged.path.to_path_buf();
    let shown = file_name.clone();
    let checked =
        tokio::task::spawn_blocking(move || validate(&path, &shown, &schema_project, role))
            .await
            .map_err(ApiError::internal)??;
    let key = dataset_key(&staged.sha256, format);
    if !deps.artifacts.exists(&key).await? {
        deps.artifacts.put_file(&key, &staged.path).await?;
    }
    let dataset = Dataset {
        project: project.name.clone(),
        name,
        sha256: staged.sha256.clone(),
        summary: DatasetSummary {
            format: format.to_string(),
            role,
            rows: checked.rows,
            size_bytes: staged.bytes,
            has_label: checked.has_label,
            columns: checked.columns,
        },
        created_at: Utc::now(),
    };
    if let Err(e) = deps.metastore.add_dataset(&dataset).await {
        forget_content(&deps, &dataset.sha256, &key).await;
        return Err(e.into());
    }
    tracing::info!(project = %dataset.project, dataset = %dataset.name, rows = checked.rows, "dataset stored");
    Ok((StatusCode::CREATED, Json(dataset)))
}

struct Checked {
    rows: u64,
    has_label: bool,
    columns: Vec<String>,
}

/// Reads the whole table once: every feature must be present and readable as its type, every
/// value finite or missing, every label value valid for the task.
fn validate(path: &Path, shown: &str, project: &Project, role: DatasetRole) -> ApiResult<Checked> {
    let schema = &project.schema;
    let columns = sextant_data::table_columns(path).map_err(|e| {
        ApiError::invalid(e.to_string().replacen(
            &path.display().to_string(),
            &format!("{shown:?}"),
            1,
        ))
    })?;
    let missing: Vec<&str> = schema
        .features
        .iter()
        .map(|f| f.name.as_str())
        .filter(|name| !columns.iter().any(|c| c == name))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::invalid(format!(
            "{shown:?} lacks the project's feature column(s) {}",
            missing.join(", ")
        ))
        .with_details(json!({ "missing_columns": missing, "columns": columns })));
    }
    let label = schema
        .label
        .as_ref()
        .filter(|l| columns.iter().any(|c| c == *l));
    if label.is_none()
        && let Some(l) = &schema.label
        && matches!(role, DatasetRole::Train | DatasetRole::Test)
    {
        return Err(ApiError::invalid(format!(
            "{shown:?} is a {} dataset but lacks the label column {l:?}",
            if role == DatasetRole::Train {
                "train"
            } else {
                "test"
            }
        )));
    }
    // Categorical columns whose categories the schema does not restrict may hold any text;
    // everything else is read as the analyzers will read it.
    let mut features: Vec<Feature> = Vec::new();
    for f in &schema.features {
        match (f.kind, &f.categories) {
            (FeatureType::Numeric, _) => features.push(Feature {
                name: f.name.clone(),
                kind: FeatureKind::Numeric,
            }),
            (FeatureType::Categorical, Some(names)) => features.push(Feature {
                name: f.name.clone(),
                kind: FeatureKind::Categorical {
                    categories: Some(names.clone()),
                },
            }),
            (FeatureType::Categorical, None) => {}
        }
    }
    let n_checked = features.len();
    let id = schema
        .id
        .as_ref()
        .filter(|i| columns.iter().any(|c| c == *i));
    for extra in label.into_iter().chain(id) {
        features.push(Feature {
            name: extra.to_string(),
            kind: FeatureKind::Numeric,
        });
    }
    let data_error = |e: sextant_data::DataError| {
        ApiError::invalid(e.to_string().replacen(
            &path.display().to_string(),
            &format!("{shown:?}"),
            1,
        ))
    };
    let mut reader = open_table(path, &features, 8192).map_err(data_error)?;
    let width = features.len();
    let mut rows = 0u64;
    let mut labelled = 0u64;
    while let Some(batch) = reader.next_batch().map_err(data_error)? {
        for r in 0..batch.n_rows {
            let row = &batch.values[r * width..(r + 1) * width];
            let line = rows + r as u64 + 1;
            if let Some(j) = row[..n_checked].iter().position(|v| v.is_infinite()) {
                return Err(ApiError::invalid(format!(
                    "{shown:?}: column {:?}, row {line}: infinite values are not accepted",
                    features[j].name
                )));
            }
            if let Some(l) = label {
                let y = row[n_checked];
                if !y.is_nan() {
                    check_label(schema.task, schema.classes, y).map_err(|why| {
                        ApiError::invalid(format!(
                            "{shown:?}: label column {l:?}, row {line}: {why}"
                        ))
                    })?;
                    labelled += 1;
                }
            }
        }
        rows += batch.n_rows as u64;
    }
    if rows == 0 {
        return Err(ApiError::invalid(format!("{shown:?} has no rows")));
    }
    Ok(Checked {
        rows,
        has_label: labelled > 0,
        columns,
    })
}

fn check_label(task: Task, classes: Option<u32>, y: f64) -> Result<(), String> {
    match task {
        Task::Regression if y.is_finite() => Ok(()),
        Task::Regression => Err(format!("{y} is not a finite number")),
        Task::Binary if y == 0.0 || y == 1.0 => Ok(()),
        Task::Binary => Err(format!("{y} is not 0 or 1")),
        Task::Multiclass => {
            let k = f64::from(classes.unwrap_or(0));
            if y >= 0.0 && y < k && y.fract() == 0.0 {
                Ok(())
            } else {
                Err(format!("{y} is not a class index 0…{}", k - 1.0))
            }
        }
    }
}

/// Lists a project's datasets.
#[utoipa::path(get, path = "/api/v1/projects/{project}/datasets", tag = "ingest",
    params(("project" = String, Path)), responses((status = 200, body = Vec<Dataset>)))]
pub async fn list_datasets(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ApiResult<Json<Vec<Dataset>>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    deps.metastore.project(&project).await?;
    Ok(Json(deps.metastore.datasets(&project).await?))
}

/// One dataset.
#[utoipa::path(get, path = "/api/v1/projects/{project}/datasets/{dataset}", tag = "ingest",
    params(("project" = String, Path), ("dataset" = String, Path)),
    responses((status = 200, body = Dataset), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_dataset(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, dataset)): ApiPath<(String, String)>,
) -> ApiResult<Json<Dataset>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    Ok(Json(deps.metastore.dataset(&project, &dataset).await?))
}

/// Deletes a dataset; refused (409) while an unfinished job reads it.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/datasets/{dataset}", tag = "ingest",
    params(("project" = String, Path), ("dataset" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn delete_dataset(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, dataset)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(&deps, &project, Role::Editor).await?;
    let removed = deps.metastore.delete_dataset(&project, &dataset).await?;
    forget_content(&deps, &removed.sha256, &removed.artifact_key()).await;
    Ok(StatusCode::NO_CONTENT)
}

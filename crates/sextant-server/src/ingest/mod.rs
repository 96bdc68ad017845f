//! The ingest service: projects, their segments and feature groups, and model and dataset
//! uploads (streamed, size-limited, validated against the project's schema, stored once per
//! content).

pub mod datasets;
pub mod groups;
pub mod members;
pub mod segments;
mod upload;

use std::collections::HashSet;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use sextant_api::{
    CreateProject, Member, Model, ModelSummary, Project, ProjectSchema, Role, ScoreType, Task,
    TreeSummary, model_key,
};
use sextant_import::ModelFormat;
use sextant_model::{FeatureKind, Link};
use utoipa::ToSchema;

pub use upload::check_name;

use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiMultipart, ApiPath, ApiResult};

/// Starts the ingest service: its routes, over the shared dependencies.
pub fn start_ingest(deps: Deps) -> Router {
    // Multipart framing adds a little to the file itself; the file's own limit is checked while
    // it streams, with a clearer error.
    // Only the two uploads take large bodies; every other body is JSON held in memory, under
    // the API's limit of JSON_BODY_LIMIT (set for every route in `compose`).
    let upload_limit = DefaultBodyLimit::max(
        usize::try_from(deps.config.max_upload_bytes.saturating_add(1 << 20)).unwrap_or(usize::MAX),
    );
    Router::new()
        .route("/api/v1/projects", get(list_projects).post(create_project))
        .route(
            "/api/v1/projects/{project}",
            get(get_project).delete(members::delete_project),
        )
        .route(
            "/api/v1/projects/{project}/members",
            get(members::list_members),
        )
        .route(
            "/api/v1/projects/{project}/members/{user}",
            axum::routing::put(members::grant_role).delete(members::revoke_role),
        )
        .route(
            "/api/v1/projects/{project}/models",
            get(list_models).post(upload_model.layer(upload_limit)),
        )
        .route(
            "/api/v1/projects/{project}/models/{model}",
            get(get_model).delete(delete_model),
        )
        .route(
            "/api/v1/projects/{project}/datasets",
            get(datasets::list_datasets).post(datasets::upload_dataset.layer(upload_limit)),
        )
        .route(
            "/api/v1/projects/{project}/datasets/{dataset}",
            get(datasets::get_dataset).delete(datasets::delete_dataset),
        )
        .route(
            "/api/v1/projects/{project}/segments",
            get(segments::list_segments).post(segments::add_segment),
        )
        .route(
            "/api/v1/projects/{project}/feature-groups",
            get(groups::list_feature_groups).post(groups::add_feature_group),
        )
        .route(
            "/api/v1/projects/{project}/feature-groups/{group}",
            axum::routing::delete(groups::delete_feature_group),
        )
        .route(
            "/api/v1/projects/{project}/segments/{segment}",
            get(segments::get_segment).delete(segments::delete_segment),
        )
        .with_state(deps)
}

/// The largest body of every route but the uploads (JSON, held in memory): a project's schema
/// with the most features allowed fits.
pub const JSON_BODY_LIMIT: usize = 1 << 20;

/// The most features a project's schema may list.
pub const MAX_FEATURES: usize = 10_000;

/// The longest name of a feature, label or id column, in bytes.
pub const MAX_COLUMN_NAME_BYTES: usize = 256;

/// The most classes a multiclass project may have.
const MAX_CLASSES: u32 = 65_535;

fn check_schema(schema: &ProjectSchema) -> ApiResult<()> {
    if schema.features.is_empty() {
        return Err(ApiError::invalid("the schema lists no features"));
    }
    if schema.features.len() > MAX_FEATURES {
        return Err(ApiError::invalid(format!(
            "the schema lists {} features: at most {MAX_FEATURES}",
            schema.features.len()
        )));
    }
    let columns = schema.features.iter().map(|f| &f.name);
    for name in columns.chain(schema.label.iter()).chain(schema.id.iter()) {
        if name.len() > MAX_COLUMN_NAME_BYTES {
            return Err(ApiError::invalid(format!(
                "column name {} is {} bytes long: at most {MAX_COLUMN_NAME_BYTES}",
                crate::error::quote(name),
                name.len()
            )));
        }
    }
    let mut seen = HashSet::new();
    for f in &schema.features {
        if f.name.is_empty() {
            return Err(ApiError::invalid("a feature has an empty name"));
        }
        if !seen.insert(f.name.as_str()) {
            return Err(ApiError::invalid(format!(
                "feature {:?} is listed twice",
                f.name
            )));
        }
    }
    for (what, column) in [("label", &schema.label), ("id", &schema.id)] {
        if let Some(c) = column
            && seen.contains(c.as_str())
        {
            return Err(ApiError::invalid(format!(
                "the {what} column {c:?} is also listed as a feature"
            )));
        }
    }
    if schema.label.is_some() && schema.label == schema.id {
        return Err(ApiError::invalid("the label and id columns are the same"));
    }
    match (schema.task, schema.classes) {
        (Task::Multiclass, Some(k)) if (3..=MAX_CLASSES).contains(&k) => Ok(()),
        (Task::Multiclass, Some(k)) if k > MAX_CLASSES => Err(ApiError::bad_request(format!(
            "\"classes\" is {k}: at most {MAX_CLASSES} classes"
        ))),
        (Task::Multiclass, _) => Err(ApiError::invalid(
            "a multiclass project needs \"classes\": the number of classes (at least 3)",
        )),
        (_, Some(_)) => Err(ApiError::invalid(
            "\"classes\" applies to multiclass projects only",
        )),
        (_, None) => Ok(()),
    }
}

/// Creates a project.
#[utoipa::path(post, path = "/api/v1/projects", tag = "ingest",
    request_body = CreateProject,
    responses((status = 201, body = Project), (status = 400, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn create_project(
    State(deps): State<Deps>,
    caller: Caller,
    ApiJson(request): ApiJson<CreateProject>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    check_name("project", &request.name)?;
    check_schema(&request.schema)?;
    let project = Project {
        name: request.name,
        schema: request.schema,
        created_at: Utc::now(),
    };
    // The creator owns the project (with authentication off there is no one to own it).
    let owner = caller.token_id.map(|_| Member {
        project: project.name.clone(),
        user: caller.name().to_string(),
        role: Role::Owner,
        granted_at: project.created_at,
        granted_by: None,
    });
    deps.metastore
        .create_project(&project, owner.as_ref())
        .await?;
    deps.auth.forget(caller.name());
    caller.concerns(&project.name);
    tracing::info!(project = %project.name, owner = %caller.name(), "project created");
    Ok((StatusCode::CREATED, Json(project)))
}

/// Lists projects.
#[utoipa::path(get, path = "/api/v1/projects", tag = "ingest",
    responses((status = 200, body = Vec<Project>)))]
pub async fn list_projects(
    State(deps): State<Deps>,
    caller: Caller,
) -> ApiResult<Json<Vec<Project>>> {
    let mut projects = deps.metastore.projects().await?;
    if let Some(visible) = caller.visible_projects(&deps).await? {
        projects.retain(|p| visible.contains(&p.name));
    }
    Ok(Json(projects))
}

/// One project.
#[utoipa::path(get, path = "/api/v1/projects/{project}", tag = "ingest",
    params(("project" = String, Path)),
    responses((status = 200, body = Project), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_project(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ApiResult<Json<Project>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    Ok(Json(deps.metastore.project(&project).await?))
}

/// The multipart form of a model upload.
#[derive(ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ModelUpload {
    /// The model's name in the project.
    #[schema(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$")]
    name: String,
    /// The file's format (default: recognised from its content).
    #[serde(default)]
    #[schema(value_type = String, pattern = "^(xgboost-json|lightgbm-text|onnx)$")]
    format: Option<String>,
    /// The model file: XGBoost JSON or LightGBM text.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Uploads a model: parsed and checked against the project's schema before it is stored.
#[utoipa::path(post, path = "/api/v1/projects/{project}/models", tag = "ingest",
    params(("project" = String, Path)),
    request_body(content_type = "multipart/form-data", content = inline(ModelUpload)),
    responses((status = 201, body = Model), (status = 409, body = crate::error::ErrorBody),
              (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
pub async fn upload_model(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiMultipart(multipart): ApiMultipart,
) -> ApiResult<(StatusCode, Json<Model>)> {
    caller.require(&deps, &project, Role::Editor).await?;
    let project = deps.metastore.project(&project).await?;
    let upload = upload::receive(
        multipart,
        &deps.config.scratch_dir(),
        deps.config.max_upload_bytes,
        &["name", "format"],
    )
    .await?;
    let name = upload.field("name")?.to_string();
    check_name("model", &name)?;
    if deps.metastore.model(&project.name, &name).await.is_ok() {
        return Err(ApiError::from(sextant_store::StoreError::Conflict(
            format!(
                "project {:?} already has a model named {name:?}",
                project.name
            ),
        )));
    }
    let format = match upload.fields.get("format").filter(|f| !f.is_empty()) {
        Some(name) => {
            Some(ModelFormat::from_name(name).map_err(|e| ApiError::bad_request(e.to_string()))?)
        }
        None => None,
    };
    let path = upload.file.path.to_path_buf();
    let file_name = upload.file.file_name.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        let bytes = std::fs::read(&path)?;
        Ok::<_, std::io::Error>(sextant_import::parse_model(&bytes, format))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?
    .map_err(|e| {
        ApiError::invalid(format!(
            "{file_name:?} is not a model Sextant can read: {e}"
        ))
    })?;
    let mut loaded = loaded;
    // An ONNX file that names no features reads the project's, in order, when the widths agree.
    sextant_import::name_positional_features(&mut loaded, &project.schema.feature_names());
    check_model(&project, &loaded)?;
    let summary = ModelSummary {
        format: loaded.info().format.to_string(),
        objective: loaded.info().objective.clone(),
        library_version: loaded.info().library_version.clone(),
        trees: loaded.tree_shape().map(|t| TreeSummary {
            trees: t.trees,
            leaves: t.leaves,
            max_depth: t.max_depth,
        }),
        outputs: loaded.n_outputs(),
        features: loaded.features().iter().map(|f| f.name.clone()).collect(),
        size_bytes: upload.file.bytes,
        cost_per_row: match &loaded {
            sextant_model::Model::Graph(g) => Some(g.cost_per_row()),
            sextant_model::Model::Trees(_) => None,
        },
        without_covers: loaded.trees().is_some_and(|f| !f.has_covers()),
    };
    let key = model_key(&upload.file.sha256);
    if !deps.artifacts.exists(&key).await? {
        deps.artifacts.put_file(&key, &upload.file.path).await?;
    }
    let model = Model {
        project: project.name.clone(),
        name,
        sha256: upload.file.sha256.clone(),
        summary,
        created_at: Utc::now(),
    };
    if let Err(e) = deps.metastore.add_model(&model).await {
        forget_content(&deps, &model.sha256, &key).await;
        return Err(e.into());
    }
    tracing::info!(project = %model.project, model = %model.name, sha256 = %model.sha256, "model stored");
    Ok((StatusCode::CREATED, Json(model)))
}

/// Removes stored content that no record refers to any more.
pub(crate) async fn forget_content(deps: &Deps, sha256: &str, key: &str) {
    match deps.metastore.content_in_use(sha256).await {
        Ok(false) => {
            if let Err(e) = deps.artifacts.delete(key).await {
                tracing::warn!(error = %e, key, "could not remove unused content");
            }
        }
        Ok(true) => {}
        Err(e) => tracing::warn!(error = %e, key, "could not check content use"),
    }
}

/// Checks that a model reads only the project's features, with matching kinds, and predicts
/// what the project's task needs.
fn check_model(project: &Project, model: &sextant_model::Model) -> ApiResult<()> {
    let schema = &project.schema;
    let mut unknown = Vec::new();
    let mut kind_mismatch = Vec::new();
    for f in model.features() {
        match schema.features.iter().find(|s| s.name == f.name) {
            None => unknown.push(f.name.clone()),
            Some(spec) => {
                let model_categorical = matches!(f.kind, FeatureKind::Categorical { .. });
                let schema_categorical = spec.kind == sextant_api::FeatureType::Categorical;
                if model_categorical != schema_categorical {
                    kind_mismatch.push(f.name.clone());
                }
            }
        }
    }
    if !unknown.is_empty() || !kind_mismatch.is_empty() {
        let mut parts = Vec::new();
        if !unknown.is_empty() {
            parts.push(format!(
                "features not in the project schema: {}",
                unknown.join(", ")
            ));
        }
        if !kind_mismatch.is_empty() {
            parts.push(format!(
                "features whose type (numeric/categorical) differs from the schema: {}",
                kind_mismatch.join(", ")
            ));
        }
        return Err(ApiError::invalid(format!(
            "the model does not fit project {:?}: {}",
            project.name,
            parts.join("; ")
        ))
        .with_details(json!({ "unknown_features": unknown, "type_mismatch": kind_mismatch })));
    }
    let outputs = model.n_outputs();
    let logistic = matches!(model.link(), Link::Logistic { .. });
    // A graph (an ONNX MLP or pipeline) gives its classes' probabilities as they are, with no
    // link: a binary classifier's one output is the positive class's probability.
    let graph_probabilities =
        model.trees().is_none() && schema.score_type == ScoreType::Probability;
    let fits = match schema.task {
        Task::Binary => outputs == 1 && (logistic || graph_probabilities),
        Task::Multiclass => schema.classes == Some(outputs as u32),
        Task::Regression => outputs == 1 && !logistic,
    };
    if !fits {
        return Err(ApiError::invalid(format!(
            "the model (objective {:?}, {outputs} output(s)) does not predict what project {:?} needs (task {:?}{})",
            model.info().objective,
            project.name,
            schema.task,
            schema
                .classes
                .map(|k| format!(", {k} classes"))
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// Lists a project's models.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models", tag = "ingest",
    params(("project" = String, Path)), responses((status = 200, body = Vec<Model>)))]
pub async fn list_models(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ApiResult<Json<Vec<Model>>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    deps.metastore.project(&project).await?;
    Ok(Json(deps.metastore.models(&project).await?))
}

/// One model.
#[utoipa::path(get, path = "/api/v1/projects/{project}/models/{model}", tag = "ingest",
    params(("project" = String, Path), ("model" = String, Path)),
    responses((status = 200, body = Model), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_model(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
) -> ApiResult<Json<Model>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    Ok(Json(deps.metastore.model(&project, &model).await?))
}

/// Deletes a model; refused (409) while an unfinished job reads it.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/models/{model}", tag = "ingest",
    params(("project" = String, Path), ("model" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn delete_model(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, model)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(&deps, &project, Role::Editor).await?;
    let removed = deps.metastore.delete_model(&project, &model).await?;
    forget_content(&deps, &removed.sha256, &model_key(&removed.sha256)).await;
    Ok(StatusCode::NO_CONTENT)
}

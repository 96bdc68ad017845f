//! A project's segments: named filter expressions, checked against the project's columns when
//! they are added.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use sextant_api::{CreateSegment, FeatureType, Project, Role, Segment};
use sextant_data::segment::{ColumnKind, Expression};

use super::upload::check_name;
use crate::Deps;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};

/// The longest segment expression accepted.
pub const MAX_EXPRESSION_CHARS: usize = 4_096;

/// What the columns a segment may name hold: the schema's features and label, and every other
/// column of the project's datasets (protected attributes and the like).
pub async fn column_kinds(deps: &Deps, project: &Project) -> ApiResult<Vec<(String, ColumnKind)>> {
    let schema = &project.schema;
    let mut kinds: Vec<(String, ColumnKind)> = schema
        .features
        .iter()
        .map(|f| {
            let kind = match f.kind {
                FeatureType::Numeric => ColumnKind::Number,
                FeatureType::Categorical => ColumnKind::Any,
            };
            (f.name.clone(), kind)
        })
        .collect();
    kinds.extend(schema.label.iter().map(|l| (l.clone(), ColumnKind::Number)));
    kinds.extend(schema.id.iter().map(|i| (i.clone(), ColumnKind::Any)));
    for dataset in deps.metastore.datasets(&project.name).await? {
        for column in dataset.summary.columns {
            if !kinds.iter().any(|(c, _)| *c == column) {
                kinds.push((column, ColumnKind::Any));
            }
        }
    }
    Ok(kinds)
}

/// Parses `text` and checks it against the project's columns; the error names the position.
pub fn check_expression(text: &str, kinds: &[(String, ColumnKind)]) -> ApiResult<Expression> {
    if text.chars().count() > MAX_EXPRESSION_CHARS {
        return Err(ApiError::bad_request(format!(
            "the segment expression is longer than {MAX_EXPRESSION_CHARS} characters"
        )));
    }
    let bad = |e: sextant_data::segment::ExpressionError| {
        ApiError::invalid(format!("segment expression {text:?}: {e}"))
    };
    let expression = Expression::parse(text).map_err(bad)?;
    let names: Vec<String> = kinds
        .iter()
        .take(12)
        .map(|(c, _)| format!("{c:?}"))
        .collect();
    let known = if kinds.len() > 12 {
        format!("{}, … ({} in all)", names.join(", "), kinds.len())
    } else {
        names.join(", ")
    };
    let kind = |c: &str| kinds.iter().find(|(k, _)| k == c).map(|(_, kind)| *kind);
    expression.check(kind, &known).map_err(bad)?;
    Ok(expression)
}

/// Adds a segment to the project (editors). Its expression is checked against the project's
/// features, label and the columns of its datasets.
#[utoipa::path(post, path = "/api/v1/projects/{project}/segments", tag = "ingest",
    params(("project" = String, Path)),
    request_body = CreateSegment,
    responses((status = 201, body = Segment), (status = 400, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_segment(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
    ApiJson(request): ApiJson<CreateSegment>,
) -> ApiResult<(StatusCode, Json<Segment>)> {
    caller.require(&deps, &project, Role::Editor).await?;
    let project = deps.metastore.project(&project).await?;
    check_name("segment", &request.name)?;
    if let Some(group) = &request.group {
        check_name("segment group", group)?;
    }
    let kinds = column_kinds(&deps, &project).await?;
    let expression = request.expression.trim().to_string();
    check_expression(&expression, &kinds)?;
    let segment = Segment {
        project: project.name.clone(),
        name: request.name,
        expression,
        group: request.group,
        protected: request.protected,
        created_at: Utc::now(),
        created_by: Some(caller.name().to_string()),
    };
    deps.metastore.add_segment(&segment).await?;
    tracing::info!(project = %segment.project, segment = %segment.name, by = %caller.name(), "segment added");
    Ok((StatusCode::CREATED, Json(segment)))
}

/// The project's segments, ungrouped first, then by group and name.
#[utoipa::path(get, path = "/api/v1/projects/{project}/segments", tag = "ingest",
    params(("project" = String, Path)),
    responses((status = 200, body = Vec<Segment>), (status = 404, body = ErrorBody)))]
pub async fn list_segments(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath(project): ApiPath<String>,
) -> ApiResult<Json<Vec<Segment>>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    Ok(Json(deps.metastore.segments(&project).await?))
}

/// One segment.
#[utoipa::path(get, path = "/api/v1/projects/{project}/segments/{segment}", tag = "ingest",
    params(("project" = String, Path), ("segment" = String, Path)),
    responses((status = 200, body = Segment), (status = 404, body = ErrorBody)))]
pub async fn get_segment(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, segment)): ApiPath<(String, String)>,
) -> ApiResult<Json<Segment>> {
    caller.require(&deps, &project, Role::Viewer).await?;
    Ok(Json(deps.metastore.segment(&project, &segment).await?))
}

/// Removes a segment (editors). Results are keyed by row, not by segment, so nothing else goes.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/segments/{segment}", tag = "ingest",
    params(("project" = String, Path), ("segment" = String, Path)),
    responses((status = 200, body = Segment), (status = 404, body = ErrorBody)))]
pub async fn delete_segment(
    State(deps): State<Deps>,
    caller: Caller,
    ApiPath((project, segment)): ApiPath<(String, String)>,
) -> ApiResult<Json<Segment>> {
    caller.require(&deps, &project, Role::Editor).await?;
    let removed = deps.metastore.delete_segment(&project, &segment).await?;
    tracing::info!(%project, %segment, by = %caller.name(), "segment removed");
    Ok(Json(removed))
}

//! The projects, and one project's page: its models, datasets, jobs (with live progress),
//! members, and the forms that change them (their answers are in `changes`).

use axum::Form;
use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use sextant_api::{
    CreateProject, Dataset, DatasetRole, FeatureGroup, FeatureSpec, Job, Member, Model, Project,
    ProjectSchema, Role, ScoreType, Segment, Task, Whoami,
};

use super::failure_page;
use super::layout::{count, crumbs, csrf_field, encode, page, project_url, size, time};
use super::signin::{role_on, signed_in};
use super::visit::{ApiFailure, CSRF_FIELD, Visit};

pub async fn projects_page(mut visit: Visit) -> Response {
    projects_view(&mut visit, None, StatusCode::OK).await
}

async fn projects_view(visit: &mut Visit, error: Option<String>, status: StatusCode) -> Response {
    let me = match signed_in(visit).await {
        Ok(me) => me,
        Err(e) => return failure_page(visit, e),
    };
    let projects: Vec<Project> = match visit.get("/api/v1/projects").await {
        Ok(p) => p,
        Err(e) => return failure_page(visit, e),
    };
    let body = html! {
        h1 { "Projects" }
        @if let Some(error) = &error { p.error role="alert" { (error) } }
        @if projects.is_empty() {
            p { "No project you can see yet." }
        } @else {
            table.list {
                thead { tr { th { "Project" } th { "Task" } th { "Features" } th { "Your role" } th { "Created" } } }
                tbody {
                    @for p in &projects {
                        tr {
                            td { a href={ "/ui/projects/" (encode(&p.name)) } { (p.name) } }
                            td { (task_name(p.schema.task)) }
                            td.num { (p.schema.features.len()) }
                            td { (role_on(&me, &p.name).map_or("—", Role::as_str)) }
                            td { (time(&p.created_at)) }
                        }
                    }
                }
            }
        }
        section.panel {
            h2 { "Create a project" }
            form.grid method="post" action="/ui/projects" {
                (csrf_field(visit))
                label for="name" { "Name" }
                input #name name="name" required pattern="[A-Za-z0-9][A-Za-z0-9._-]*";
                label for="task" { "Task" }
                select #task name="task" {
                    option value="binary" { "binary classification" }
                    option value="multiclass" { "multiclass classification" }
                    option value="regression" { "regression" }
                }
                label for="classes" { "Classes (multiclass)" }
                input #classes name="classes" type="number" min="3";
                label for="features" { "Features" }
                textarea #features name="features" required rows="3"
                    placeholder="age, income, region:categorical" {}
                label for="label" { "Label column" }
                input #label name="label";
                label for="id" { "Id column" }
                input #id name="id";
                span {}
                button type="submit" { "Create" }
            }
        }
    };
    (status, page(visit, "Projects", &[], body)).into_response()
}

fn task_name(task: Task) -> &'static str {
    match task {
        Task::Binary => "binary",
        Task::Multiclass => "multiclass",
        Task::Regression => "regression",
    }
}

#[derive(Deserialize)]
pub struct ProjectForm {
    csrf: String,
    name: String,
    task: String,
    classes: Option<String>,
    features: String,
    label: Option<String>,
    id: Option<String>,
}

pub async fn create_project(mut visit: Visit, Form(form): Form<ProjectForm>) -> Response {
    let request = match project_request(&visit, form) {
        Ok(r) => r,
        Err(e) => return projects_view(&mut visit, Some(e.message), e.status).await,
    };
    let name = request.name.clone();
    match visit
        .send::<_, Project>(Method::POST, "/api/v1/projects", &request)
        .await
    {
        Ok(_) => Redirect::to(&project_url(&name)).into_response(),
        Err(e) => projects_view(&mut visit, Some(e.message), e.status).await,
    }
}

fn project_request(visit: &Visit, form: ProjectForm) -> Result<CreateProject, ApiFailure> {
    visit.check_csrf(&form.csrf)?;
    let bad = |message: String| ApiFailure {
        code: None,
        status: StatusCode::BAD_REQUEST,
        message,
    };
    let task = match form.task.as_str() {
        "binary" => Task::Binary,
        "multiclass" => Task::Multiclass,
        "regression" => Task::Regression,
        other => {
            return Err(bad(format!(
                "task {other:?} is not binary, multiclass or regression"
            )));
        }
    };
    let classes = match form
        .classes
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(c) => Some(
            c.parse::<u32>()
                .map_err(|_| bad(format!("classes {c:?} is not a whole number")))?,
        ),
    };
    let features = FeatureSpec::parse_list(&[form.features]).map_err(bad)?;
    let optional = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    Ok(CreateProject {
        name: form.name.trim().to_string(),
        schema: ProjectSchema {
            features,
            label: optional(form.label),
            id: optional(form.id),
            task,
            score_type: if task == Task::Regression {
                ScoreType::Raw
            } else {
                ScoreType::Probability
            },
            classes,
        },
    })
}

/// Everything a project's page shows.
struct ProjectView {
    me: Whoami,
    project: Project,
    models: Vec<Model>,
    datasets: Vec<Dataset>,
    jobs: Vec<Job>,
    segments: Vec<Segment>,
    groups: Vec<FeatureGroup>,
    members: Option<Vec<Member>>,
}

async fn load_project(visit: &mut Visit, name: &str) -> Result<ProjectView, ApiFailure> {
    let me = signed_in(visit).await?;
    let base = format!("/api/v1/projects/{}", encode(name));
    let project: Project = visit.get(&base).await?;
    let models = visit.get(&format!("{base}/models")).await?;
    let datasets = visit.get(&format!("{base}/datasets")).await?;
    let jobs = visit.get(&format!("{base}/jobs?limit=50")).await?;
    let segments = visit.get(&format!("{base}/segments")).await?;
    let groups = visit.get(&format!("{base}/feature-groups")).await?;
    let members = if role_on(&me, name) == Some(Role::Owner) {
        Some(visit.get(&format!("{base}/members")).await?)
    } else {
        None
    };
    Ok(ProjectView {
        me,
        project,
        models,
        datasets,
        jobs,
        segments,
        groups,
        members,
    })
}

pub async fn project_page(mut visit: Visit, Path(name): Path<String>) -> Response {
    project_view(&mut visit, &name, None, StatusCode::OK).await
}

pub(super) async fn project_view(
    visit: &mut Visit,
    name: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let view = match load_project(visit, name).await {
        Ok(v) => v,
        Err(e) => return failure_page(visit, e),
    };
    let body = project_body(visit, &view, error.as_deref());
    let crumbs = crumbs(name, None);
    (status, page(visit, name, &crumbs, body)).into_response()
}

fn project_body(visit: &Visit, v: &ProjectView, error: Option<&str>) -> Markup {
    let p = &v.project;
    let role = role_on(&v.me, &p.name);
    let editor = role >= Some(Role::Editor);
    let at = project_url(&p.name);
    let first_dataset = v
        .datasets
        .iter()
        .find(|d| d.summary.has_label)
        .or(v.datasets.first());
    html! {
        h1 { (p.name) }
        @if let Some(error) = error { p.error role="alert" { (error) } }
        p.meta {
            (task_name(p.schema.task)) " · " (p.schema.features.len()) " features"
            @if let Some(label) = &p.schema.label { " · label " code { (label) } }
            @if let Some(id) = &p.schema.id { " · id " code { (id) } }
            " · your role: " strong { (role.map_or("—", Role::as_str)) }
        }
        section {
            h2 { "Models" }
            @if v.models.is_empty() { p { "No model yet." } } @else {
                table.list {
                    thead { tr { th { "Model" } th { "Format" } th { "Objective" } th { "Trees" } th { "Size" } th { "Uploaded" } th { "Results" } @if editor { th {} } } }
                    tbody { @for m in &v.models {
                        tr {
                            td { (m.name) }
                            td { (m.summary.format) }
                            td { (m.summary.objective) }
                            td.num { (m.summary.trees.as_ref().map_or(0, |t| t.trees)) }
                            td.num { (size(m.summary.size_bytes)) }
                            td { (time(&m.created_at)) }
                            td { @for d in v.datasets.iter().filter(|d| d.summary.role != DatasetRole::Background) {
                                a.chip href={ (at) "/models/" (encode(&m.name)) "?dataset=" (encode(&d.name)) } { "on " (d.name) }
                            } }
                            @if editor { td { (delete_form(visit, &format!("{at}/models/{}/delete", encode(&m.name)), &format!("Delete model {} and its results?", m.name))) } }
                        }
                    } }
                }
                @if v.models.len() > 1 && let Some(d) = first_dataset {
                    p { a href={ (at) "/compare?dataset=" (encode(&d.name)) } { "Compare the models on " (d.name) } }
                }
            }
        }
        section {
            h2 { "Datasets" }
            @if v.datasets.is_empty() { p { "No dataset yet." } } @else {
                table.list {
                    thead { tr { th { "Dataset" } th { "Role" } th { "Rows" } th { "Labels" } th { "Columns" } th { "Size" } th { "Uploaded" } @if editor { th {} } } }
                    tbody { @for d in &v.datasets {
                        tr {
                            td { (d.name) }
                            td { (d.summary.role.as_str()) }
                            td.num { (count(d.summary.rows)) }
                            td { @if d.summary.has_label { "yes" } @else { "no" } }
                            td.columns { (d.summary.columns.join(", ")) }
                            td.num { (size(d.summary.size_bytes)) }
                            td { (time(&d.created_at)) }
                            @if editor { td { (delete_form(visit, &format!("{at}/datasets/{}/delete", encode(&d.name)), &format!("Delete dataset {} and its results?", d.name))) } }
                        }
                    } }
                }
            }
        }
        section {
            h2 { "Jobs" }
            @if v.jobs.is_empty() { p { "No job yet." } } @else {
                table.list.jobs {
                    thead { tr { th { "Job" } th { "Kind" } th { "Model" } th { "Dataset" } th { "State" } th { "Progress" } th { "Created" } @if editor { th {} } } }
                    tbody { @for j in &v.jobs { (job_row(visit, &at, j, editor)) } }
                }
            }
        }
        (super::segments::segments_section(visit, &v.segments, &at, editor))
        (super::segments::groups_section(visit, &v.groups, &at, editor))
        @if editor { (forms(visit, v, &at)) }
        @if let Some(members) = &v.members { (members_section(visit, members, &at)) }
    }
}

/// A button that deletes something, after the browser asks `question` (app.js).
fn delete_form(visit: &Visit, action: &str, question: &str) -> Markup {
    html! {
        form.delete method="post" action=(action) data-confirm=(question) {
            (csrf_field(visit)) button.small.danger type="submit" { "Delete" }
        }
    }
}

fn job_row(visit: &Visit, at: &str, j: &Job, editor: bool) -> Markup {
    let live = !j.state.is_terminal();
    let percent = j.progress.percent;
    let method = j
        .spec
        .options
        .method
        .map(|m| format!(" ({})", m.as_str()))
        .unwrap_or_default();
    html! {
        tr data-job=(j.id) data-live=(live) {
            td { code { (j.id.to_string()[..8]) } }
            td { (j.spec.kind.as_str()) (method) }
            td { (j.spec.model().name) }
            td { (j.spec.data().name) }
            td.state { span class={ "state " (j.state.as_str()) } { (j.state.as_str()) }
                @if let Some(reason) = &j.reason { div.reason { (reason) } } }
            td.progress {
                progress max="100" value=(format!("{percent:.0}")) aria-label="progress" {}
                span.percent { (format!("{percent:.0} %")) }
                span.phase { (j.progress.phase) }
            }
            td { (time(&j.created_at)) }
            @if editor { td { @if live {
                form method="post" action={ (at) "/jobs/" (j.id) "/cancel" } {
                    (csrf_field(visit)) button.small type="submit" { "Cancel" }
                }
            } } }
        }
    }
}

fn forms(visit: &Visit, v: &ProjectView, at: &str) -> Markup {
    let csrf = encode(&visit.csrf);
    html! {
        section.forms {
            div.panel {
                h2 { "Upload a model" }
                form.grid method="post" enctype="multipart/form-data" action={ (at) "/models?" (CSRF_FIELD) "=" (csrf) } {
                    label for="model-name" { "Name" }
                    input #model-name name="name" required;
                    label for="model-file" { "File (XGBoost JSON, LightGBM text)" }
                    input #model-file type="file" name="file" required;
                    span {} button type="submit" { "Upload model" }
                }
            }
            div.panel {
                h2 { "Upload a dataset" }
                form.grid method="post" enctype="multipart/form-data" action={ (at) "/datasets?" (CSRF_FIELD) "=" (csrf) } {
                    label for="dataset-name" { "Name" }
                    input #dataset-name name="name" required;
                    label for="dataset-role" { "Role" }
                    select #dataset-role name="role" {
                        @for r in ["test", "train", "production", "background", "custom"] { option value=(r) { (r) } }
                    }
                    label for="dataset-file" { "File (CSV with a header, Parquet)" }
                    input #dataset-file type="file" name="file" required;
                    span {} button type="submit" { "Upload dataset" }
                }
            }
            div.panel {
                h2 { "Run a job" }
                form.grid method="post" action={ (at) "/jobs" } {
                    (csrf_field(visit))
                    label for="job-kind" { "Kind" }
                    select #job-kind name="kind" {
                        option value="influences" { "influences (TreeSHAP or sampled Shapley)" }
                        option value="predict" { "predict (and metrics on labelled data)" }
                        option value="error-influences" { "error influences (what drives each row's loss; labelled data, a background)" }
                    }
                    label for="job-model" { "Model" }
                    select #job-model name="model" required { @for m in &v.models { option { (m.name) } } }
                    label for="job-dataset" { "Dataset" }
                    select #job-dataset name="dataset" required { @for d in &v.datasets { option { (d.name) } } }
                    label for="job-background" { "Background (interventional, sampled, error influences)" }
                    select #job-background name="background" {
                        option value="" { "none: path-dependent" }
                        @for d in &v.datasets { option { (d.name) } }
                    }
                    label for="job-method" { "Influence method" }
                    select #job-method name="method" {
                        option value="" { "default: TreeSHAP for trees, sampled for other models" }
                        option value="path-dependent" { "path-dependent TreeSHAP" }
                        option value="interventional" { "interventional TreeSHAP" }
                        option value="sampled" { "sampled Shapley (any model, with error bars)" }
                    }
                    label for="job-rows" { "First rows only" }
                    input #job-rows name="rows" type="number" min="1" placeholder="all";
                    span {} button type="submit" { "Run" }
                }
            }
        }
    }
}

fn members_section(visit: &Visit, members: &[Member], at: &str) -> Markup {
    html! {
        section.panel {
            h2 { "Members" }
            table.list {
                thead { tr { th { "User" } th { "Role" } th { "Granted" } th { "By" } th {} } }
                tbody { @for m in members {
                    tr {
                        td { (m.user) } td { (m.role.as_str()) } td { (time(&m.granted_at)) }
                        td { (m.granted_by.as_deref().unwrap_or("—")) }
                        td { form method="post" action={ (at) "/members/" (encode(&m.user)) "/revoke" } {
                            (csrf_field(visit)) button.small type="submit" { "Revoke" }
                        } }
                    }
                } }
            }
            form.inline method="post" action={ (at) "/members" } {
                (csrf_field(visit))
                label for="member-user" { "User" }
                input #member-user name="user" required;
                label for="member-role" { "Role" }
                select #member-role name="role" { option { "viewer" } option { "editor" } option { "owner" } }
                button type="submit" { "Grant" }
            }
        }
    }
}

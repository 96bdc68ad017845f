//! A project's segments and feature groups on its page: the lists, the forms that add one, and
//! their removal.

use axum::Form;
use axum::extract::Path;
use axum::http::Method;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use sextant_api::{CreateFeatureGroup, CreateSegment, FeatureGroup, Segment};

use super::changes::{after_change, remove};
use super::layout::{csrf_field, encode};
use super::signin::CsrfForm;
use super::visit::Visit;

/// The segments section of a project's page; editors get the form and the delete buttons.
pub(super) fn segments_section(
    visit: &Visit,
    segments: &[Segment],
    at: &str,
    editor: bool,
) -> Markup {
    html! {
        section.segments {
            h2 { "Segments" }
            @if segments.is_empty() {
                p { "No segment yet: a segment is a named filter over the datasets' rows, such as "
                    code { "age >= 30 and region in (\"EU\", \"UK\")" } ", that every report can be asked for." }
            } @else {
                table.list {
                    thead { tr { th { "Segment" } th { "Expression" } th { "Group" } th { "Protected" } th { "Added by" } @if editor { th {} } } }
                    tbody { @for s in segments {
                        tr {
                            td { (s.name) }
                            td { code { (s.expression) } }
                            td { (s.group.as_deref().unwrap_or("—")) }
                            td { @if s.protected { "yes" } @else { "no" } }
                            td { (s.created_by.as_deref().unwrap_or("—")) }
                            @if editor { td {
                                form.delete method="post" action={ (at) "/segments/" (encode(&s.name)) "/delete" }
                                    data-confirm={ "Remove segment " (s.name) "?" } {
                                    (csrf_field(visit)) button.small.danger type="submit" { "Remove" }
                                }
                            } }
                        }
                    } }
                }
            }
            @if editor {
                form.inline #segment-form method="post" action={ (at) "/segments" } {
                    (csrf_field(visit))
                    label for="segment-name" { "Name" }
                    input #segment-name name="name" required;
                    label for="segment-expression" { "Expression" }
                    input #segment-expression.wide name="expression" required placeholder="age >= 30 and region == \"EU\"";
                    label for="segment-group" { "Group" }
                    input #segment-group name="group" placeholder="none";
                    label for="segment-protected" { "Protected" }
                    input #segment-protected type="checkbox" name="protected" value="on";
                    button type="submit" { "Add segment" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct SegmentForm {
    csrf: String,
    name: String,
    expression: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    protected: Option<String>,
}

/// Adds a segment through the API; back to the project's page, or the page with the API's
/// message (which names the column or the position of a mistake).
pub async fn add_segment(
    mut visit: Visit,
    Path(project): Path<String>,
    Form(form): Form<SegmentForm>,
) -> Response {
    let result = match visit.check_csrf(&form.csrf) {
        Err(e) => Err(e),
        Ok(()) => {
            let group = form.group.trim();
            let request = CreateSegment {
                name: form.name.trim().to_string(),
                expression: form.expression,
                group: (!group.is_empty()).then(|| group.to_string()),
                protected: form.protected.is_some(),
            };
            let path = format!("/api/v1/projects/{}/segments", encode(&project));
            visit
                .send::<_, Segment>(Method::POST, &path, &request)
                .await
                .map(|_| ())
        }
    };
    after_change(&mut visit, &project, result).await
}

pub async fn delete_segment(
    visit: Visit,
    Path((project, segment)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    remove(visit, &project, "segments", &segment, &form).await
}

/// The feature groups section of a project's page; editors get the form and the buttons.
pub(super) fn groups_section(
    visit: &Visit,
    groups: &[FeatureGroup],
    at: &str,
    editor: bool,
) -> Markup {
    html! {
        section.groups {
            h2 { "Feature groups" }
            @if groups.is_empty() {
                p { "No feature group yet: a group's importance sums its features' influences on each row (one variable's one-hot columns, or a business grouping)." }
            } @else {
                table.list {
                    thead { tr { th { "Group" } th { "Features" } th { "Added by" } @if editor { th {} } } }
                    tbody { @for g in groups {
                        tr {
                            td { (g.name) }
                            td.columns { (g.features.join(", ")) }
                            td { (g.created_by.as_deref().unwrap_or("—")) }
                            @if editor { td {
                                form.delete method="post" action={ (at) "/feature-groups/" (encode(&g.name)) "/delete" }
                                    data-confirm={ "Remove feature group " (g.name) "?" } {
                                    (csrf_field(visit)) button.small.danger type="submit" { "Remove" }
                                }
                            } }
                        }
                    } }
                }
            }
            @if editor {
                form.inline #group-form method="post" action={ (at) "/feature-groups" } {
                    (csrf_field(visit))
                    label for="group-name" { "Name" }
                    input #group-name name="name" required;
                    label for="group-features" { "Features" }
                    input #group-features.wide name="features" required placeholder="income, debt_ratio";
                    button type="submit" { "Add group" }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct GroupForm {
    csrf: String,
    name: String,
    /// Comma-separated.
    features: String,
}

/// Adds a feature group through the API; back to the project's page, or the page with the
/// API's message.
pub async fn add_feature_group(
    mut visit: Visit,
    Path(project): Path<String>,
    Form(form): Form<GroupForm>,
) -> Response {
    let result = match visit.check_csrf(&form.csrf) {
        Err(e) => Err(e),
        Ok(()) => {
            let request = CreateFeatureGroup {
                name: form.name.trim().to_string(),
                features: form
                    .features
                    .split(',')
                    .map(|f| f.trim().to_string())
                    .filter(|f| !f.is_empty())
                    .collect(),
            };
            let path = format!("/api/v1/projects/{}/feature-groups", encode(&project));
            visit
                .send::<_, FeatureGroup>(Method::POST, &path, &request)
                .await
                .map(|_| ())
        }
    };
    after_change(&mut visit, &project, result).await
}

pub async fn delete_feature_group(
    visit: Visit,
    Path((project, group)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    remove(visit, &project, "feature-groups", &group, &form).await
}

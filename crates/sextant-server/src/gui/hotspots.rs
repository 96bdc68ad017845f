//! A model's hotspots on a dataset: the form choosing the loss and the minimum size, the worst
//! segments with their intervals (a table and a chart against the overall mean), and, for
//! editors, a form on each that saves it as a segment of the project.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use sextant_api::{Dataset, HotspotRank, HotspotReport, Project, Role, Task};

use super::failure_page;
use super::layout::{count, crumbs, csrf_field, encode, model_url, number, page, project_url};
use super::model::optional;
use super::signin::{role_on, signed_in};
use super::visit::{ApiFailure, Visit};

/// The project at `base` (its API path) and its datasets.
pub(super) async fn project_and_datasets(
    visit: &mut Visit,
    base: &str,
) -> Result<(Project, Vec<Dataset>), ApiFailure> {
    let datasets_at = format!("{base}/datasets");
    let (described, datasets) = tokio::join!(
        visit.get::<Project>(base),
        visit.get::<Vec<Dataset>>(&datasets_at),
    );
    Ok((described?, datasets?))
}

/// A form field's value, trimmed; `None` when it is missing or blank.
pub(super) fn given(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// A report of a page with a form: `None` with a note when there is no result yet, or with the
/// API's refusal of the form's choice kept in `failure` (shown beside the form); any other
/// failure is the page's.
pub(super) fn refused_beside<T>(
    answer: Result<T, ApiFailure>,
    notes: &mut Vec<String>,
    failure: &mut Option<ApiFailure>,
) -> Result<Option<T>, ApiFailure> {
    match optional(answer, notes) {
        Err(e) if e.status.is_client_error() && e.status.as_u16() != 403 => {
            *failure = Some(e);
            Ok(None)
        }
        other => other,
    }
}

/// What the hotspots page shows.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct HotspotChoice {
    /// The dataset (default: the project's first labelled one).
    pub dataset: Option<String>,
    /// The loss (default: the task's).
    pub metric: Option<String>,
    /// What they are ranked by: `excess` (default) or `lift`.
    pub rank: Option<String>,
    /// The fewest rows of a hotspot (default: the API's).
    pub min_size: Option<String>,
}

/// The losses a task's models have, the default first.
fn losses(task: Task) -> &'static [(&'static str, &'static str)] {
    match task {
        Task::Regression => &[
            ("absolute_error", "absolute error"),
            ("squared_error", "squared error"),
        ],
        _ => &[
            ("error_rate", "error rate"),
            ("log_loss", "log loss"),
            ("brier", "Brier score"),
        ],
    }
}

/// Each hotspot's mean loss as a dot with its interval as a bar, beside the overall mean.
fn chart(r: &HotspotReport) -> Markup {
    let top = r
        .hotspots
        .iter()
        .map(|h| h.high)
        .fold(r.overall, f64::max)
        .max(1e-12)
        * 1.05;
    let (left, width, row) = (20.0, 540.0, 24.0);
    let x = |v: f64| left + width * (v / top).clamp(0.0, 1.0);
    let height = row * r.hotspots.len() as f64 + 34.0;
    html! {
        svg.hotspot-chart #hotspot-chart role="img" viewBox={ "0 0 580 " (height) } width="580" height=(height)
            aria-label="Each hotspot's mean loss with its interval, beside the overall mean" {
            line.overall x1=(x(r.overall)) x2=(x(r.overall)) y1="4" y2=(height - 24.0) stroke="#888" stroke-dasharray="4 3" {}
            @for (i, h) in r.hotspots.iter().enumerate() {
                @let y = 16.0 + row * i as f64;
                line.interval x1=(x(h.low)) x2=(x(h.high)) y1=(y) y2=(y) stroke="#d62728" stroke-width="2" {}
                circle.value cx=(x(h.value)) cy=(y) r="4" fill="#d62728" {
                    title { (i + 1) ". " (h.expression) ": " (number(Some(h.value))) }
                }
                text x=(x(h.high) + 6.0) y=(y + 4.0) font-size="11" { (i + 1) }
            }
            text x=(x(r.overall)) y=(height - 8.0) font-size="11" text-anchor="middle" { "overall " (number(Some(r.overall))) }
            text x=(x(0.0)) y=(height - 8.0) font-size="11" { "0" }
        }
    }
}

fn report_section(visit: &Visit, r: &HotspotReport, project: &str, editor: bool) -> Markup {
    let interval = if r.interval == "clopper_pearson" {
        "exact binomial (Clopper–Pearson)"
    } else {
        "percentile bootstrap"
    };
    html! {
        p.meta {
            (r.metric.name().replace('_', " ")) " over " (count(r.rows)) " labelled rows: " strong { (number(Some(r.overall))) }
            ". " (count(r.candidates)) " segments of one or two conditions and at least " (count(r.min_size))
            " rows weighed; intervals at " (r.confidence * 100.0) " %, " (interval) "; from predict job " code { (r.source.job) } "."
        }
        @if r.hotspots.is_empty() {
            p.note #no-hotspots { "No segment of at least " (count(r.min_size)) " rows has a loss above the overall rate." }
        } @else {
            p.hint #ranking { @match r.rank {
                HotspotRank::Excess => "Ranked by excess: the loss a segment holds beyond the overall rate, (value − overall) × rows.",
                HotspotRank::Lift => "Ranked by lift: a segment's mean loss over the overall mean.",
            } " One segment per column or pair of columns." }
            table.list #hotspots {
                thead { tr { th { "#" } th { "Segment" } th { "Rows" } th { "Share" } th { "Value" } th { "Interval" } th { "Lift" } th { "Excess" } @if editor { th { "Save as segment" } } } }
                tbody { @for (i, h) in r.hotspots.iter().enumerate() {
                    tr {
                        td.num { (i + 1) }
                        td { code { (h.expression) } }
                        td.num { (count(h.rows)) }
                        td.num { (format!("{:.1} %", h.share * 100.0)) }
                        td.num { (number(Some(h.value))) }
                        td.num { (number(Some(h.low))) " – " (number(Some(h.high))) }
                        td.num { (number(h.lift)) }
                        td.num { (number(Some(h.excess))) }
                        @if editor { td {
                            form.inline.save method="post" action={ (project_url(project)) "/segments" } {
                                (csrf_field(visit))
                                input type="hidden" name="expression" value=(h.expression);
                                input name="name" required size="12" aria-label="Segment name" placeholder={ "hotspot_" (i + 1) };
                                button.small type="submit" { "Save" }
                            }
                        } }
                    }
                } }
            }
            (chart(r))
        }
    }
}

pub async fn hotspots_page(
    mut visit: Visit,
    Path((project, model)): Path<(String, String)>,
    Query(choice): Query<HotspotChoice>,
) -> Response {
    let me = match signed_in(&mut visit).await {
        Ok(me) => me,
        Err(e) => return failure_page(&visit, e),
    };
    let base = format!("/api/v1/projects/{}", encode(&project));
    let (described, datasets) = match project_and_datasets(&mut visit, &base).await {
        Ok(both) => both,
        Err(e) => return failure_page(&visit, e),
    };
    let dataset = given(&choice.dataset)
        .or_else(|| {
            datasets
                .iter()
                .find(|d| d.summary.has_label)
                .map(|d| d.name.clone())
        })
        .or_else(|| datasets.first().map(|d| d.name.clone()));
    let metric = given(&choice.metric);
    let min_size = given(&choice.min_size);
    let rank = given(&choice.rank);
    let mut notes = Vec::new();
    let mut failure: Option<ApiFailure> = None;
    let report = match &dataset {
        Some(dataset) => {
            let mut q = format!("dataset={}", encode(dataset));
            if let Some(m) = &metric {
                q.push_str(&format!("&metric={}", encode(m)));
            }
            if let Some(r) = &rank {
                q.push_str(&format!("&rank={}", encode(r)));
            }
            if let Some(n) = &min_size {
                q.push_str(&format!("&min_size={}", encode(n)));
            }
            let at = format!("{base}/models/{}/hotspots?{q}", encode(&model));
            // A choice the API refuses (a loss of another task, an unlabelled dataset, a size
            // that is not a number) is shown beside the form.
            let answer = visit.get::<HotspotReport>(&at).await;
            match refused_beside(answer, &mut notes, &mut failure) {
                Ok(r) => r,
                Err(e) => return failure_page(&visit, e),
            }
        }
        None => {
            notes.push(format!(
                "project {project:?} has no dataset yet: upload one first"
            ));
            None
        }
    };
    let editor = role_on(&me, &project) >= Some(Role::Editor);
    let at = model_url(&project, &model);
    let dataset_name = dataset.clone().unwrap_or_default();
    let crumbs = crumbs(
        &project,
        Some((&model, &format!("dataset={}", encode(&dataset_name)))),
    );
    let chosen = metric
        .clone()
        .or_else(|| report.as_ref().map(|r| r.metric.name().to_string()));
    let body = html! {
        h1 { "Hotspots of " (model) " on " (dataset_name) }
        p.hint { "The segments of one or two conditions on the dataset's columns (numeric ones cut at quantiles, the others by value) where the model's loss is worst." }
        form.inline.choice #hotspot-form method="get" action={ (at) "/hotspots" } {
            label for="dataset" { "Dataset" }
            select #dataset name="dataset" { @for d in &datasets {
                option selected[d.name == dataset_name] { (d.name) }
            } }
            label for="metric" { "Loss" }
            select #metric name="metric" { @for (name, shown) in losses(described.schema.task) {
                option value=(name) selected[chosen.as_deref() == Some(*name)] { (shown) }
            } }
            label for="rank" { "Ranked by" }
            select #rank name="rank" {
                option value="excess" selected[rank.as_deref() != Some("lift")] { "excess loss" }
                option value="lift" selected[rank.as_deref() == Some("lift")] { "lift" }
            }
            label for="min-size" { "Minimum rows" }
            input #min-size name="min_size" size="6" value=(min_size.as_deref().unwrap_or("")) placeholder={ @if let Some(r) = &report { (r.min_size) } @else { "1 %" } };
            button type="submit" { "Search" }
        }
        @if let Some(e) = &failure { p.error { (e.message) } }
        @for note in &notes { p.note { (note) } }
        @if let Some(r) = &report { (report_section(&visit, r, &project, editor)) }
    };
    page(&visit, &format!("Hotspots of {model}"), &crumbs, body).into_response()
}

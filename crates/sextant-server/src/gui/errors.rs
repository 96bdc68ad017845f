//! What drives a model's errors on a labelled dataset: the importance of its error influences
//! (each feature's influence on each row's loss), over every row or a segment's, as a table and
//! a chart of the mean influences either side of zero; for editors without a result yet, the
//! form that runs the error-influences job.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use sextant_api::{Dataset, ImportanceReport, Project, Role, Task};

use super::failure_page;
use super::hotspots::{given, project_and_datasets, refused_beside};
use super::layout::{count, crumbs, csrf_field, encode, model_url, number, page, project_url};
use super::model::segment_line;
use super::signin::{role_on, signed_in};
use super::visit::{ApiFailure, Visit};

/// What the page shows.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ErrorChoice {
    /// The labelled dataset (default: the project's first).
    pub dataset: Option<String>,
    /// A segment's name or an expression (default: every row).
    pub segment: Option<String>,
}

/// The losses a task's error influences explain, the default first.
fn losses(task: Task) -> &'static [(&'static str, &'static str)] {
    match task {
        Task::Regression => &[
            ("squared_error", "squared error"),
            ("absolute_error", "absolute error"),
        ],
        _ => &[("log_loss", "log loss"), ("brier", "Brier score")],
    }
}

/// Each feature's mean influence on the loss as a bar from zero: right raises the loss.
fn chart(r: &ImportanceReport) -> Markup {
    let features = &r.result.features;
    let reach = features
        .iter()
        .map(|f| f.mean.abs())
        .fold(0.0, f64::max)
        .max(1e-12);
    let (middle, half, row) = (360.0, 200.0, 22.0);
    let x = |v: f64| middle + half * (v / reach).clamp(-1.0, 1.0);
    let height = row * features.len() as f64 + 30.0;
    html! {
        svg.error-chart #error-chart role="img" viewBox={ "0 0 580 " (height) } width="580" height=(height)
            aria-label="Each feature's mean influence on the loss: right of the line it raises the loss" {
            line x1=(middle) x2=(middle) y1="2" y2=(height - 22.0) stroke="#888" {}
            @for (i, f) in features.iter().enumerate() {
                @let y = 6.0 + row * i as f64;
                @let (from, to) = (x(0.0).min(x(f.mean)), x(0.0).max(x(f.mean)));
                text x="150" y=(y + 12.0) font-size="12" text-anchor="end" { (f.feature) }
                rect.bar x=(from) y=(y) width=((to - from).max(0.5)) height=(row - 6.0)
                    fill=(if f.mean > 0.0 { "#d62728" } else { "#1f77b4" }) {
                    title { (f.feature) ": mean influence " (number(Some(f.mean))) }
                }
            }
            text x=(middle) y=(height - 6.0) font-size="11" text-anchor="middle" { "0: ← lowers the loss · raises it →" }
        }
    }
}

fn report_section(r: &ImportanceReport, table_at: &str) -> Markup {
    let loss = r
        .result
        .loss
        .map_or("loss".to_string(), |l| l.name().replace('_', " "));
    // Exact values (every coalition enumerated) have no error: no column of zeros for them.
    let sampled = r
        .result
        .features
        .iter()
        .any(|f| f.mean_abs_stderr.is_some_and(|se| se > 0.0));
    html! {
        (segment_line(r.source.segment.as_ref()))
        p.meta {
            "Influences on each row's " strong { (loss) } " against its label, over " (count(r.result.rows)) " labelled rows"
            @if let Some(b) = &r.source.background {
                ", " @if sampled { "sampled" } @else { "exact (every coalition)" } " against background " code { (b) }
            }
            "; from error-influences job " code { (r.source.job) } "."
        }
        p.hint { "A row's influences add up to its loss minus its base value (the background's mean loss against the row's label). A positive mean influence raises the loss on average: the feature drives the errors." }
        table.list #error-importance {
            thead { tr { th { "Feature" } th { "Mean influence" } th { "Mean |influence|" } @if sampled { th { "± standard error" } } } }
            tbody { @for f in &r.result.features {
                tr {
                    td { (f.feature) }
                    td.num { (format!("{:+.6}", f.mean)) }
                    td.num { (number(Some(f.mean_abs))) }
                    @if sampled { td.num { (number(f.mean_abs_stderr)) } }
                }
            } }
        }
        (chart(r))
        p.links { a #error-table href=(table_at) { "Every row's error influences" } }
    }
}

/// The form that runs the error-influences job of this model on `dataset`.
fn run_form(
    visit: &Visit,
    project: &Project,
    model: &str,
    dataset: &str,
    datasets: &[Dataset],
) -> Markup {
    html! {
        form.grid #error-job method="post" action={ (project_url(&project.name)) "/jobs" } {
            (csrf_field(visit))
            input type="hidden" name="kind" value="error-influences";
            input type="hidden" name="model" value=(model);
            input type="hidden" name="dataset" value=(dataset);
            label for="error-background" { "Background" }
            select #error-background name="background" required {
                @for d in datasets { option selected[d.summary.role == sextant_api::DatasetRole::Background] { (d.name) } }
            }
            label for="error-loss" { "Loss" }
            select #error-loss name="loss" { @for (name, shown) in losses(project.schema.task) {
                option value=(name) { (shown) }
            } }
            span {} button type="submit" { "Run error influences" }
        }
    }
}

pub async fn errors_page(
    mut visit: Visit,
    Path((project, model)): Path<(String, String)>,
    Query(choice): Query<ErrorChoice>,
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
    let labelled: Vec<&Dataset> = datasets.iter().filter(|d| d.summary.has_label).collect();
    let dataset = given(&choice.dataset).or_else(|| labelled.first().map(|d| d.name.clone()));
    let segment = given(&choice.segment);
    let segment_query = segment
        .as_ref()
        .map(|s| format!("&segment={}", encode(s)))
        .unwrap_or_default();
    let mut notes = Vec::new();
    let mut failure: Option<ApiFailure> = None;
    let report = match &dataset {
        Some(dataset) => {
            let at = format!(
                "{base}/models/{}/error-importance?dataset={}{segment_query}",
                encode(&model),
                encode(dataset)
            );
            // A segment the API refuses (an unknown column, a bad expression) is shown beside
            // the form.
            let answer = visit.get::<ImportanceReport>(&at).await;
            match refused_beside(answer, &mut notes, &mut failure) {
                Ok(r) => r,
                Err(e) => return failure_page(&visit, e),
            }
        }
        None => {
            notes.push(format!(
                "project {project:?} has no labelled dataset: error influences need the labels"
            ));
            None
        }
    };
    let editor = role_on(&me, &project) >= Some(Role::Editor);
    let at = model_url(&project, &model);
    let dataset_name = dataset.clone().unwrap_or_default();
    let data_query = format!("dataset={}", encode(&dataset_name));
    let crumbs = crumbs(&project, Some((&model, &data_query)));
    let table_at = format!("{at}/table?kind=error-influences&{data_query}{segment_query}");
    let body = html! {
        h1 { "What drives the errors of " (model) " on " (dataset_name) }
        p.hint { "Error influences: each feature's Shapley value of each row's loss against its label, rather than of its score." }
        form.inline.choice #error-form method="get" action={ (at) "/errors" } {
            label for="dataset" { "Dataset" }
            select #dataset name="dataset" { @for d in &labelled {
                option selected[d.name == dataset_name] { (d.name) }
            } }
            label for="segment" { "Rows where" }
            input #segment name="segment" value=(segment.as_deref().unwrap_or("")) placeholder="a segment, or age < 30";
            button type="submit" { "Show" }
        }
        @if let Some(e) = &failure { p.error { (e.message) } }
        @for note in &notes { p.note { (note) } }
        @match &report {
            Some(r) => (report_section(r, &table_at)),
            None if editor && dataset.is_some() && failure.is_none() => (run_form(&visit, &described, &model, &dataset_name, &datasets)),
            None => {},
        }
    };
    page(&visit, &format!("Errors of {model}"), &crumbs, body).into_response()
}

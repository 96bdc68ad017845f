//! The printable model report (one document per model and dataset: metrics, plots, top
//! features, the data, and where every number came from), and models compared on one dataset.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use sextant_api::{
    CLASSIFICATION_METRICS, CompareReport, ImportanceReport, Job, Metrics, MetricsReport, Model,
    REGRESSION_METRICS,
};

use super::failure_page;
use super::layout::{count, crumbs, data_block, encode, number, page, size, time};
use super::model::{ResultChoice, load, metric_rows, optional, quality_section};
use super::signin::signed_in;
use super::visit::Visit;

pub async fn report_page(
    mut visit: Visit,
    Path((project, model)): Path<(String, String)>,
    Query(choice): Query<ResultChoice>,
) -> Response {
    let (data, m, dataset, _, notes) = match load(&mut visit, &project, &model, &choice, 300).await
    {
        Ok(loaded) => loaded,
        Err(e) => return failure_page(&visit, e),
    };
    let mut jobs = Vec::new();
    let sources = [
        data.importance.as_ref().map(|r| r.source.clone()),
        data.curves.as_ref().map(|r| r.source.clone()),
    ];
    for source in sources.into_iter().flatten() {
        match visit
            .get::<Job>(&format!("/api/v1/jobs/{}", source.job))
            .await
        {
            Ok(job) => jobs.push((job, source)),
            Err(e) => return failure_page(&visit, e),
        }
    }
    let crumbs = crumbs(&project, Some((&model, &data.query)));
    let body = html! {
        article.report {
            h1 { "Model report: " (model) " on " (dataset.name) }
            (super::model::segment_line(data.segment.as_ref()))
            p.meta { "Project " (project) " · printed " (time(&chrono::Utc::now())) " · "
                button.print #print type="button" { "Print or save as PDF" } }
            section {
                h2 { "Model" }
                table.metrics { tbody {
                    tr { th scope="row" { "name" } td { (m.name) } }
                    tr { th scope="row" { "format" } td { (m.summary.format) " (" (m.summary.library_version) ")" } }
                    tr { th scope="row" { "objective" } td { (m.summary.objective) } }
                    @if let Some(t) = &m.summary.trees {
                        tr { th scope="row" { "trees" } td { (t.trees) " trees, " (t.leaves) " leaves, depth ≤ " (t.max_depth) } }
                    }
                    tr { th scope="row" { "features" } td { (m.summary.features.len()) } }
                    tr { th scope="row" { "sha256" } td { code { (m.sha256) } } }
                } }
            }
            section {
                h2 { "Data" }
                table.metrics { tbody {
                    tr { th scope="row" { "dataset" } td { (dataset.name) " (" (dataset.summary.role.as_str()) ")" } }
                    tr { th scope="row" { "rows" } td { (count(dataset.summary.rows)) } }
                    tr { th scope="row" { "labels" } td { @if dataset.summary.has_label { "yes" } @else { "no" } } }
                    tr { th scope="row" { "columns" } td { (dataset.summary.columns.join(", ")) } }
                    tr { th scope="row" { "size" } td { (size(dataset.summary.size_bytes)) " " (dataset.summary.format) } }
                    tr { th scope="row" { "sha256" } td { code { (dataset.sha256) } } }
                } }
            }
            @for note in &notes { p.note { (note) } }
            (quality_section(&data))
            @if let Some(importance) = &data.importance {
                section.influences {
                    h2 { "Top features" }
                    div.plots { figure.wide { div.plot #plot-importance data-kind="importance" {} figcaption { "Global importance: mean |influence|" } } }
                    table.list {
                        thead { tr { th { "#" } th { "Feature" } th { "mean |influence|" } th { "mean influence" } } }
                        tbody { @for (i, f) in importance.result.features.iter().take(15).enumerate() {
                            tr { td.num { (i + 1) } td { (f.feature) } td.num { (number(Some(f.mean_abs))) } td.num { (number(Some(f.mean))) } }
                        } }
                    }
                }
            }
            section.provenance {
                h2 { "Provenance" }
                table.list {
                    thead { tr { th { "Result" } th { "Job" } th { "Model sha256" } th { "Data sha256" } th { "Options" } th { "Algorithms" } th { "Computed" } } }
                    tbody { @for (j, source) in &jobs {
                        tr {
                            td { (j.spec.kind.as_str()) }
                            td { code { (j.id) } }
                            td { code { (j.spec.model().sha256[..16]) "…" } }
                            td { code { (j.spec.data().sha256[..16]) "…" } }
                            td { (j.spec.options.method.map_or("—", |m| m.as_str()))
                                 @if let Some(b) = j.spec.background() { " vs " (b.name) } }
                            td { code { (source.algorithm_version) } }
                            td { (time(&source.computed_at)) }
                        }
                    } }
                }
                p { "Each result is keyed by its model's and data's hashes, its options and the algorithms' version: the same inputs give the same numbers, and other algorithms compute them again." }
            }
            (data_block("sx-model", &data))
        }
    };
    page(&visit, &format!("Report: {model}"), &crumbs, body).into_response()
}

#[derive(Deserialize)]
pub struct CompareQuery {
    dataset: String,
    /// The metric the leaderboard ranks by (default: the API's for the task).
    #[serde(default)]
    metric: Option<String>,
}

/// What the compare page's script draws.
#[derive(Serialize)]
struct Comparison {
    models: Vec<String>,
    importance: Vec<Option<ImportanceReport>>,
}

pub async fn compare_page(
    mut visit: Visit,
    Path(project): Path<String>,
    Query(q): Query<CompareQuery>,
) -> Response {
    if let Err(e) = signed_in(&mut visit).await {
        return failure_page(&visit, e);
    }
    let base = format!("/api/v1/projects/{}", encode(&project));
    let models: Vec<Model> = match visit.get(&format!("{base}/models")).await {
        Ok(m) => m,
        Err(e) => return failure_page(&visit, e),
    };
    let mut notes = Vec::new();
    let mut metrics: Vec<Option<Metrics>> = Vec::new();
    let mut importance: Vec<Option<ImportanceReport>> = Vec::new();
    let dataset = encode(&q.dataset);
    for m in &models {
        let at = format!("{base}/models/{}", encode(&m.name));
        let got: Result<Option<MetricsReport>, _> = optional(
            visit.get(&format!("{at}/metrics?dataset={dataset}")).await,
            &mut notes,
        );
        match got {
            Ok(r) => metrics.push(r.map(|r| r.result)),
            Err(e) => return failure_page(&visit, e),
        }
        match optional(
            visit
                .get(&format!("{at}/importance?dataset={dataset}"))
                .await,
            &mut notes,
        ) {
            Ok(r) => importance.push(r),
            Err(e) => return failure_page(&visit, e),
        }
    }
    // The models with predictions on the dataset, compared row by row (at most ten).
    let scored: Vec<&str> = models
        .iter()
        .zip(&metrics)
        .filter(|(_, m)| m.is_some())
        .map(|(m, _)| m.name.as_str())
        .take(sextant_api::MAX_COMPARED)
        .collect();
    let mut compared: Option<CompareReport> = None;
    if scored.len() >= 2 {
        let mut at = format!(
            "{base}/compare?dataset={dataset}&models={}",
            encode(&scored.join(","))
        );
        if let Some(metric) = q.metric.as_deref().filter(|m| !m.is_empty()) {
            at.push_str(&format!("&metric={}", encode(metric)));
        }
        match optional(visit.get::<CompareReport>(&at).await, &mut notes) {
            Ok(r) => compared = r,
            Err(e) => return failure_page(&visit, e),
        }
    }
    let crumbs = crumbs(&project, None);
    let names: Vec<String> = models.iter().map(|m| m.name.clone()).collect();
    let body = html! {
        h1 { "Models compared on " (q.dataset) }
        @for note in &notes { p.note { (note) } }
        @if let Some(c) = &compared { (leaderboard_section(&project, &q.dataset, c)) }
        section {
            h2 { "Metrics" }
            @let metric_names: Vec<&str> = metrics.iter().flatten().next().map(|m| metric_rows(m).into_iter().map(|(n, _)| n).collect()).unwrap_or_default();
            @let values: Vec<Option<Vec<String>>> = metrics.iter().map(|m| m.as_ref().map(|m| metric_rows(m).into_iter().map(|(_, v)| v).collect())).collect();
            table.list.compare {
                thead { tr { th scope="col" { "metric" } @for m in &models { th scope="col" { (m.name) } } } }
                tbody { @for (i, name) in metric_names.iter().enumerate() {
                    tr { th scope="row" { (name) } @for v in &values {
                        td.num { (v.as_ref().and_then(|v| v.get(i)).map_or("—", String::as_str)) }
                    } }
                } }
            }
        }
        section {
            h2 { "Importance" }
            div.plots { figure.wide { div.plot #plot-compare-importance data-kind="compare-importance" {} figcaption { "Mean |influence| per model (each model's top 15 features)" } } }
            div.side-by-side {
                @for (m, imp) in models.iter().zip(&importance) {
                    div { h3 { (m.name) }
                        @if let Some(imp) = imp {
                            table.list { thead { tr { th { "Feature" } th { "mean |influence|" } } }
                                tbody { @for f in imp.result.features.iter().take(15) {
                                    tr { td { (f.feature) } td.num { (number(Some(f.mean_abs))) } }
                                } } }
                        } @else { p { "No influences yet." } }
                    }
                }
            }
        }
        @if let Some(c) = &compared { (agreement_section(c)) }
        (data_block("sx-compare", &Comparison { models: names, importance }))
    };
    page(&visit, &format!("Compare on {}", q.dataset), &crumbs, body).into_response()
}

/// The leaderboard, with the metric it ranks by to choose.
fn leaderboard_section(project: &str, dataset: &str, c: &CompareReport) -> Markup {
    let known: &[&str] = if c
        .leaderboard
        .iter()
        .any(|e| matches!(e.metrics, Some(Metrics::Regression(_))))
    {
        &REGRESSION_METRICS
    } else {
        &CLASSIFICATION_METRICS
    };
    html! {
        section {
            h2 { "Leaderboard" }
            form.inline.choice #leaderboard-form method="get" action={ (super::layout::project_url(project)) "/compare" } {
                input type="hidden" name="dataset" value=(dataset);
                label for="metric" { "Rank by" }
                select #metric name="metric" { @for m in known {
                    option selected[*m == c.metric] { (m) }
                } }
                button type="submit" { "Rank" }
            }
            table.list #leaderboard {
                thead { tr { th { "Rank" } th { "Model" } th { (c.metric) @if c.higher_is_better { " (higher is better)" } @else { " (lower is better)" } } } }
                tbody { @for e in &c.leaderboard {
                    tr { td.num { (e.rank.map_or("—".into(), |k| k.to_string())) } td { (e.model) } td.num { (number(e.value)) } }
                } }
            }
        }
    }
}

/// How the models' predictions agree, and the rows where they differ most.
fn agreement_section(c: &CompareReport) -> Markup {
    html! {
        section {
            h2 { "Agreement" }
            p.hint { "Over " (count(c.rows)) " rows: the share with the same decision, the correlation of the scores, and their mean absolute difference." }
            table.list #agreement {
                thead { tr { th { "Models" } th { "Same decision" } th { "Score correlation" } th { "Mean |difference|" } } }
                tbody { @for a in &c.agreement {
                    tr { td { (a.a) " · " (a.b) } td.num { (number(a.decision_agreement)) } td.num { (number(a.score_correlation)) } td.num { (number(Some(a.mean_abs_difference))) } }
                } }
            }
            h2 { "Where they disagree most" }
            table.list #disagreements {
                thead { tr { th { "Row" } th { "Id" } th { "Label" } @for m in &c.models { th { (m) } } th { "Spread" } } }
                tbody { @for d in &c.disagreements {
                    tr {
                        td.num { (d.row) } td.num { (number(d.id)) } td.num { (number(d.label)) }
                        @if let Some(scores) = &d.scores { @for s in scores { td.num { (number(Some(*s))) } } }
                        @else if let Some(decisions) = &d.decisions { @for k in decisions { td.num { "class " (k) } } }
                        td.num { (number(Some(d.spread))) }
                    }
                } }
            }
        }
    }
}

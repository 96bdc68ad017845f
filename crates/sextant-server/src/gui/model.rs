//! A model on a dataset: its quality (metrics, curves, confusion at a threshold, residuals),
//! its influences (importance, beeswarm, dependence, one row's waterfall), and its result tables
//! page by page.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use sextant_api::{
    CurvesReport, Dataset, ImportanceReport, InfluencePoints, Metrics, MetricsReport, Model,
    Project, RowExplanation, Segment, SegmentScope, TablePage,
};

use super::failure_page;
use super::layout::{count, crumbs, data_block, encode, interval, model_url, number, page};
use super::signin::signed_in;
use super::visit::{ApiFailure, Visit};

/// Which result a model page shows.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ResultChoice {
    /// The dataset (default: the project's first labelled one).
    pub dataset: Option<String>,
    /// `path-dependent`, `interventional` or `sampled`.
    pub method: Option<String>,
    /// The background of interventional influences.
    pub background: Option<String>,
    /// For a multiclass model: the class whose influences to show (default 0).
    #[serde(rename = "class")]
    pub output: Option<u32>,
    /// A segment of the project, by name: the reports over its rows only.
    pub segment: Option<String>,
    /// A segment expression typed on the page (it wins over `segment`).
    pub expression: Option<String>,
}

impl ResultChoice {
    /// The query string's class part, for the views that take one (empty for class 0).
    pub fn class_query(&self) -> String {
        match self.output {
            Some(k) if k > 0 => format!("&class={k}"),
            _ => String::new(),
        }
    }

    /// The segment asked for: the expression typed, else the segment chosen.
    pub fn segment(&self) -> Option<&str> {
        let typed = self.expression.as_deref().map(str::trim);
        let chosen = self.segment.as_deref().map(str::trim);
        typed
            .filter(|e| !e.is_empty())
            .or(chosen.filter(|s| !s.is_empty()))
    }

    /// The query string's segment part, for the reports that take one (empty for every row).
    pub fn segment_query(&self) -> String {
        self.segment()
            .map(|s| format!("&segment={}", encode(s)))
            .unwrap_or_default()
    }

    /// The query string of the API's result endpoints for this choice.
    pub fn api_query(&self, dataset: &str) -> String {
        let mut q = format!("dataset={}", encode(dataset));
        if let Some(m) = self.method.as_deref().filter(|m| !m.is_empty()) {
            q.push_str(&format!("&method={}", encode(m)));
        }
        if let Some(b) = self.background.as_deref().filter(|b| !b.is_empty()) {
            q.push_str(&format!("&background={}", encode(b)));
        }
        q
    }
}

/// What the model page's script draws, as it receives it.
#[derive(Serialize)]
pub struct ModelData {
    pub project: String,
    pub model: String,
    pub dataset: String,
    pub query: String,
    /// `&class=K` for the views of class K of a multiclass model, else empty.
    pub class_query: String,
    /// `&segment=…` for the reports over a segment, else empty.
    pub segment_query: String,
    /// The segment the reports cover, as the API answered.
    pub segment: Option<SegmentScope>,
    /// The class shown, and how many there are (multiclass).
    pub class: u32,
    pub classes: Option<u32>,
    pub task: sextant_api::Task,
    pub features: Vec<String>,
    pub id_column: Option<String>,
    pub metrics: Option<Metrics>,
    pub curves: Option<CurvesReport>,
    pub importance: Option<ImportanceReport>,
    pub points: Option<InfluencePoints>,
    /// The first sampled row's explanation, drawn as the first waterfall.
    pub explanation: Option<RowExplanation>,
}

/// Results that may not exist yet: the API's `no_result` answer (no job has computed it, or the
/// data has no labels) is `None`, its message kept as a note.
pub(super) fn optional<T>(
    answer: Result<T, ApiFailure>,
    notes: &mut Vec<String>,
) -> Result<Option<T>, ApiFailure> {
    match answer {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.code.as_deref() == Some("no_result") => {
            notes.push(e.message);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Loads everything a model page (or its report) shows.
pub(super) async fn load(
    visit: &mut Visit,
    project: &str,
    model: &str,
    choice: &ResultChoice,
    points: u32,
) -> Result<(ModelData, Model, Dataset, Vec<Dataset>, Vec<String>), ApiFailure> {
    signed_in(visit).await?;
    let base = format!("/api/v1/projects/{}", encode(project));
    let p: Project = visit.get(&base).await?;
    let m: Model = visit
        .get(&format!("{base}/models/{}", encode(model)))
        .await?;
    let datasets: Vec<Dataset> = visit.get(&format!("{base}/datasets")).await?;
    let chosen = match &choice.dataset {
        Some(d) => datasets.iter().find(|x| &x.name == d),
        None => datasets
            .iter()
            .find(|d| d.summary.has_label)
            .or(datasets.first()),
    };
    let Some(dataset) = chosen.cloned() else {
        return Err(ApiFailure {
            code: None,
            status: axum::http::StatusCode::NOT_FOUND,
            message: match &choice.dataset {
                Some(d) => format!("project {project:?} has no dataset {d:?}"),
                None => format!("project {project:?} has no dataset yet: upload one first"),
            },
        });
    };
    let query = choice.api_query(&dataset.name);
    let at = format!("{base}/models/{}", encode(model));
    let class_query = choice.class_query();
    let segment_query = choice.segment_query();
    let plain = format!("dataset={}{segment_query}", encode(&dataset.name));
    // Every result the page shows, asked for at once; the first sampled row is row 0.
    let paths = [
        format!("{at}/metrics?{plain}"),
        format!("{at}/curves?{plain}"),
        format!("{at}/importance?{query}{segment_query}&groups=true"),
        format!("{at}/influences/points?{query}&points={points}{class_query}{segment_query}"),
        format!("{at}/explanation?{query}&row=0{class_query}"),
    ];
    let (metrics, curves, importance, points, explanation) = tokio::join!(
        visit.get::<MetricsReport>(&paths[0]),
        visit.get::<CurvesReport>(&paths[1]),
        visit.get::<ImportanceReport>(&paths[2]),
        visit.get::<InfluencePoints>(&paths[3]),
        visit.get::<RowExplanation>(&paths[4]),
    );
    let mut notes = Vec::new();
    let metrics = optional(metrics, &mut notes)?;
    // Without metrics (no predictions, or no labels) the curves' note would say it again.
    let curves = match metrics {
        Some(_) => optional(curves, &mut notes)?,
        None => None,
    };
    let importance = optional(importance, &mut notes)?;
    let points = optional(points, &mut notes)?;
    let explanation = optional(explanation, &mut notes)?;
    notes.dedup();
    let segment = metrics
        .as_ref()
        .and_then(|m| m.source.segment.clone())
        .or_else(|| importance.as_ref().and_then(|i| i.source.segment.clone()));
    let data = ModelData {
        project: project.to_string(),
        model: model.to_string(),
        dataset: dataset.name.clone(),
        query,
        class_query,
        segment_query,
        segment,
        class: choice.output.unwrap_or(0),
        classes: (p.schema.task == sextant_api::Task::Multiclass)
            .then_some(p.schema.classes)
            .flatten(),
        task: p.schema.task,
        features: m.summary.features.clone(),
        id_column: p.schema.id.clone(),
        metrics: metrics.map(|m| m.result),
        curves,
        importance,
        points,
        explanation,
    };
    Ok((data, m, dataset, datasets, notes))
}

pub async fn model_page(
    mut visit: Visit,
    Path((project, model)): Path<(String, String)>,
    Query(choice): Query<ResultChoice>,
) -> Response {
    let (data, _, dataset, datasets, notes) =
        match load(&mut visit, &project, &model, &choice, POINTS).await {
            Ok(loaded) => loaded,
            Err(e) => return failure_page(&visit, e),
        };
    let at = model_url(&project, &model);
    let dataset_query = format!("dataset={}", encode(&dataset.name));
    let crumbs = crumbs(&project, Some((&model, &dataset_query)));
    let segments: Vec<Segment> = match visit
        .get(&format!("/api/v1/projects/{}/segments", encode(&project)))
        .await
    {
        Ok(segments) => segments,
        Err(e) => return failure_page(&visit, e),
    };
    let body = html! {
        h1 { (model) " on " (dataset.name) }
        (segment_line(data.segment.as_ref()))
        form.inline.choice method="get" action=(at) {
            label for="dataset" { "Dataset" }
            select #dataset name="dataset" { @for d in &datasets {
                option selected[d.name == dataset.name] { (d.name) }
            } }
            label for="method" { "Influences" }
            select #method name="method" {
                option value="" { "default" }
                option value="path-dependent" selected[choice.method.as_deref() == Some("path-dependent")] { "path-dependent" }
                option value="interventional" selected[choice.method.as_deref() == Some("interventional")] { "interventional" }
                option value="sampled" selected[choice.method.as_deref() == Some("sampled")] { "sampled" }
            }
            label for="background" { "Background" }
            select #background name="background" {
                option value="" { "any" }
                @for d in &datasets { option selected[choice.background.as_deref() == Some(d.name.as_str())] { (d.name) } }
            }
            @if let Some(classes) = data.classes {
                label for="class" { "Class" }
                select #class name="class" { @for k in 0..classes {
                    option value=(k) selected[k == data.class] { (k) }
                } }
            }
            label for="segment" { "Segment" }
            select #segment name="segment" {
                option value="" { "every row" }
                @for s in &segments { option selected[choice.segment.as_deref() == Some(s.name.as_str())] { (s.name) } }
            }
            label for="expression" { "or rows where" }
            input #expression name="expression" value=(choice.expression.as_deref().unwrap_or("")) placeholder="age < 30";
            button type="submit" { "Show" }
        }
        p.links {
            a href={ (at) "/table?kind=influences&" (data.query) (data.segment_query) } { "Influence table" } " · "
            a href={ (at) "/table?kind=predictions&dataset=" (encode(&dataset.name)) (data.segment_query) } { "Prediction table" } " · "
            a href={ (at) "/report?" (data.query) (data.class_query) (data.segment_query) } { "Printable report" } " · "
            a href={ (at) "/hotspots?dataset=" (encode(&dataset.name)) } { "Hotspots" } " · "
            a href={ (at) "/errors?dataset=" (encode(&dataset.name)) } { "Error influences" } " · "
            a href={ (at) "/fairness?dataset=" (encode(&dataset.name)) } { "Fairness" } " · "
            a href={ (at) "/drift" } { "Drift" }
        }
        @for note in &notes { p.note { (note) } }
        (quality_section(&data))
        (influence_section(&data))
        (data_block("sx-model", &data))
    };
    page(
        &visit,
        &format!("{model} on {}", dataset.name),
        &crumbs,
        body,
    )
    .into_response()
}

/// Which segment the reports cover, when one was asked for.
pub(super) fn segment_line(segment: Option<&SegmentScope>) -> Markup {
    let Some(s) = segment else {
        return html! {};
    };
    html! {
        p.segment {
            "Segment " @if let Some(name) = &s.name { strong { (name) } ": " }
            code { (s.expression) } " · " (count(s.rows)) " of " (count(s.of_rows)) " rows"
        }
    }
}

/// The metrics as a table, and the quality plots' places.
pub(super) fn quality_section(data: &ModelData) -> Markup {
    let Some(metrics) = &data.metrics else {
        return html! {};
    };
    html! {
        section.quality {
            h2 { "Quality" }
            (metrics_table(metrics))
            @match metrics {
                Metrics::Classification(q) if q.classes == 2 => {
                    div.plots {
                        figure { div.plot #plot-roc data-kind="roc" {} figcaption { "ROC curve" } }
                        figure { div.plot #plot-pr data-kind="pr" {} figcaption { "Precision-recall" } }
                        figure { div.plot #plot-calibration data-kind="calibration" {} figcaption { "Calibration" } }
                        figure {
                            div.plot #plot-confusion data-kind="confusion" {}
                            figcaption {
                                label for="threshold" { "Confusion at threshold " output #threshold-value { "0.50" } }
                                input #threshold type="range" min="0" max="1" step="0.01" value=(q.threshold.unwrap_or(0.5));
                            }
                        }
                    }
                }
                Metrics::Classification(_) => {
                    div.plots { figure { div.plot #plot-confusion data-kind="confusion" {} figcaption { "Confusion matrix" } } }
                }
                Metrics::Regression(_) => {
                    div.plots {
                        figure { div.plot #plot-residuals data-kind="residuals" {} figcaption { "Prediction against label" } }
                        figure { div.plot #plot-residual-histogram data-kind="residual-histogram" {} figcaption { "Residuals (label − prediction)" } }
                    }
                }
            }
        }
    }
}

/// A model's metrics for people: (name, value) in the order the pages show them.
pub(super) fn metric_rows(metrics: &Metrics) -> Vec<(&'static str, String)> {
    match metrics {
        Metrics::Classification(q) => vec![
            ("rows", count(q.rows)),
            ("accuracy", number(Some(q.accuracy))),
            ("ROC AUC", number(q.roc_auc)),
            ("log loss", number(Some(q.log_loss))),
            ("Brier", number(Some(q.brier))),
            ("precision", number(Some(q.precision))),
            ("recall", number(Some(q.recall))),
            ("F1", number(Some(q.f1))),
            ("threshold", number(q.threshold)),
        ],
        Metrics::Regression(q) => vec![
            ("rows", count(q.rows)),
            ("RMSE", number(Some(q.rmse))),
            ("MAE", number(Some(q.mae))),
            ("R²", number(q.r2)),
            ("MAPE %", number(q.mape)),
        ],
    }
}

/// Metrics as a two-column table.
pub(super) fn metrics_table(metrics: &Metrics) -> Markup {
    html! {
        table.metrics {
            tbody { @for (name, value) in metric_rows(metrics) { tr { th scope="row" { (name) } td.num { (value) } } } }
        }
    }
}

fn influence_section(data: &ModelData) -> Markup {
    let Some(importance) = &data.importance else {
        return html! {};
    };
    let method = importance.source.method.map_or("", |m| m.as_str());
    html! {
        section.influences {
            h2 { "Influences" span.meta { " " (method) " · " (count(importance.result.rows)) " rows" } }
            div.plots {
                figure.wide { div.plot #plot-importance data-kind="importance" {} figcaption { "Global importance: mean |influence|" } }
                figure.wide { div.plot #plot-beeswarm data-kind="beeswarm" {} figcaption { "Influence of each sampled row, coloured by the feature's value (high red, low blue); click a point for its explanation" } }
                figure {
                    div.plot #plot-dependence data-kind="dependence" {}
                    figcaption {
                        label for="dep-feature" { "Dependence of " }
                        select #dep-feature { @for f in &data.features { option { (f) } } }
                        label for="dep-colour" { " coloured by " }
                        select #dep-colour { option value="" { "none" } @for f in &data.features { option { (f) } } }
                    }
                }
                figure {
                    div.plot #plot-waterfall data-kind="waterfall" {}
                    figcaption {
                        form #waterfall-form.inline {
                            label for="wf-row" { "Explain row" }
                            input #wf-row type="number" min="0" value="0";
                            @if let Some(id) = &data.id_column {
                                label for="wf-id" { "or " (id) }
                                input #wf-id type="number";
                            }
                            button type="submit" { "Explain" }
                        }
                        p #waterfall-error.error role="alert" hidden {}
                    }
                }
            }
            @if let Some(groups) = importance.groups.as_ref().filter(|g| !g.is_empty()) {
                h3 { "Feature groups" }
                table.list.groups {
                    thead { tr { th { "Group" } th { "mean |Σ influence|" } th { "mean Σ influence" } th { "Features" } } }
                    tbody { @for g in groups {
                        tr {
                            td { (g.group) } td.num { (number(Some(g.mean_abs))) }
                            td.num { (number(Some(g.mean))) } td { (g.features.join(", ")) }
                        }
                    } }
                }
                p.meta { "A group's influence on a row is the sum of its features'; its importance the mean of that sum's absolute value." }
            }
            h3 { "Most important features" }
            @let sampled = importance.result.features.iter().any(|f| f.mean_abs_stderr.is_some());
            table.list {
                thead { tr {
                    th { "Feature" } th { "mean |influence|" }
                    @if sampled { th { "95 % interval (sampling)" } }
                    th { "mean influence" }
                } }
                tbody { @for f in importance.result.features.iter().take(20) {
                    tr {
                        td { (f.feature) } td.num { (number(Some(f.mean_abs))) }
                        @if sampled { td.num { (interval(f.mean_abs, f.mean_abs_stderr)) } }
                        td.num { (number(Some(f.mean))) }
                    }
                } }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct TableChoice {
    kind: Option<String>,
    dataset: String,
    method: Option<String>,
    background: Option<String>,
    segment: Option<String>,
    offset: Option<u64>,
}

/// Rows sampled for the beeswarm (per feature) and the first dependence plot.
const POINTS: u32 = 500;

/// Rows of a result table shown per page.
const TABLE_ROWS: u64 = 50;

pub async fn table_page(
    mut visit: Visit,
    Path((project, model)): Path<(String, String)>,
    Query(q): Query<TableChoice>,
) -> Response {
    if let Err(e) = signed_in(&mut visit).await {
        return failure_page(&visit, e);
    }
    let kind = match q.kind.as_deref() {
        Some("predictions") => "predictions",
        Some("error-influences") => "error-influences",
        _ => "influences",
    };
    let choice = ResultChoice {
        dataset: Some(q.dataset.clone()),
        method: q.method.clone(),
        background: q.background.clone(),
        output: None,
        segment: q.segment.clone(),
        expression: None,
    };
    let query = format!("{}{}", choice.api_query(&q.dataset), choice.segment_query());
    let offset = q.offset.unwrap_or(0);
    let api = format!(
        "/api/v1/projects/{}/models/{}/{kind}?{query}&offset={offset}&limit={TABLE_ROWS}",
        encode(&project),
        encode(&model)
    );
    let table: TablePage = match visit.get(&api).await {
        Ok(t) => t,
        Err(e) => return failure_page(&visit, e),
    };
    let at = model_url(&project, &model);
    let here = format!("{at}/table?kind={kind}&{query}");
    let total = table
        .source
        .segment
        .as_ref()
        .map_or(table.source.rows_total, |s| s.rows);
    let last_page = total.saturating_sub(1) / TABLE_ROWS * TABLE_ROWS;
    let crumbs = crumbs(&project, Some((&model, &query)));
    let body = html! {
        h1 { (kind) " of " (model) " on " (q.dataset) }
        (segment_line(table.source.segment.as_ref()))
        p.meta { "Rows " (count(offset.min(total))) "–" (count((offset + TABLE_ROWS).min(total))) " of " (count(total))
            " · click a column's name to sort this page by it" }
        (pager(&here, offset, last_page))
        div.scroll {
            table.list.sortable.results {
                thead { tr { @for c in &table.columns { th scope="col" { button.sort type="button" { (c) } } } } }
                tbody { @for row in &table.rows {
                    tr { @for v in row { td.num data-value=(v.map_or(String::new(), |v| v.to_string())) { (number(*v)) } } }
                } }
            }
        }
        (pager(&here, offset, last_page))
    };
    page(&visit, &format!("{kind} of {model}"), &crumbs, body).into_response()
}

fn pager(here: &str, offset: u64, last: u64) -> Markup {
    let prev = offset.saturating_sub(TABLE_ROWS);
    let next = (offset + TABLE_ROWS).min(last);
    html! {
        nav.pager aria-label="Pages" {
            a href={ (here) "&offset=0" } { "« first" }
            a href={ (here) "&offset=" (prev) } { "‹ previous" }
            a href={ (here) "&offset=" (next) } { "next ›" }
            a href={ (here) "&offset=" (last) } { "last »" }
        }
    }
}

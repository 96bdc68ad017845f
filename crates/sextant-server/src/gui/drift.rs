//! A model's drift from a reference dataset to a current one: each feature's statistics and
//! verdict in a table, one feature's histogram of reference against current, the score's
//! change, and the features that contribute to it as a bar chart; for editors without a result
//! yet, the form that runs the drift job.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use sextant_api::{Dataset, DatasetRole, DriftReport, FeatureDrift, Role};

use super::failure_page;
use super::hotspots::{given, project_and_datasets, refused_beside};
use super::layout::{count, crumbs, csrf_field, encode, model_url, number, page, project_url};
use super::signin::{role_on, signed_in};
use super::visit::{ApiFailure, Visit};

/// What the page shows.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DriftChoice {
    /// The reference dataset (default: the project's first train or test dataset).
    pub reference: Option<String>,
    /// The current dataset (default: the first production dataset).
    pub dataset: Option<String>,
    /// The feature (or score output) whose histogram is drawn (default: the largest PSI).
    pub feature: Option<String>,
    /// The PSI threshold (default 0.2).
    pub psi: Option<String>,
}

/// The reference and the current dataset: those given, else a train or test dataset as the
/// reference and a production one as the current, never the same dataset as the other.
fn defaults(
    datasets: &[Dataset],
    reference: Option<String>,
    current: Option<String>,
) -> (Option<String>, Option<String>) {
    let named = |roles: &[DatasetRole], other_than: Option<&str>| {
        datasets
            .iter()
            .filter(|d| Some(d.name.as_str()) != other_than)
            .find(|d| roles.is_empty() || roles.contains(&d.summary.role))
            .map(|d| d.name.clone())
    };
    let reference = reference.or_else(|| {
        named(&[DatasetRole::Train, DatasetRole::Test], current.as_deref())
            .or_else(|| named(&[], current.as_deref()))
    });
    let current = current.or_else(|| {
        named(&[DatasetRole::Production], reference.as_deref()).or_else(|| {
            named(
                &[DatasetRole::Test, DatasetRole::Custom, DatasetRole::Train],
                reference.as_deref(),
            )
        })
    });
    (reference, current)
}

/// A histogram: each bin's reference share and current share as bars side by side.
fn histogram(f: &FeatureDrift) -> Markup {
    let top = f
        .bins
        .iter()
        .map(|b| b.reference.max(b.current))
        .fold(1e-9, f64::max);
    let (left, plot_height, width) = (40.0, 180.0, 560.0);
    let slot = width / f.bins.len().max(1) as f64;
    let bar = (slot * 0.4).min(28.0);
    let y = |share: f64| 10.0 + plot_height * (1.0 - share / top);
    let label = |b: &sextant_api::DriftBin| match (&b.category, b.lower, b.upper) {
        (Some(c), _, _) => c.clone(),
        (None, None, Some(u)) => format!("≤ {}", number(Some(u))),
        (None, Some(l), None) => format!("> {}", number(Some(l))),
        (None, Some(_), Some(u)) => format!("≤ {}", number(Some(u))),
        (None, None, None) => "all".into(),
    };
    html! {
        svg.drift-histogram #drift-histogram role="img" viewBox="0 0 620 240" width="620" height="240"
            aria-label={ "Histogram of " (f.feature) ": reference against current" } {
            line x1=(left) x2=(left + width) y1=(y(0.0)) y2=(y(0.0)) stroke="#888" {}
            text x=(left - 4.0) y=(y(top) + 4.0) font-size="10" text-anchor="end" { (number(Some(top))) }
            text x=(left - 4.0) y=(y(0.0)) font-size="10" text-anchor="end" { "0" }
            @for (i, b) in f.bins.iter().enumerate() {
                @let x = left + slot * i as f64 + slot / 2.0;
                rect.reference x=(x - bar) y=(y(b.reference)) width=(bar) height=(y(0.0) - y(b.reference)) fill="#7f8c8d" {
                    title { (label(b)) ": reference " (number(Some(b.reference))) }
                }
                rect.current x=(x) y=(y(b.current)) width=(bar) height=(y(0.0) - y(b.current)) fill="#d35400" {
                    title { (label(b)) ": current " (number(Some(b.current))) }
                }
                text x=(x) y=(y(0.0) + 14.0) font-size="10" text-anchor="middle" { (label(b)) }
            }
            rect x=(left + 8.0) y="4" width="10" height="10" fill="#7f8c8d" {}
            text x=(left + 22.0) y="13" font-size="11" { "reference" }
            rect x=(left + 92.0) y="4" width="10" height="10" fill="#d35400" {}
            text x=(left + 106.0) y="13" font-size="11" { "current" }
        }
    }
}

/// The contributors of output 0 as bars from zero: right raised the mean margin.
fn contributors_chart(r: &DriftReport) -> Markup {
    let shown: Vec<_> = r.contributors.iter().filter(|c| c.output == 0).collect();
    let reach = shown
        .iter()
        .map(|c| c.contribution.abs())
        .fold(1e-12, f64::max);
    let (middle, half, row) = (360.0, 200.0, 22.0);
    let x = |v: f64| middle + half * (v / reach).clamp(-1.0, 1.0);
    let height = row * shown.len() as f64 + 30.0;
    html! {
        svg.drift-contributors #drift-contributors role="img" viewBox={ "0 0 580 " (height) } width="580" height=(height)
            aria-label="Each feature's part of the change of the mean margin" {
            line x1=(middle) x2=(middle) y1="2" y2=(height - 22.0) stroke="#888" {}
            @for (i, c) in shown.iter().enumerate() {
                @let y = 6.0 + row * i as f64;
                @let (from, to) = (x(0.0).min(x(c.contribution)), x(0.0).max(x(c.contribution)));
                text x="150" y=(y + 12.0) font-size="12" text-anchor="end" { (c.feature) }
                rect.bar x=(from) y=(y) width=((to - from).max(0.5)) height=(row - 6.0)
                    fill=(if c.contribution > 0.0 { "#d62728" } else { "#1f77b4" }) {
                    title { (c.feature) ": " (format!("{:+.6}", c.contribution)) }
                }
            }
            text x=(middle) y=(height - 6.0) font-size="11" text-anchor="middle" { "0: ← lowered the mean margin · raised it →" }
        }
    }
}

fn features_table(rows: &[FeatureDrift], link: &dyn Fn(&str) -> String, id: &str) -> Markup {
    html! {
        table.list.drift #(id) {
            thead { tr {
                th { "Feature" } th { "PSI" } th { "KS" } th { "p-value" } th { "Wasserstein" }
                th { "Jensen–Shannon" } th { "Missing" } th { "New / out of range" } th { "Verdict" }
            } }
            tbody { @for f in rows {
                tr.drifted[f.drifted] {
                    td { a href=(link(&f.feature)) { (f.feature) } @if !f.exact { " ≈" } }
                    td.num { (number(f.psi)) }
                    td.num { (number(f.ks)) }
                    td.num { (number(f.ks_pvalue.or(f.chi2_pvalue))) }
                    td.num { (number(f.wasserstein)) }
                    td.num { (number(f.jensen_shannon)) }
                    td.num { (number(Some(f.missing_reference))) " → " (number(Some(f.missing_current))) }
                    td {
                        @for c in &f.new_categories { span.chip { (c.category) " " (number(Some(c.share))) } }
                        @if let Some(o) = f.out_of_range.filter(|o| *o > 0.0) { (number(Some(o))) " outside" }
                    }
                    td {
                        @if let Some(p) = &f.problem { span.reason { (p) } }
                        @else if f.drifted { strong.drift { "drift" } " " span.meta { (f.reasons.join("; ")) } }
                        @else { "stable" }
                    }
                }
            } }
        }
    }
}

fn report_section(r: &DriftReport, chosen: Option<&str>, link: &dyn Fn(&str) -> String) -> Markup {
    let shown = chosen
        .and_then(|name| {
            r.features
                .iter()
                .chain(&r.score.outputs)
                .find(|f| f.feature == name)
        })
        .or_else(|| {
            r.features
                .iter()
                .filter(|f| f.psi.is_some())
                .max_by(|a, b| a.psi.unwrap_or(0.0).total_cmp(&b.psi.unwrap_or(0.0)))
        });
    html! {
        p.verdict.(if r.drifted > 0 { "violated" } else { "met" }) #drift-summary {
            strong { (r.drifted) " of " (r.features.len()) " features drifted" }
            " from " code { (r.reference) } " (" (count(r.rows_reference)) " rows) to " code { (r.dataset) } " (" (count(r.rows_current)) " rows)"
        }
        p.meta {
            "A feature drifted when its PSI is at least " (r.thresholds.psi)
            ", its missing share changed by " (r.thresholds.missing) " or more, or at least "
            (r.thresholds.new_values) " of its values are in new categories or outside the reference's range"
            @if let Some(p) = r.thresholds.pvalue { ", or its p-value is below " (p) }
            @if let Some(js) = r.thresholds.jensen_shannon { ", or its Jensen–Shannon distance is at least " (js) }
            ". Numeric bins are the reference's deciles; ≈ marks statistics read from buckets of nearby values. From drift job "
            @if let Some(job) = r.job { code { (job) } } "."
        }
        (features_table(&r.features, link, "drift-features"))
        @if let Some(f) = shown {
            section {
                h2 { "Histogram of " (f.feature) }
                p.meta { "Each bin's share of the present values: reference grey, current orange. Choose another feature in the tables." }
                (histogram(f))
            }
        }
        section {
            h2 { "Score" }
            (features_table(&r.score.outputs, link, "drift-score"))
            table.metrics { tbody {
                @for (k, (a, b)) in r.score.mean_reference.iter().zip(&r.score.mean_current).enumerate() {
                    tr { th { "Mean score" @if r.score.outputs.len() > 1 { " (" (r.score.outputs[k].feature) ")" } } td { (number(Some(*a))) " → " (number(Some(*b))) } }
                }
                @for m in &r.score.metric_changes {
                    tr { th { (m.metric) } td { (number(m.reference)) " → " (number(m.current)) " (" (number(m.change)) ")" } }
                }
            } }
        }
        @if let Some(a) = &r.attribution {
            section {
                h2 { "What moved the score" }
                p.meta {
                    "Each feature's mean " (a.method.as_str()) " influence on " (count(a.rows_current)) " current rows minus on "
                    (count(a.rows_reference)) " reference rows, against " (count(a.background_rows)) " background rows of "
                    code { (a.background.as_deref().unwrap_or(&r.reference)) }
                    ": they add up to the change of the mean margin, " (format!("{:+.6}", a.change.first().copied().unwrap_or(0.0))) "."
                }
                (contributors_chart(r))
            }
        }
    }
}

/// The form that runs the drift job of this model between the two datasets.
fn run_form(visit: &Visit, project: &str, model: &str, reference: &str, dataset: &str) -> Markup {
    html! {
        form.grid #drift-job method="post" action={ (project_url(project)) "/jobs" } {
            (csrf_field(visit))
            input type="hidden" name="kind" value="drift";
            input type="hidden" name="model" value=(model);
            input type="hidden" name="reference" value=(reference);
            input type="hidden" name="dataset" value=(dataset);
            span {} button type="submit" { "Compute drift from " (reference) " to " (dataset) }
        }
    }
}

pub async fn drift_page(
    mut visit: Visit,
    Path((project, model)): Path<(String, String)>,
    Query(choice): Query<DriftChoice>,
) -> Response {
    let me = match signed_in(&mut visit).await {
        Ok(me) => me,
        Err(e) => return failure_page(&visit, e),
    };
    let base = format!("/api/v1/projects/{}", encode(&project));
    let (_, datasets) = match project_and_datasets(&mut visit, &base).await {
        Ok(both) => both,
        Err(e) => return failure_page(&visit, e),
    };
    let (reference, dataset) =
        defaults(&datasets, given(&choice.reference), given(&choice.dataset));
    let psi = given(&choice.psi);
    let mut notes = Vec::new();
    let mut failure: Option<ApiFailure> = None;
    let report = match (&reference, &dataset) {
        (Some(reference), Some(dataset)) => {
            let mut at = format!(
                "{base}/models/{}/drift?reference={}&dataset={}",
                encode(&model),
                encode(reference),
                encode(dataset)
            );
            if let Some(p) = &psi {
                at.push_str(&format!("&psi={}", encode(p)));
            }
            let answer = visit.get::<DriftReport>(&at).await;
            match refused_beside(answer, &mut notes, &mut failure) {
                Ok(r) => r,
                Err(e) => return failure_page(&visit, e),
            }
        }
        _ => {
            notes.push(format!(
                "project {project:?} needs two datasets to compare: upload a reference (training or test data) and a current one (production data)"
            ));
            None
        }
    };
    let editor = role_on(&me, &project) >= Some(Role::Editor);
    let at = model_url(&project, &model);
    let (reference_name, dataset_name) = (
        reference.clone().unwrap_or_default(),
        dataset.clone().unwrap_or_default(),
    );
    let here = format!(
        "{at}/drift?reference={}&dataset={}{}",
        encode(&reference_name),
        encode(&dataset_name),
        psi.as_deref()
            .map(|p| format!("&psi={}", encode(p)))
            .unwrap_or_default()
    );
    let link = |feature: &str| format!("{here}&feature={}#drift-histogram", encode(feature));
    let crumbs = crumbs(
        &project,
        Some((&model, &format!("dataset={}", encode(&dataset_name)))),
    );
    let body = html! {
        h1 { "Drift of " (model) }
        form.inline.choice #drift-form method="get" action={ (at) "/drift" } {
            label for="reference" { "Reference" }
            select #reference name="reference" { @for d in &datasets {
                option selected[d.name == reference_name] { (d.name) }
            } }
            label for="dataset" { "Current" }
            select #dataset name="dataset" { @for d in &datasets {
                option selected[d.name == dataset_name] { (d.name) }
            } }
            label for="psi" { "PSI threshold" }
            input #psi name="psi" size="5" value=(psi.as_deref().unwrap_or("")) placeholder="0.2";
            button type="submit" { "Show" }
        }
        @if let Some(e) = &failure { p.error { (e.message) } }
        @for note in &notes { p.note { (note) } }
        @match &report {
            Some(r) => (report_section(r, choice.feature.as_deref(), &link)),
            None if editor && failure.is_none() && reference.is_some() && dataset.is_some() =>
                (run_form(&visit, &project, &model, &reference_name, &dataset_name)),
            None => {},
        }
    };
    page(&visit, &format!("Drift of {model}"), &crumbs, body).into_response()
}

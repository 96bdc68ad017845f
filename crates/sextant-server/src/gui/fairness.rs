//! A model's fairness on a dataset: the protected and reference groups chosen from the project's
//! segments (or typed as expressions), each group's rates, fairlearn's measures between them
//! with their intervals, the four-fifths verdict, and the differences drawn with their intervals.

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use sextant_api::{Dataset, FairnessMeasure, FairnessReport, GroupRates, Segment, SegmentScope};

use super::failure_page;
use super::layout::{count, crumbs, encode, model_url, number, page};
use super::model::optional;
use super::signin::signed_in;
use super::visit::{ApiFailure, Visit};

/// What the fairness page shows.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct FairnessChoice {
    /// The dataset (default: the project's first labelled one).
    pub dataset: Option<String>,
    /// The protected group: a segment's name (default: the first segment marked protected).
    pub protected: Option<String>,
    /// Or an expression (it wins over `protected`).
    pub protected_expression: Option<String>,
    /// The reference group: a segment's name (default: every other row).
    pub reference: Option<String>,
    /// Or an expression (it wins over `reference`).
    pub reference_expression: Option<String>,
    /// The decision threshold (default: the predict job's, else 0.5).
    pub threshold: Option<String>,
}

/// The expression typed, else the segment chosen; `None` when neither is given.
fn picked<'a>(typed: Option<&'a str>, chosen: Option<&'a str>) -> Option<&'a str> {
    let given = |s: Option<&'a str>| s.map(str::trim).filter(|s| !s.is_empty());
    given(typed).or(given(chosen))
}

fn group_cell(scope: &SegmentScope) -> Markup {
    html! {
        @if let Some(name) = &scope.name { strong { (name) } ": " }
        code { (scope.expression) } " · " (count(scope.rows)) " of " (count(scope.of_rows)) " rows"
    }
}

fn rates_row(side: &str, g: &GroupRates) -> Markup {
    html! {
        tr {
            th scope="row" { (side) }
            td.num { (count(g.rows)) }
            td.num { (count(g.selected)) }
            @for rate in [g.selection_rate, g.true_positive_rate, g.false_positive_rate, g.false_negative_rate, g.precision, g.accuracy] {
                td.num { (number(rate)) }
            }
        }
    }
}

/// The differences as dots on a common axis from 0, each with its interval as a bar.
fn differences_chart(r: &FairnessReport) -> Markup {
    let shown: Vec<(&str, &FairnessMeasure)> = r
        .measures()
        .into_iter()
        .filter(|(name, _)| name.ends_with("_difference"))
        .collect();
    let top = shown
        .iter()
        .filter_map(|(_, m)| m.high.or(m.value))
        .fold(0.05_f64, f64::max)
        * 1.1;
    let (left, width, row) = (230.0, 320.0, 26.0);
    let x = |v: f64| left + width * (v / top).clamp(0.0, 1.0);
    let height = row * shown.len() as f64 + 30.0;
    html! {
        svg.fairness-chart #fairness-chart role="img" viewBox={ "0 0 580 " (height) } width="580" height=(height)
            aria-label="Differences between the groups, with their intervals" {
            line x1=(x(0.0)) x2=(x(0.0)) y1="4" y2=(height - 24.0) stroke="#888" {}
            @for (i, (name, m)) in shown.iter().enumerate() {
                @let y = 16.0 + row * i as f64;
                text x=(left - 8.0) y=(y + 4.0) text-anchor="end" font-size="12" { (name.trim_end_matches("_difference").replace('_', " ")) }
                @if let (Some(lo), Some(hi)) = (m.low, m.high) {
                    line.interval x1=(x(lo)) x2=(x(hi)) y1=(y) y2=(y) stroke="#d62728" stroke-width="2" {}
                }
                @if let Some(v) = m.value {
                    circle.value cx=(x(v)) cy=(y) r="4" fill="#d62728" {
                        title { (name) " " (number(Some(v))) }
                    }
                }
            }
            text x=(x(0.0)) y=(height - 8.0) font-size="11" text-anchor="middle" { "0" }
            text x=(x(top)) y=(height - 8.0) font-size="11" text-anchor="end" { (number(Some(top))) }
        }
    }
}

fn report_section(r: &FairnessReport) -> Markup {
    let verdict = match r.four_fifths_rule_violated {
        Some(true) => ("violated", "Four-fifths rule violated"),
        Some(false) => ("met", "Four-fifths rule met"),
        None => (
            "undefined",
            "Four-fifths rule undefined (no row selected in either group)",
        ),
    };
    html! {
        p.groups { "Protected: " (group_cell(&r.protected)) br; "Reference: " (group_cell(&r.reference)) }
        p.verdict.(verdict.0) #four-fifths {
            strong { (verdict.1) } " — selection-rate ratio " (number(r.demographic_parity_ratio.value)) " (disparate impact; the rule asks for at least 0.8)"
        }
        p.meta {
            "Rows are selected at probability ≥ " (r.threshold) "; intervals at " (r.confidence * 100.0) " % from "
            (count(r.resamples as u64)) " bootstrap resamples of each group (seed " (r.seed) "), from predict job "
            code { (r.source.job) } "."
        }
        section {
            h2 { "Rates by group" }
            table.list #fairness-groups {
                thead { tr { th {} th { "Rows" } th { "Selected" } th { "Selection rate" } th { "TPR" } th { "FPR" } th { "FNR" } th { "Precision" } th { "Accuracy" } } }
                tbody { (rates_row("protected", &r.groups.protected)) (rates_row("reference", &r.groups.reference)) }
            }
        }
        section {
            h2 { "Measures" }
            p.hint { "A difference is |protected − reference|, a ratio the smaller rate over the larger, as fairlearn defines them." }
            table.list #fairness-measures {
                thead { tr { th { "Measure" } th { "Value" } th { "Interval" } } }
                tbody { @for (name, m) in r.measures() {
                    tr { td { code { (name) } } td.num { (number(m.value)) }
                        td.num { @match (m.low, m.high) { (Some(lo), Some(hi)) => { (number(Some(lo))) " – " (number(Some(hi))) }, _ => "—" } } }
                } }
            }
            (differences_chart(r))
        }
    }
}

pub async fn fairness_page(
    mut visit: Visit,
    Path((project, model)): Path<(String, String)>,
    Query(choice): Query<FairnessChoice>,
) -> Response {
    if let Err(e) = signed_in(&mut visit).await {
        return failure_page(&visit, e);
    }
    let base = format!("/api/v1/projects/{}", encode(&project));
    let (datasets_at, segments_at) = (format!("{base}/datasets"), format!("{base}/segments"));
    let (datasets, segments) = tokio::join!(
        visit.get::<Vec<Dataset>>(&datasets_at),
        visit.get::<Vec<Segment>>(&segments_at),
    );
    let (datasets, segments) = match (datasets, segments) {
        (Ok(d), Ok(s)) => (d, s),
        (Err(e), _) | (_, Err(e)) => return failure_page(&visit, e),
    };
    let dataset = choice
        .dataset
        .clone()
        .or_else(|| {
            datasets
                .iter()
                .find(|d| d.summary.has_label)
                .map(|d| d.name.clone())
        })
        .or_else(|| datasets.first().map(|d| d.name.clone()));
    let default_protected = segments
        .iter()
        .find(|s| s.protected)
        .map(|s| s.name.clone());
    let protected = picked(
        choice.protected_expression.as_deref(),
        choice.protected.as_deref().or(default_protected.as_deref()),
    );
    let reference = picked(
        choice.reference_expression.as_deref(),
        choice.reference.as_deref(),
    );
    let threshold = choice
        .threshold
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let mut notes = Vec::new();
    let mut failure: Option<ApiFailure> = None;
    let report = match (&dataset, protected) {
        (Some(dataset), Some(protected)) => {
            let mut q = format!(
                "dataset={}&protected={}",
                encode(dataset),
                encode(protected)
            );
            if let Some(r) = reference {
                q.push_str(&format!("&reference={}", encode(r)));
            }
            if let Some(t) = threshold {
                q.push_str(&format!("&threshold={}", encode(t)));
            }
            let at = format!("{base}/models/{}/fairness?{q}", encode(&model));
            match optional(visit.get::<FairnessReport>(&at).await, &mut notes) {
                Ok(r) => r,
                // A group the API refuses (an unknown column, groups that overlap) is shown
                // beside the form it was typed in.
                Err(e) if e.status.is_client_error() && e.status.as_u16() != 403 => {
                    failure = Some(e);
                    None
                }
                Err(e) => return failure_page(&visit, e),
            }
        }
        (None, _) => {
            notes.push(format!(
                "project {project:?} has no dataset yet: upload one first"
            ));
            None
        }
        (Some(_), None) => {
            notes.push("Choose a protected group: mark a segment protected on the project page, or type an expression.".into());
            None
        }
    };
    let at = model_url(&project, &model);
    let dataset_name = dataset.clone().unwrap_or_default();
    let crumbs = crumbs(
        &project,
        Some((&model, &format!("dataset={}", encode(&dataset_name)))),
    );
    let chosen_protected = choice.protected.as_deref().or(default_protected.as_deref());
    let body = html! {
        h1 { "Fairness of " (model) " on " (dataset_name) }
        form.inline.choice #fairness-form method="get" action={ (at) "/fairness" } {
            label for="dataset" { "Dataset" }
            select #dataset name="dataset" { @for d in &datasets {
                option selected[d.name == dataset_name] { (d.name) }
            } }
            label for="protected" { "Protected group" }
            select #protected name="protected" {
                option value="" { "—" }
                @for s in &segments {
                    option value=(s.name) selected[chosen_protected == Some(s.name.as_str())] {
                        (s.name) @if s.protected { " (protected)" }
                    }
                }
            }
            label for="protected-expression" { "or rows where" }
            input #protected-expression name="protected_expression" value=(choice.protected_expression.as_deref().unwrap_or("")) placeholder="age < 25";
            label for="reference" { "Reference group" }
            select #reference name="reference" {
                option value="" { "every other row" }
                @for s in &segments {
                    option value=(s.name) selected[choice.reference.as_deref() == Some(s.name.as_str())] { (s.name) }
                }
            }
            label for="reference-expression" { "or rows where" }
            input #reference-expression name="reference_expression" value=(choice.reference_expression.as_deref().unwrap_or("")) placeholder="age >= 25";
            label for="threshold" { "Threshold" }
            input #threshold name="threshold" size="5" value=(threshold.unwrap_or("")) placeholder="0.5";
            button type="submit" { "Show" }
        }
        @if let Some(e) = &failure { p.error { (e.message) } }
        @for note in &notes { p.note { (note) } }
        @if let Some(r) = &report { (report_section(r)) }
    };
    page(&visit, &format!("Fairness of {model}"), &crumbs, body).into_response()
}

//! The frame every page shares (head, navigation, the sign-out form) and small pieces pages
//! repeat: numbers, times, hidden CSRF fields, data for the scripts.

use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Serialize;

use super::assets;
use super::visit::{CSRF_FIELD, Visit};

/// A whole page: `crumbs` are the links above the title (name, URL).
pub fn page(visit: &Visit, title: &str, crumbs: &[(String, String)], body: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Sextant" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(assets::url("style.css"));
                script src=(assets::url("plotly.min.js")) defer {}
                script src=(assets::url("app.js")) defer {}
            }
            body {
                header.top {
                    a.brand href="/ui/projects" { "Sextant" }
                    nav aria-label="Breadcrumbs" {
                        @for (name, url) in crumbs {
                            span.sep { "/" }
                            a href=(url) { (name) }
                        }
                    }
                    @if let Some(user) = &visit.user {
                        form.signout method="post" action="/ui/signout" {
                            (csrf_field(visit))
                            span.user { "Signed in as " strong { (user) } }
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    assets::compress(visit.gzip, markup.into_string())
}

/// The hidden field that carries the CSRF token in a form.
pub fn csrf_field(visit: &Visit) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(visit.csrf); }
}

/// Data for the page's script, in a JSON block the browser does not run (`<` is escaped so that
/// no value can close the element).
pub fn data_block(id: &str, value: &impl Serialize) -> Markup {
    let json = serde_json::to_string(value)
        .expect("page data serialises")
        .replace('<', "\\u003c");
    html! { script type="application/json" id=(id) { (PreEscaped(json)) } }
}

/// A number for people: up to 4 significant digits, `—` for none.
pub fn number(value: Option<f64>) -> String {
    match value {
        None => "—".into(),
        Some(v) if !v.is_finite() => "—".into(),
        Some(v) if v == v.trunc() && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) if v.abs() >= 1e4 || v.abs() < 1e-3 => format!("{v:.3e}"),
        Some(v) => {
            let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
            format!("{v:.digits$}")
        }
    }
}

/// A 95 % interval `low – high` around `value` from its standard error, `—` for none.
pub fn interval(value: f64, stderr: Option<f64>) -> String {
    match stderr {
        Some(se) if se.is_finite() => format!(
            "{} – {}",
            number(Some(value - 1.96 * se)),
            number(Some(value + 1.96 * se))
        ),
        _ => "—".into(),
    }
}

/// A count with thousands separators.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A time, to the second, in UTC.
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The URL of a project's page.
pub fn project_url(project: &str) -> String {
    format!("/ui/projects/{}", encode(project))
}

/// The URL of a model's page (its table and report pages are below it).
pub fn model_url(project: &str, model: &str) -> String {
    format!("{}/models/{}", project_url(project), encode(model))
}

/// The links above a page's title: its project, and the model's page for the result `query`
/// names when there is one.
pub fn crumbs(project: &str, model: Option<(&str, &str)>) -> Vec<(String, String)> {
    let mut links = vec![(project.to_string(), project_url(project))];
    if let Some((model, query)) = model {
        links.push((
            model.to_string(),
            format!("{}?{query}", model_url(project, model)),
        ));
    }
    links
}

/// Percent-encodes a URL component.
pub fn encode(text: &str) -> String {
    sextant_api::url_component(text)
}

/// A bytes size for people.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(number(Some(0.123456)), "0.1235");
        assert_eq!(number(Some(12.0)), "12");
        assert_eq!(number(Some(123.456)), "123.5");
        assert_eq!(number(Some(1.5e-5)), "1.500e-5");
        assert_eq!(number(None), "—");
        assert_eq!(count(1234567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(encode("/ui/p?a=b c"), "%2Fui%2Fp%3Fa%3Db%20c");
        assert_eq!(size(2048), "2.0 KiB");
    }
}

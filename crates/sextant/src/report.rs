//! Human-readable tables of the CLI client and the quickstart.

use sextant_api::{
    ImportanceReport, InfluenceMethod, InfluenceScale, Metrics, MetricsReport, Provenance,
};

/// Prints rows under a header, columns aligned.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// A figure as the tables show it: whole numbers without decimals, others to six places, and
/// a value that is not a number as `-`.
pub fn figure(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) if x.is_finite() => format!("{x:.6}"),
        _ => "-".into(),
    }
}

/// Says which segment a report covers, if any.
pub fn print_segment(source: &Provenance) {
    if let Some(segment) = &source.segment {
        println!("segment {}", scope_line(segment));
    }
}

/// A segment as a line says it: `NAME: EXPR (ROWS of OF_ROWS rows)`.
pub fn scope_line(scope: &sextant_api::SegmentScope) -> String {
    let name = scope
        .name
        .as_ref()
        .map(|n| format!("{n}: "))
        .unwrap_or_default();
    format!(
        "{name}{} ({} of {} rows)",
        scope.expression, scope.rows, scope.of_rows
    )
}

/// Prints an importance document as a table.
pub fn print_importance(report: &ImportanceReport) {
    let features = &report.result.features;
    let top = features.first().map_or(0.0, |f| f.mean_abs);
    let rows: Vec<Vec<String>> = features
        .iter()
        .map(|f| {
            let bar = if top > 0.0 {
                "#".repeat(((f.mean_abs / top) * 30.0).round() as usize)
            } else {
                String::new()
            };
            vec![
                f.feature.clone(),
                format!("{:.6}", f.mean_abs),
                format!("{:+.6}", f.mean),
                bar,
            ]
        })
        .collect();
    let scale = match (report.result.scale, report.result.loss) {
        (InfluenceScale::Loss, Some(loss)) => format!("on each row's {}", loss.name()),
        (InfluenceScale::Loss, None) => "on each row's loss".into(),
        (InfluenceScale::Output, _) => "on the model's output".into(),
        (InfluenceScale::Margin, _) => "on the margin".into(),
    };
    let what = match report.result.scale {
        InfluenceScale::Loss => "error importance",
        _ => "global importance",
    };
    println!(
        "{what}: mean |influence| over {} rows of {} ({}, {scale})",
        report.result.rows,
        report.source.dataset,
        report.source.method.map_or("?", InfluenceMethod::as_str)
    );
    if report.result.scale == InfluenceScale::Loss {
        println!("a positive mean φ raises the loss on average: the feature drives errors");
    }
    print_segment(&report.source);
    print_table(&["FEATURE", "MEAN |φ|", "MEAN φ", ""], &rows);
    if let Some(groups) = &report.groups {
        println!("feature groups: mean |Σ influence of the members| over the same rows");
        let rows: Vec<Vec<String>> = groups
            .iter()
            .map(|g| {
                vec![
                    g.group.clone(),
                    format!("{:.6}", g.mean_abs),
                    format!("{:+.6}", g.mean),
                    g.features.join(", "),
                ]
            })
            .collect();
        print_table(&["GROUP", "MEAN |Σφ|", "MEAN Σφ", "FEATURES"], &rows);
    }
}

/// A named figure of a metrics table.
type Figure = (&'static str, Option<f64>);

/// Prints a metrics document.
pub fn print_metrics(report: &MetricsReport) {
    let (rows, figures, confusion): (u64, Vec<Figure>, Option<&Vec<Vec<u64>>>) =
        match &report.result {
            Metrics::Regression(m) => (
                m.rows,
                vec![
                    ("rmse", Some(m.rmse)),
                    ("mae", Some(m.mae)),
                    ("r2", m.r2),
                    ("mape", m.mape),
                ],
                None,
            ),
            Metrics::Classification(m) => {
                let mut figures = vec![
                    ("accuracy", Some(m.accuracy)),
                    ("precision", Some(m.precision)),
                    ("recall", Some(m.recall)),
                    ("f1", Some(m.f1)),
                    ("roc_auc", m.roc_auc),
                    ("log_loss", Some(m.log_loss)),
                    ("brier", Some(m.brier)),
                ];
                if m.threshold.is_some() {
                    figures.push(("threshold", m.threshold));
                }
                (m.rows, figures, Some(&m.confusion_matrix))
            }
        };
    println!(
        "metrics of {} on {} ({rows} labelled rows)",
        report.source.model, report.source.dataset,
    );
    print_segment(&report.source);
    let table: Vec<Vec<String>> = figures
        .iter()
        .map(|(name, x)| vec![name.to_string(), figure(*x)])
        .collect();
    print_table(&["METRIC", "VALUE"], &table);
    if let Some(matrix) = confusion {
        println!("confusion matrix (rows: actual class, columns: predicted class)");
        let header: Vec<String> = std::iter::once("".to_string())
            .chain((0..matrix.len()).map(|k| format!("pred {k}")))
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = matrix
            .iter()
            .enumerate()
            .map(|(k, row)| {
                std::iter::once(format!("actual {k}"))
                    .chain(row.iter().map(|&n| figure(Some(n as f64))))
                    .collect()
            })
            .collect();
        print_table(&header, &rows);
    }
}

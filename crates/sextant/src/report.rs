//! Human-readable tables of the CLI client and the quickstart.

use serde_json::Value;

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

pub fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => format!("{x:.6}"),
        None if v.is_null() => "-".into(),
        None => v.to_string(),
    }
}

/// Prints an importance document as a table.
pub fn print_importance(doc: &Value) {
    let features = doc["result"]["features"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let top = features
        .first()
        .and_then(|f| f["mean_abs"].as_f64())
        .unwrap_or(0.0);
    let rows: Vec<Vec<String>> = features
        .iter()
        .map(|f| {
            let v = f["mean_abs"].as_f64().unwrap_or(0.0);
            let bar = if top > 0.0 {
                "#".repeat(((v / top) * 30.0).round() as usize)
            } else {
                String::new()
            };
            vec![
                f["feature"].as_str().unwrap_or("?").to_string(),
                format!("{v:.6}"),
                format!("{:+.6}", f["mean"].as_f64().unwrap_or(0.0)),
                bar,
            ]
        })
        .collect();
    println!(
        "global importance: mean |influence| over {} rows of {} ({}, on the margin)",
        doc["result"]["rows"],
        doc["source"]["dataset"].as_str().unwrap_or("?"),
        doc["source"]["method"].as_str().unwrap_or("?")
    );
    print_table(&["FEATURE", "MEAN |φ|", "MEAN φ", ""], &rows);
}

/// Prints a metrics document.
pub fn print_metrics(doc: &Value) {
    let m = &doc["result"];
    println!(
        "metrics of {} on {} ({} labelled rows)",
        doc["source"]["model"].as_str().unwrap_or("?"),
        doc["source"]["dataset"].as_str().unwrap_or("?"),
        m["rows"]
    );
    let names: &[&str] = if m["task"] == "regression" {
        &["rmse", "mae", "r2", "mape"]
    } else {
        &[
            "accuracy",
            "precision",
            "recall",
            "f1",
            "roc_auc",
            "log_loss",
            "brier",
            "threshold",
        ]
    };
    let rows: Vec<Vec<String>> = names
        .iter()
        .filter(|n| !m[**n].is_null() || **n != "threshold")
        .map(|n| vec![n.to_string(), number(&m[*n])])
        .collect();
    print_table(&["METRIC", "VALUE"], &rows);
    if let Some(matrix) = m["confusion_matrix"].as_array() {
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
                    .chain(row.as_array().into_iter().flatten().map(number))
                    .collect()
            })
            .collect();
        print_table(&header, &rows);
    }
}

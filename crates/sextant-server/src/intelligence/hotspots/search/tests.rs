use sextant_data::segment::{Cell, Expression};

use super::*;
use crate::intelligence::hotspots::survey::Survey;

/// A table of `rows` rows: `age` 18…77, `region` one of four (and missing every 50th row),
/// `noise` unrelated; the loss is 1 in `region == "east" and age < 25` and on every 10th row
/// elsewhere.
fn planted(rows: usize) -> (Vec<String>, Vec<Vec<Cell>>, Vec<f64>) {
    let names = vec!["age".to_string(), "region".into(), "noise".into()];
    let regions = ["north", "south", "east", "west"];
    let mut table = Vec::new();
    let mut losses = Vec::new();
    for r in 0..rows {
        let age = 18 + (r * 7) % 60;
        let region = if r % 50 == 49 {
            Cell::Missing
        } else {
            Cell::Text(regions[(r / 3) % 4].into())
        };
        let weak = age < 25 && region == Cell::Text("east".into());
        losses.push(f64::from(u8::from(weak || r % 10 == 0)));
        table.push(vec![
            Cell::Text(age.to_string()),
            region,
            Cell::Number(((r * 13) % 17) as f64),
        ]);
    }
    (names, table, losses)
}

fn coded(names: &[String], table: &[Vec<Cell>], losses: &[f64], bins: u32) -> Coded {
    let mut survey = Survey::new(names.len(), table.len() as u64);
    for row in table {
        survey.add(row);
    }
    let mut coded = Coded::new(survey.cuts(bins, &[true, true, true]));
    for (row, &loss) in table.iter().zip(losses) {
        coded.add(row, loss);
    }
    coded
}

/// The rows and summed loss of an expression, evaluated by the segment language itself.
fn evaluated(
    expression: &str,
    names: &[String],
    table: &[Vec<Cell>],
    losses: &[f64],
) -> (u64, f64) {
    let parsed = Expression::parse(expression).unwrap();
    let at: Vec<usize> = parsed
        .columns()
        .iter()
        .map(|c| names.iter().position(|n| n == c).unwrap())
        .collect();
    let (mut rows, mut sum) = (0, 0.0);
    for (row, loss) in table.iter().zip(losses) {
        let cells: Vec<Cell> = at.iter().map(|&i| row[i].clone()).collect();
        if parsed.matches(&cells).unwrap() {
            rows += 1;
            sum += loss;
        }
    }
    (rows, sum)
}

#[test]
fn the_planted_segment_is_found_first_and_every_count_is_the_expressions() {
    let (names, table, losses) = planted(3000);
    let coded = coded(&names, &table, &losses, 10);
    let found = search(&coded, &names, 30, 10, HotspotRank::Excess);
    let first = &found.best[0];
    assert_eq!(first.conditions().len(), 2, "{:?}", first.conditions());
    assert!(
        first
            .conditions()
            .contains(&"region == \"east\"".to_string())
    );
    let overall = coded.overall();
    for candidate in &found.best {
        let expression = candidate.conditions().join(" and ");
        let (rows, sum) = evaluated(&expression, &names, &table, &losses);
        assert_eq!(rows, candidate.rows, "{expression}");
        assert!((sum - candidate.sum).abs() < 1e-9, "{expression}");
        assert!((candidate.excess - (sum - overall * rows as f64)).abs() < 1e-9);
        assert!(candidate.rows >= 30 && candidate.excess > 0.0);
        assert_eq!(coded.losses_of(candidate).len() as u64, rows);
    }
    // Most excess first, one per column or pair of columns.
    for pair in found.best.windows(2) {
        assert!(pair[0].excess >= pair[1].excess);
    }
    let keys: Vec<Vec<usize>> = found
        .best
        .iter()
        .map(|c| {
            let mut k: Vec<usize> = c.tests.iter().map(|t| t.column).collect();
            k.dedup();
            k
        })
        .collect();
    for (i, k) in keys.iter().enumerate() {
        assert!(!keys[..i].contains(k), "{k:?} twice");
    }
    assert!(found.candidates > found.best.len() as u64);
}

#[test]
fn ranked_by_lift_the_worst_mean_comes_first() {
    let (names, table, losses) = planted(3000);
    let coded = coded(&names, &table, &losses, 10);
    let found = search(&coded, &names, 30, 10, HotspotRank::Lift);
    let means: Vec<f64> = found.best.iter().map(|c| c.sum / c.rows as f64).collect();
    assert!(means.windows(2).all(|w| w[0] >= w[1]), "{means:?}");
    assert!(found.best.iter().all(|c| c.excess > 0.0 && c.rows >= 30));
    let first = found.best[0].conditions();
    assert!(
        first.contains(&"region == \"east\"".to_string()),
        "{first:?}"
    );
    // Every planted row is a loss of 1, and the planted segment holds nothing else.
    assert_eq!(means[0], 1.0);
}

#[test]
fn a_segment_below_the_minimum_size_is_not_reported() {
    let (names, table, losses) = planted(3000);
    let coded = coded(&names, &table, &losses, 10);
    let weak = evaluated("region == \"east\" and age < 25", &names, &table, &losses).0;
    let found = search(&coded, &names, weak + 200, 10, HotspotRank::Excess);
    assert!(found.best.iter().all(|c| c.rows > weak + 200));
}

#[test]
fn numbers_are_cut_at_sampled_quantiles_and_texts_by_their_most_frequent_values() {
    let mut survey = Survey::new(2, 1000);
    for r in 0..1000 {
        let text = if r % 4 == 0 { "rare" } else { "common" };
        survey.add(&[Cell::Number(f64::from(r)), Cell::Text(text.into())]);
    }
    let cuts = survey.cuts(4, &[true, true]);
    assert_eq!(cuts[0], Cut::Numeric(vec![250.0, 500.0, 750.0]));
    assert_eq!(
        cuts[1],
        Cut::Categorical(vec!["common".into(), "rare".into()])
    );
    // A number beyond every cut is in the last bin, a missing one in its own.
    assert_eq!(cuts[0].code(&Cell::Number(1e9)), 3);
    assert_eq!(cuts[0].code(&Cell::Number(250.0)), 1);
    assert_eq!(cuts[0].code(&Cell::Missing), 4);
    assert_eq!(cuts[1].code(&Cell::Text("other".into())), 2);
    // A column said not numeric is cut by value even when it holds numbers.
    let mut survey = Survey::new(1, 10);
    for r in 0..10 {
        survey.add(&[Cell::Text((r % 3).to_string())]);
    }
    assert!(matches!(&survey.cuts(4, &[false])[0], Cut::Categorical(v) if v.len() == 3));
}

#[test]
fn odd_column_names_and_texts_are_quoted_so_the_expression_parses_back() {
    let names = vec!["debt ratio".to_string(), "and".into()];
    let table: Vec<Vec<Cell>> = (0..400)
        .map(|r| {
            vec![
                Cell::Number(f64::from(r % 40) / 4.0),
                Cell::Text(if r % 5 == 0 { "say \"hi\"" } else { "x\\y" }.into()),
            ]
        })
        .collect();
    let losses: Vec<f64> = (0..400)
        .map(|r| f64::from(u8::from(r % 5 == 0 || r % 40 > 35)))
        .collect();
    let coded = coded(&names, &table, &losses, 10);
    let found = search(&coded, &names, 10, 10, HotspotRank::Excess);
    assert!(!found.best.is_empty());
    for candidate in &found.best {
        let expression = candidate.conditions().join(" and ");
        assert_eq!(
            evaluated(&expression, &names, &table, &losses).0,
            candidate.rows,
            "{expression}"
        );
    }
}

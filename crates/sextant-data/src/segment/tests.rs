use std::io::Write;

use proptest::prelude::*;

use super::*;

/// A row of columns `age` (numbers written as text, as in a CSV file), `score` (numbers) and
/// `region` (texts); `None` is missing.
fn row(
    expression: &Expression,
    age: Option<f64>,
    score: Option<f64>,
    region: Option<&str>,
) -> Vec<Cell> {
    expression
        .columns()
        .iter()
        .map(|c| match c.as_str() {
            "age" => age.map_or(Cell::Missing, |v| Cell::Text(v.to_string())),
            "score" => score.map_or(Cell::Missing, Cell::Number),
            "region" | "home region" => region.map_or(Cell::Missing, |t| Cell::Text(t.into())),
            other => panic!("no column {other} in the test rows"),
        })
        .collect()
}

/// An expression, a row's age, score and region, and whether the row is in the segment.
type Case = (
    &'static str,
    Option<f64>,
    Option<f64>,
    Option<&'static str>,
    bool,
);

#[test]
fn the_grammar_reads_as_documented() {
    let cases: &[Case] = &[
        ("age >= 30", Some(30.0), None, None, true),
        ("age >= 30", Some(29.5), None, None, false),
        ("age > 30", None, None, None, false),
        ("not (age > 30)", None, None, None, true),
        ("age is missing", None, None, None, true),
        ("age is not missing", None, None, None, false),
        ("region in (\"EU\", \"UK\")", None, None, Some("UK"), true),
        ("region in ('EU')", None, None, Some("US"), false),
        ("region not in ('EU', 'UK')", None, None, Some("US"), true),
        ("region not in ('EU', 'UK')", None, None, None, true),
        (
            "region == \"say \\\"hi\\\"\"",
            None,
            None,
            Some("say \"hi\""),
            true,
        ),
        ("`home region` != 'EU'", None, None, Some("UK"), true),
        // `and` binds tighter than `or`; `not` tighter than `and`.
        (
            "age < 18 or age > 60 and region == 'EU'",
            Some(10.0),
            None,
            Some("US"),
            true,
        ),
        (
            "(age < 18 or age > 60) and region == 'EU'",
            Some(10.0),
            None,
            Some("US"),
            false,
        ),
        (
            "not age < 18 and region == 'EU'",
            Some(30.0),
            None,
            Some("EU"),
            true,
        ),
        (
            "not (age < 18 and region == 'EU')",
            Some(10.0),
            None,
            Some("EU"),
            false,
        ),
        (
            "score <= -1.5e-3 OR score == 2",
            Some(1.0),
            Some(2.0),
            None,
            true,
        ),
        ("score in (1, 2.5)", None, Some(2.5), None, true),
        ("age == 30", Some(30.0), None, None, true),
        ("score != 3", None, None, None, false),
    ];
    for &(text, age, score, region, expected) in cases {
        let expression = Expression::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let got = expression
            .matches(&row(&expression, age, score, region))
            .unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got, expected, "{text} on {age:?} {score:?} {region:?}");
    }
}

#[test]
fn written_names_and_texts_read_back_as_themselves() {
    for column in [
        "age",
        "home region",
        "and",
        "IN",
        "x.y",
        "2nd",
        "_",
        "ümlaut",
        "a-b",
    ] {
        for text in ["east", "say \"hi\"", "back\\slash", "it's", ""] {
            let written = format!("{} == {}", column_reference(column), text_literal(text));
            let parsed = Expression::parse(&written).unwrap_or_else(|e| panic!("{written}: {e}"));
            assert_eq!(parsed.columns(), [column.to_string()], "{written}");
            let inside = parsed.matches(&[Cell::Text(text.into())]).unwrap();
            let outside = parsed.matches(&[Cell::Text(format!("{text}!"))]).unwrap();
            assert!(inside && !outside, "{written}");
        }
    }
    assert_eq!(column_reference("age"), "age");
    assert_eq!(column_reference("and"), "`and`");
    assert_eq!(text_literal("a\"b"), "\"a\\\"b\"");
}

#[test]
fn bad_expressions_say_where_and_why() {
    // (expression, position, part of the message)
    let cases: &[(&str, usize, &str)] = &[
        ("", 1, "empty"),
        ("age >", 6, "expected a value"),
        ("age = 3", 5, "`=` is written `==`"),
        ("age >= 30 and", 14, "expected a column"),
        ("(age >= 30", 1, "not closed"),
        ("age >= 30)", 10, "expected `and`, `or` or the end"),
        ("region < \"EU\"", 10, "compares numbers"),
        ("region in \"EU\"", 11, "expected `(`"),
        ("region in (\"EU\" \"UK\")", 17, "expected `,` or `)`"),
        ("region == \"EU", 11, "no closing"),
        ("age is nothing", 8, "expected `missing`"),
        ("age 30", 5, "expected a comparison"),
        ("age >= 3x", 8, "is not a number"),
        ("age >= 30 & x", 11, "unexpected '&'"),
        ("region not 'EU'", 12, "expected `in` after `not`"),
        ("and", 1, "expected a column"),
        // A bare column is not a condition.
        ("age", 4, "expected a comparison"),
    ];
    for &(text, position, fragment) in cases {
        let error = Expression::parse(text).expect_err(text);
        assert_eq!(error.position, position, "{text}: {error}");
        assert!(error.message.contains(fragment), "{text}: {error}");
    }
}

#[test]
fn the_check_names_unknown_columns_and_type_mismatches() {
    let kinds = |c: &str| match c {
        "age" => Some(ColumnKind::Number),
        "region" => Some(ColumnKind::Any),
        _ => None,
    };
    let check = |text: &str| Expression::parse(text).unwrap().check(kinds, "age, region");
    assert!(check("age > 3 and region == 'EU'").is_ok());
    let unknown = check("age > 3 or regoin == 'EU'").unwrap_err();
    assert_eq!(unknown.position, 12);
    assert!(
        unknown.message.contains("unknown column \"regoin\""),
        "{unknown}"
    );
    let mismatch = check("region == 'EU' and age == '30'").unwrap_err();
    assert_eq!(mismatch.position, 27);
    assert!(mismatch.message.contains("holds numbers"), "{mismatch}");
    assert!(check("age in (1, 'x')").is_err());
    // A text column may hold numbers written as text: the check lets that through.
    assert!(check("region == 3").is_ok());
}

#[test]
fn cells_that_cannot_be_compared_are_errors() {
    let expression = Expression::parse("score > 3").unwrap();
    let error = expression
        .matches(&[Cell::Text("high".into())])
        .unwrap_err();
    assert!(error.contains("\"high\""), "{error}");
    let expression = Expression::parse("score == 'high'").unwrap();
    assert!(expression.matches(&[Cell::Number(3.0)]).is_err());
}

#[test]
fn tables_are_filtered_row_by_row_from_csv_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    let mut file = std::fs::File::create(&csv).unwrap();
    writeln!(
        file,
        "age,region,score\n25,EU,0.5\n40,UK,\n,EU,0.9\n61,US,NA"
    )
    .unwrap();
    drop(file);
    let expression = Expression::parse("region in ('EU', 'UK') and not (age < 30)").unwrap();
    assert_eq!(
        segment_rows(&csv, &expression).unwrap(),
        [false, true, true, false]
    );
    let missing = Expression::parse("score is missing").unwrap();
    assert_eq!(
        segment_rows(&csv, &missing).unwrap(),
        [false, true, false, true]
    );
    let unknown = Expression::parse("regoin == 'EU'").unwrap();
    let error = segment_rows(&csv, &unknown).unwrap_err().to_string();
    assert!(error.contains("no column \"regoin\""), "{error}");
    let bad = Expression::parse("region > 3").unwrap();
    let error = segment_rows(&csv, &bad).unwrap_err().to_string();
    assert!(
        error.contains("row 1") && error.contains("\"EU\""),
        "{error}"
    );

    let parquet = dir.path().join("people.parquet");
    write_parquet(&parquet);
    let expression = Expression::parse("region == 'EU' and score >= 0.5").unwrap();
    assert_eq!(
        segment_rows(&parquet, &expression).unwrap(),
        [true, false, false]
    );
    let mismatch = Expression::parse("score == 'x'").unwrap();
    assert!(segment_rows(&parquet, &mismatch).is_err());
}

fn write_parquet(path: &std::path::Path) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    let region: ArrayRef = Arc::new(StringArray::from(vec![Some("EU"), None, Some("EU")]));
    let score: ArrayRef = Arc::new(Float64Array::from(vec![Some(0.5), Some(0.7), None]));
    let batch = RecordBatch::try_from_iter([("region", region), ("score", score)]).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// The test's own expressions, rendered to text and evaluated without the parser.
#[derive(Clone, Debug)]
enum Reference {
    Or(Box<Reference>, Box<Reference>),
    And(Box<Reference>, Box<Reference>),
    Not(Box<Reference>),
    Compare(usize, &'static str, f64),
    Equal(&'static str),
    In(usize, Vec<f64>),
    Missing(usize),
}

const NUMERIC: [&str; 2] = ["age", "score"];
const REGIONS: [&str; 3] = ["EU", "UK", "US"];

fn reference() -> impl Strategy<Value = Reference> {
    let leaf = prop_oneof![
        (
            0..2usize,
            prop::sample::select(vec!["==", "!=", "<", "<=", ">", ">="]),
            -2i32..3
        )
            .prop_map(|(c, op, v)| Reference::Compare(c, op, f64::from(v))),
        prop::sample::select(REGIONS.to_vec()).prop_map(Reference::Equal),
        (0..2usize, prop::collection::vec(-2i32..3, 1..4))
            .prop_map(|(c, v)| Reference::In(c, v.into_iter().map(f64::from).collect())),
        (0..2usize).prop_map(Reference::Missing),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Reference::Or(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Reference::And(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Reference::Not(Box::new(a))),
        ]
    })
}

impl Reference {
    /// Fully parenthesised, so the text means the tree whatever the precedence.
    fn text(&self) -> String {
        match self {
            Reference::Or(a, b) => format!("({} or {})", a.text(), b.text()),
            Reference::And(a, b) => format!("({} AND {})", a.text(), b.text()),
            Reference::Not(a) => format!("not ({})", a.text()),
            Reference::Compare(c, op, v) => format!("{} {op} {v}", NUMERIC[*c]),
            Reference::Equal(t) => format!("region == '{t}'"),
            Reference::In(c, vs) => {
                let list: Vec<String> = vs.iter().map(|v| v.to_string()).collect();
                format!("{} in ({})", NUMERIC[*c], list.join(", "))
            }
            Reference::Missing(c) => format!("{} is missing", NUMERIC[*c]),
        }
    }

    fn holds(&self, numbers: [Option<f64>; 2], region: Option<&str>) -> bool {
        match self {
            Reference::Or(a, b) => a.holds(numbers, region) || b.holds(numbers, region),
            Reference::And(a, b) => a.holds(numbers, region) && b.holds(numbers, region),
            Reference::Not(a) => !a.holds(numbers, region),
            Reference::Compare(c, op, v) => numbers[*c].is_some_and(|x| match *op {
                "==" => x == *v,
                "!=" => x != *v,
                "<" => x < *v,
                "<=" => x <= *v,
                ">" => x > *v,
                _ => x >= *v,
            }),
            Reference::Equal(t) => region == Some(*t),
            Reference::In(c, vs) => numbers[*c].is_some_and(|x| vs.contains(&x)),
            Reference::Missing(c) => numbers[*c].is_none(),
        }
    }
}

fn maybe_number() -> impl Strategy<Value = Option<f64>> {
    prop::option::of((-3i32..4).prop_map(f64::from))
}

proptest! {
    #[test]
    fn parsing_and_evaluation_agree_with_the_reference(
        tree in reference(),
        rows in prop::collection::vec(
            (maybe_number(), maybe_number(), prop::option::of(prop::sample::select(REGIONS.to_vec()))),
            1..20,
        ),
    ) {
        let text = tree.text();
        let expression = Expression::parse(&text).unwrap();
        for (age, score, region) in rows {
            let cells = row(&expression, age, score, region);
            prop_assert_eq!(
                expression.matches(&cells).unwrap(),
                tree.holds([age, score], region),
                "{} on {:?} {:?} {:?}", text, age, score, region
            );
        }
    }
}

//! Any model, end to end: ONNX files (tree ensembles and graphs) through `sextant predict`,
//! `explain` and `inspect`, sampled Shapley with its error bars, and the platform: an ONNX
//! upload named by its project, sampled influences jobs, their tables and importance.

use serde_json::Value;

use crate::platform::json_out;
use crate::server::Server;
use crate::support::*;

fn onnx(name: &str) -> String {
    data(&format!("onnx/{name}")).display().to_string()
}

/// `sextant explain` with `args`, read back.
fn explain(dir: &Scratch, name: &str, args: &[&str]) -> (Table, String) {
    let out = dir.join(name);
    let mut all = vec!["explain", "--output", out.to_str().unwrap()];
    all.extend_from_slice(args);
    let stderr = sextant_ok(&all);
    (Table::read(&out), stderr)
}

/// The error of a `sextant` run that must fail.
fn refused(args: &[&str]) -> String {
    let out = sextant(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

#[test]
fn onnx_models_predict_and_explain_from_the_cli() {
    let dir = scratch("any-model");
    let (rows, background) = (onnx("rows.csv"), onnx("background.csv"));
    let forest = onnx("rf_regression.onnx");
    // The files name no features (f0, f1, …); the data's columns are x0, x1, ….
    let names = "x0,x1,x2,x3,x4,x5";
    let with = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(["--feature-names".to_string(), names.to_string()]);
        all
    };
    let strs = |v: &[String]| v.iter().map(String::clone).collect::<Vec<String>>();
    let run = |name: &str, args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        explain(&dir, name, &args)
    };
    let common = with(&[
        "--model",
        &forest,
        "--data",
        &rows,
        "--background",
        &background,
    ]);

    // A forest's sampled values with few features are exact: they equal interventional TreeSHAP.
    let (tree, _) = run(
        "tree.csv",
        &[
            strs(&common),
            vec!["--method".into(), "interventional".into()],
        ]
        .concat(),
    );
    let (exact, stderr) = run(
        "exact.csv",
        &[strs(&common), vec!["--method".into(), "sampled".into()]].concat(),
    );
    assert!(stderr.contains("exact (every coalition"), "{stderr}");
    assert!(additivity_error(&stderr) < 1e-9, "{stderr}");
    for (a, b) in tree.rows.iter().zip(&exact.rows) {
        for (j, name) in tree.columns.iter().enumerate() {
            assert!(
                (a[j] - b[j]).abs() < 1e-9,
                "{name}: {} against {}",
                a[j],
                b[j]
            );
        }
        assert_eq!(b[exact.column("x0__stderr")], 0.0);
    }

    // Sampled for real (no enumeration): error bars, reproducible by seed.
    let sampled = |name: &str, seed: &str| {
        let extra: Vec<String> = [
            "--method",
            "sampled",
            "--exact-max-features",
            "0",
            "--max-evals",
            "400",
            "--seed",
            seed,
            "--rows",
            "20",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        run(name, &[strs(&common), extra].concat())
    };
    let (a, stderr) = sampled("a.csv", "7");
    assert!(stderr.contains("antithetic pairs"), "{stderr}");
    assert!(additivity_error(&stderr) < 1e-9, "{stderr}");
    assert_eq!(a.rows.len(), 20);
    let se = a.column("x3__stderr");
    assert!(
        a.rows.iter().all(|r| r[se] > 0.0),
        "standard errors are estimated"
    );
    let (b, _) = sampled("b.csv", "7");
    let (c, _) = sampled("c.csv", "8");
    assert_eq!(a.rows, b.rows, "the same seed gives the same values");
    assert_ne!(a.rows, c.rows, "another seed draws other samples");

    // Path-dependent needs covers, which ONNX files lack: counted from --cover-data.
    let e = refused(&["explain", "--model", &forest, "--data", &rows]);
    assert!(
        e.contains("holds no node covers") && e.contains("--cover-data"),
        "{e}"
    );
    let (dependent, stderr) = run(
        "dependent.csv",
        &with(&["--model", &forest, "--data", &rows, "--cover-data", &rows]),
    );
    assert!(additivity_error(&stderr) < 1e-9, "{stderr}");
    assert_eq!(dependent.rows.len(), 200);

    // A graph: TreeSHAP refused by name, a background required, options checked.
    let mlp = onnx("mlp_regression.onnx");
    let fails = |args: &[String]| refused(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let e = fails(&with(&[
        "explain",
        "--model",
        &mlp,
        "--data",
        &rows,
        "--background",
        &background,
        "--method",
        "interventional",
    ]));
    assert!(
        e.contains("needs a tree ensemble") && e.contains("--method sampled"),
        "{e}"
    );
    let e = fails(&with(&["explain", "--model", &mlp, "--data", &rows]));
    assert!(e.contains("--method sampled needs --background"), "{e}");
    let e = fails(&with(&[
        "explain",
        "--model",
        &mlp,
        "--data",
        &rows,
        "--background",
        &background,
        "--target-stderr=-1",
    ]));
    assert!(e.contains("--target-stderr"), "{e}");
    // Unnamed, the columns are not found, and the error says how to name them; named, the graph
    // predicts what onnxruntime does.
    let e = refused(&["predict", "--model", &mlp, "--data", &rows]);
    assert!(e.contains("\"f0\"") && e.contains("--feature-names"), "{e}");
    let e = refused(&[
        "predict",
        "--model",
        &mlp,
        "--data",
        &rows,
        "--feature-names",
        "a,b",
    ]);
    assert!(e.contains("lists 2 names and the model reads 6"), "{e}");
    let predictions = dir.join("mlp.pred.csv");
    let args = with(&[
        "predict",
        "--model",
        &mlp,
        "--data",
        &rows,
        "--output",
        predictions.to_str().unwrap(),
    ]);
    sextant_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let ours = Table::read(&predictions);
    let theirs = Table::read(&data("onnx/mlp_regression.pred.csv"));
    let p = ours.column("prediction");
    assert_eq!(ours.rows.len(), theirs.rows.len());
    for (a, b) in ours.rows.iter().zip(&theirs.rows) {
        assert!(
            (a[p] - b[0]).abs() <= 1e-5 * b[0].abs().max(1.0),
            "{} against {}",
            a[p],
            b[0]
        );
    }
    // A graph explained by sampling by default.
    let (graph, stderr) = run(
        "graph.csv",
        &with(&[
            "--model",
            &mlp,
            "--data",
            &rows,
            "--background",
            &background,
            "--rows",
            "10",
        ]),
    );
    assert!(stderr.contains("sampled"), "{stderr}");
    assert!(graph.columns.contains(&"x5__stderr".to_string()));
}

#[test]
fn inspect_tells_graphs_and_coverless_forests() {
    let out = sextant(&["inspect", "--model", &onnx("mlp_binary.onnx")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("through tract") && text.contains("features     20"),
        "{text}"
    );
    let out = sextant(&["inspect", "--model", &onnx("gb_binary.onnx")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("covers       none in the file"), "{text}");
}

/// A project of the fixtures' six features, its rows as test data and a background.
fn onnx_project(server: &Server) {
    server.cli_ok(&[
        "project",
        "create",
        "forest",
        "--task",
        "regression",
        "--features",
        "x0,x1,x2,x3,x4,x5",
    ]);
    for (file, name, role) in [
        ("rows.csv", "rows", "test"),
        ("background.csv", "background", "background"),
    ] {
        server.cli_ok(&[
            "data",
            "add",
            "forest",
            &onnx(file),
            "--name",
            name,
            "--role",
            role,
        ]);
    }
}

fn job(server: &Server, model: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "job",
        "run",
        "forest",
        "--kind",
        "influences",
        "--model",
        model,
        "--dataset",
        "rows",
    ];
    args.extend_from_slice(extra);
    args.extend(["--wait", "--json"]);
    json_out(&server.cli_ok(&args))
}

#[test]
fn the_platform_explains_onnx_models() {
    let server = Server::start_fresh("any-model", &[]);
    onnx_project(&server);
    // The files name no features: the project's name their columns, in order.
    for (file, name) in [
        ("mlp_regression.onnx", "mlp"),
        ("rf_regression.onnx", "forest"),
    ] {
        let out = server.cli_ok(&["model", "add", "forest", &onnx(file), "--name", name]);
        assert!(out.contains(&format!("added model {name}")), "{out}");
    }
    let models = server.get_ok("/api/v1/projects/forest/models");
    let mlp = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "mlp")
        .unwrap();
    assert_eq!(mlp["summary"]["format"], "onnx");
    assert_eq!(mlp["summary"]["features"][0], "x0");
    assert!(mlp["summary"]["cost_per_row"].as_f64().unwrap() > 1.0);

    // A graph's influences are sampled by default, with standard errors in the table and a
    // confidence interval on its importance.
    let done = job(
        &server,
        "mlp",
        &["--background", "background", "--max-evals", "1000"],
    );
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["spec"]["options"]["method"], "sampled");
    assert_eq!(done["spec"]["options"]["target_stderr"], 0.001);
    let page = server.get_ok(
        "/api/v1/projects/forest/models/mlp/influences?dataset=rows&background=background&limit=5",
    );
    let columns: Vec<&str> = page["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        columns.contains(&"x5__stderr") && columns.contains(&"margin"),
        "{columns:?}"
    );
    let importance = server
        .get_ok("/api/v1/projects/forest/models/mlp/importance?dataset=rows&background=background");
    assert_eq!(importance["result"]["scale"], "output");
    for f in importance["result"]["features"].as_array().unwrap() {
        let se = f["mean_abs_stderr"].as_f64().unwrap();
        assert!(se > 0.0 && se < f["mean_abs"].as_f64().unwrap(), "{f}");
    }

    // TreeSHAP is refused on a graph, and path-dependent on trees whose file has no covers.
    let (status, body) = server.post(
        "/api/v1/projects/forest/jobs",
        &serde_json::json!({"kind": "influences", "model": "mlp", "dataset": "rows",
                            "background": "background", "options": {"method": "interventional"}}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("method sampled"),
        "{body}"
    );
    let (status, body) = server.post(
        "/api/v1/projects/forest/jobs",
        &serde_json::json!({"kind": "influences", "model": "forest", "dataset": "rows"}),
    );
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("node covers") && message.contains("role train"),
        "{body}"
    );
    // With training data in the project, the covers are counted from it, and the values are the
    // CLI's with --cover-data on the same rows.
    server.cli_ok(&[
        "data",
        "add",
        "forest",
        &onnx("rows.csv"),
        "--name",
        "training",
        "--role",
        "train",
    ]);
    let dependent = job(&server, "forest", &[]);
    assert_eq!(dependent["state"], "succeeded", "{dependent}");
    assert_eq!(
        dependent["spec"]["inputs"]["datasets"]["covers"]["name"],
        "training"
    );
    let page = server.get_ok(
        "/api/v1/projects/forest/models/forest/influences?dataset=rows&method=path-dependent&limit=200",
    );
    let dir = scratch("any-model-covers");
    let cli = dir.join("dependent.csv");
    sextant_ok(&[
        "explain",
        "--model",
        &onnx("rf_regression.onnx"),
        "--data",
        &onnx("rows.csv"),
        "--cover-data",
        &onnx("rows.csv"),
        "--feature-names",
        "x0,x1,x2,x3,x4,x5",
        "--output",
        cli.to_str().unwrap(),
    ]);
    let cli = Table::read(&cli);
    let columns: Vec<&str> = page["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for (r, row) in page["rows"].as_array().unwrap().iter().enumerate() {
        for name in ["x0", "x2", "base_value"] {
            let ours = row[columns.iter().position(|c| *c == name).unwrap()]
                .as_f64()
                .unwrap();
            let theirs = cli.rows[r][cli.column(name)];
            assert!(
                (ours - theirs).abs() < 1e-12,
                "row {r} {name}: {ours} against {theirs}"
            );
        }
    }
    let (status, body) = server.post(
        "/api/v1/projects/forest/jobs",
        &serde_json::json!({"kind": "influences", "model": "forest", "dataset": "rows",
                            "background": "background", "options": {"seed": 3}}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("options.seed"),
        "{body}"
    );

    // The forest's interventional TreeSHAP and its exact sampled values agree.
    let tree = job(&server, "forest", &["--background", "background"]);
    assert_eq!(tree["state"], "succeeded", "{tree}");
    let sampled = job(
        &server,
        "forest",
        &["--background", "background", "--method", "sampled"],
    );
    assert_eq!(sampled["state"], "succeeded", "{sampled}");
    let at = "/api/v1/projects/forest/models/forest/influences?dataset=rows&background=background&limit=200";
    let tree = server.get_ok(&format!("{at}&method=interventional"));
    let sampled = server.get_ok(&format!("{at}&method=sampled"));
    let column = |page: &Value, name: &str| {
        let at = page["columns"]
            .as_array()
            .unwrap()
            .iter()
            .position(|c| c == name)
            .unwrap();
        page["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[at].as_f64().unwrap())
            .collect::<Vec<f64>>()
    };
    for name in ["x0", "x3", "base_value"] {
        for (a, b) in column(&tree, name).iter().zip(column(&sampled, name)) {
            assert!((a - b).abs() < 1e-9, "{name}: {a} against {b}");
        }
    }
}

//! `sextant inspect`: what a model file holds.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use sextant_model::{Feature, FeatureKind, Forest, Graph, Model};

use crate::Failure;

#[derive(Args)]
pub struct InspectArgs {
    /// The model file (XGBoost JSON, LightGBM text or ONNX).
    #[arg(long)]
    model: PathBuf,
}

pub fn run(args: InspectArgs) -> Result<(), Failure> {
    let model = crate::load_model(&args.model)?;
    let out = match &model {
        Model::Trees(forest) => describe(forest),
        Model::Graph(graph) => describe_graph(graph),
    }
    .expect("formatting into a String cannot fail");
    // A reader that stops early (`| head`) is not an error.
    match std::io::stdout().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(anyhow::Error::from(e)
            .context("cannot write to standard output")
            .into()),
        _ => Ok(()),
    }
}

fn describe(forest: &Forest) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    let info = forest.info();
    writeln!(
        out,
        "format       {} (library version {})",
        info.format, info.library_version
    )?;
    writeln!(
        out,
        "objective    {} (link: {})",
        info.objective,
        forest.link().name()
    )?;
    writeln!(out, "outputs      {}", forest.n_outputs())?;
    writeln!(out, "trees        {}", forest.trees().len())?;
    writeln!(out, "leaves       {}", forest.leaf_count())?;
    writeln!(out, "max depth    {}", forest.max_depth())?;
    let margins: Vec<String> = forest
        .base_margin()
        .iter()
        .map(|m| format!("{m:?}"))
        .collect();
    writeln!(out, "base margin  {}", margins.join(", "))?;
    if !forest.has_covers() {
        writeln!(
            out,
            "covers       none in the file: path-dependent TreeSHAP needs --cover-data (interventional and sampled do not)"
        )?;
    }
    write_features(&mut out, forest.features())?;
    Ok(out)
}

fn describe_graph(graph: &Graph) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    let info = graph.info();
    writeln!(
        out,
        "format       {} (producer {})",
        info.format, info.library_version
    )?;
    writeln!(out, "objective    {}", info.objective)?;
    writeln!(out, "outputs      {}", graph.n_outputs())?;
    writeln!(
        out,
        "runs         through tract; influences by sampled Shapley (no trees for TreeSHAP)"
    )?;
    write_features(&mut out, graph.features())?;
    Ok(out)
}

fn write_features(out: &mut String, features: &[Feature]) -> std::fmt::Result {
    writeln!(out, "features     {}", features.len())?;
    for f in features {
        match &f.kind {
            FeatureKind::Numeric => writeln!(out, "  {}", f.name)?,
            FeatureKind::Categorical {
                categories: Some(c),
            } => writeln!(out, "  {} (categorical, {} categories)", f.name, c.len())?,
            FeatureKind::Categorical { categories: None } => {
                writeln!(out, "  {} (categorical, codes)", f.name)?
            }
        }
    }
    Ok(())
}

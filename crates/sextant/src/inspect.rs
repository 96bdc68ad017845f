//! `sextant inspect`: what a model file holds.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use sextant_model::FeatureKind;

use crate::Failure;

#[derive(Args)]
pub struct InspectArgs {
    /// The model file (XGBoost JSON or LightGBM text).
    #[arg(long)]
    model: PathBuf,
}

pub fn run(args: InspectArgs) -> Result<(), Failure> {
    let forest = sextant_import::load_model(&args.model).context("cannot load the model")?;
    let info = forest.info();
    println!("format       {} (library version {})", info.format, info.library_version);
    println!("objective    {} (link: {})", info.objective, forest.link().name());
    println!("outputs      {}", forest.n_outputs());
    println!("trees        {}", forest.trees().len());
    println!("leaves       {}", forest.leaf_count());
    println!("max depth    {}", forest.max_depth());
    let margins: Vec<String> = forest.base_margin().iter().map(|m| format!("{m:?}")).collect();
    println!("base margin  {}", margins.join(", "));
    println!("features     {}", forest.n_features());
    for f in forest.features() {
        match &f.kind {
            FeatureKind::Numeric => println!("  {}", f.name),
            FeatureKind::Categorical { categories: Some(c) } => println!("  {} (categorical, {} categories)", f.name, c.len()),
            FeatureKind::Categorical { categories: None } => println!("  {} (categorical, codes)", f.name),
        }
    }
    Ok(())
}

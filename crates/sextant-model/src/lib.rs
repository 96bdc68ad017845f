//! Sextant's model representation.
//!
//! A [`Model`] is any model Sextant evaluates; its kinds are the variants of that one enum.
//! A tree ensemble is a [`Forest`]: a list of [`Tree`]s, each a flat array of [`Node`]s that keeps
//! every node's cover (the training weight that reached it), plus the base margin and the link
//! function that turns margins into responses. Importers (`sextant-import`) build it; algorithms
//! (`sextant-algo`) read it. The representation does no IO and holds no global state.

mod cells;
mod error;
mod forest;
mod graph;
mod matrix;
mod model;
mod split;
mod tree;

pub use cells::{CellParser, NewCategories, is_missing};
pub use error::ModelError;
pub use forest::{Feature, FeatureKind, Forest, Link, MAX_FEATURES, ModelInfo};
pub use graph::{BatchPredict, Graph};
pub use matrix::Rows;
pub use model::{Model, TreeShape};
pub use split::{LIGHTGBM_ZERO_THRESHOLD, Missing, Split, f32_less_boundary};
pub use tree::{MAX_TREE_DEPTH, Node, Tree};

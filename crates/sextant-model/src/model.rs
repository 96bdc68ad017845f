//! Any model Sextant evaluates. Each kind of model is a variant of [`Model`], and this is the one
//! place that says what each kind offers: every kind has a schema (its features), outputs, a
//! link and batch prediction (in `sextant-algo`); a tree ensemble also exposes its trees, which
//! exact TreeSHAP needs. A kind without trees (an ONNX graph, say) is explained by sampling.

use crate::{Feature, Forest, Graph, Link, ModelInfo};

/// A model of any kind.
#[derive(Clone, Debug)]
pub enum Model {
    /// A tree ensemble (XGBoost, LightGBM, ONNX tree operators).
    Trees(Forest),
    /// A model that can only be run (an ONNX graph): its output is its response, with no link.
    Graph(Graph),
}

/// The shape of a tree ensemble, for summaries and cost estimates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeShape {
    /// Trees in the ensemble.
    pub trees: usize,
    /// Leaves in all trees.
    pub leaves: usize,
    /// The deepest tree's depth.
    pub max_depth: usize,
}

impl Model {
    /// Where the model came from: format, library version, objective.
    pub fn info(&self) -> &ModelInfo {
        match self {
            Model::Trees(forest) => forest.info(),
            Model::Graph(graph) => graph.info(),
        }
    }

    /// The features the model reads, in its order.
    pub fn features(&self) -> &[Feature] {
        match self {
            Model::Trees(forest) => forest.features(),
            Model::Graph(graph) => graph.features(),
        }
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.features().len()
    }

    /// Number of outputs (1, or one per class).
    pub fn n_outputs(&self) -> usize {
        match self {
            Model::Trees(forest) => forest.n_outputs(),
            Model::Graph(graph) => graph.n_outputs(),
        }
    }

    /// The function from margins to responses.
    pub fn link(&self) -> Link {
        match self {
            Model::Trees(forest) => forest.link(),
            Model::Graph(_) => Link::Identity,
        }
    }

    /// Renames the features in order (their kinds stay); `names` has one per feature.
    pub fn rename_features(&mut self, names: &[String]) {
        match self {
            Model::Trees(forest) => forest.rename_features(names),
            Model::Graph(graph) => graph.rename_features(names),
        }
    }

    /// The trees, for a tree ensemble.
    pub fn trees(&self) -> Option<&Forest> {
        match self {
            Model::Trees(forest) => Some(forest),
            Model::Graph(_) => None,
        }
    }

    /// The ensemble's shape, for a tree ensemble.
    pub fn tree_shape(&self) -> Option<TreeShape> {
        self.trees().map(|forest| TreeShape {
            trees: forest.trees().len(),
            leaves: forest.leaf_count(),
            max_depth: forest.max_depth(),
        })
    }
}

impl From<Forest> for Model {
    fn from(forest: Forest) -> Model {
        Model::Trees(forest)
    }
}

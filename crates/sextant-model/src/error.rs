use thiserror::Error;

/// A structural problem found while assembling a model from parsed parts.
#[derive(Debug, Error, PartialEq)]
pub enum ModelError {
    /// A tree has no nodes at all.
    #[error("tree {tree} has no nodes")]
    EmptyTree {
        /// Index of the tree in the ensemble.
        tree: usize,
    },
    /// A child index points outside the tree's node array.
    #[error("tree {tree}, node {node}: child {child} is outside the tree (it has {len} nodes)")]
    ChildOutOfRange {
        /// Index of the tree.
        tree: usize,
        /// The node holding the bad pointer.
        node: usize,
        /// The child index it points to.
        child: u32,
        /// Number of nodes in the tree.
        len: usize,
    },
    /// A node is reached twice (a cycle or two parents), or a child points back to the root.
    #[error(
        "tree {tree}, node {node}: node {child} is reached more than once (the child pointers form a cycle or a shared subtree)"
    )]
    NotATree {
        /// Index of the tree.
        tree: usize,
        /// The node whose child was already visited.
        node: usize,
        /// The child reached twice.
        child: u32,
    },
    /// Some nodes cannot be reached from the root.
    #[error("tree {tree}: {unreachable} of its {len} nodes cannot be reached from the root")]
    Unreachable {
        /// Index of the tree.
        tree: usize,
        /// How many nodes are orphaned.
        unreachable: usize,
        /// Number of nodes in the tree.
        len: usize,
    },
    /// The tree is deeper than the algorithms accept.
    #[error("tree {tree} is deeper than {max} levels")]
    TooDeep {
        /// Index of the tree.
        tree: usize,
        /// The depth limit.
        max: usize,
    },
    /// A split uses a feature the model does not declare.
    #[error(
        "tree {tree}, node {node}: split on feature index {feature}, but the model has {n_features} features"
    )]
    FeatureOutOfRange {
        /// Index of the tree.
        tree: usize,
        /// The splitting node.
        node: usize,
        /// The feature index found.
        feature: u32,
        /// Number of features the model declares.
        n_features: usize,
    },
    /// A numeric value that must be finite (or a non-NaN threshold) is not.
    #[error("tree {tree}, node {node}: {field} is {value}, which is not allowed")]
    BadNumber {
        /// Index of the tree.
        tree: usize,
        /// The node.
        node: usize,
        /// Which value (threshold, leaf value, cover).
        field: &'static str,
        /// The value found.
        value: f64,
    },
    /// A categorical split's category set lies outside the tree's category storage.
    #[error("tree {tree}, node {node}: its category set lies outside the tree's category storage")]
    CategoriesOutOfRange {
        /// Index of the tree.
        tree: usize,
        /// The node.
        node: usize,
    },
    /// A tree writes to an output that the model does not have.
    #[error("tree {tree} writes to output {output}, but the model has {n_outputs} outputs")]
    OutputOutOfRange {
        /// Index of the tree.
        tree: usize,
        /// The output index found.
        output: usize,
        /// Number of outputs.
        n_outputs: usize,
    },
    /// The base margin has the wrong number of entries.
    #[error("the model has {n_outputs} outputs but {found} base margins")]
    BaseMarginLength {
        /// Number of outputs.
        n_outputs: usize,
        /// Number of base margins given.
        found: usize,
    },
    /// The link function does not fit the number of outputs.
    #[error("link {link} does not fit a model with {n_outputs} outputs")]
    LinkMismatch {
        /// The link's name.
        link: &'static str,
        /// Number of outputs.
        n_outputs: usize,
    },
    /// The model declares more features than Sextant supports.
    #[error("the model has {found} features, more than the {max} Sextant supports")]
    TooManyFeatures {
        /// Features declared.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// Two features share a name, so data columns could not be matched unambiguously.
    #[error("feature name {name:?} appears twice in the model")]
    DuplicateFeature {
        /// The repeated name.
        name: String,
    },
}

//! Both TreeSHAP variants against brute-force Shapley values of their games, on random small
//! forests with missing values, repeated features, ties and categorical splits.

use proptest::prelude::*;
use sextant_algo::{
    DEFAULT_TABLE_DEPTH, Interventional, PathDependent, check_additivity, explanation_len,
    predict_margins,
};
use sextant_model::{
    Feature, FeatureKind, Forest, Link, Missing, ModelInfo, Node, Rows, Split, Tree,
};

/// A small deterministic generator, so one proptest seed describes a whole forest.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Values drawn from a small grid, so rows hit thresholds exactly, zeros, and NaN.
const GRID: [f64; 10] = [-1.5, -1.0, 0.0, 1e-36, 0.5, 1.0, 1.5, 2.0, 3.0, f64::NAN];

fn random_tree(rng: &mut Rng, index: usize, n_features: usize) -> Tree {
    let mut nodes = Vec::new();
    let mut words = Vec::new();
    let max_depth = 1 + rng.below(4) as usize;
    build(rng, &mut nodes, &mut words, n_features, 0, max_depth);
    Tree::new(index, nodes, words, n_features).expect("generated tree is valid")
}

/// Appends a subtree at the end of `nodes` and returns its cover.
fn build(
    rng: &mut Rng,
    nodes: &mut Vec<Node>,
    words: &mut Vec<u32>,
    n_features: usize,
    depth: usize,
    max_depth: usize,
) -> f64 {
    let me = nodes.len();
    if depth == max_depth || (depth > 0 && rng.chance(25)) {
        let value = (rng.below(2001) as f64 - 1000.0) / 100.0;
        let cover = if rng.chance(5) {
            0.0
        } else {
            1.0 + rng.below(20) as f64
        };
        nodes.push(Node::leaf(value, cover));
        return cover;
    }
    let feature = rng.below(n_features as u64) as u32;
    let missing = [Missing::Nan, Missing::Zero, Missing::AsZero][rng.below(3) as usize];
    let default_left = rng.chance(50);
    let mut node = match rng.below(4) {
        0 => Node::numeric(
            feature,
            Split::Less,
            GRID[rng.below(9) as usize],
            missing,
            default_left,
            0,
            0,
            0.0,
        ),
        1 => Node::numeric(
            feature,
            Split::LessOrEqual,
            GRID[rng.below(9) as usize],
            missing,
            default_left,
            0,
            0,
            0.0,
        ),
        kind => {
            let split = if kind == 2 {
                Split::CategoriesF32
            } else {
                Split::CategoriesTruncated
            };
            let mut n = Node::numeric(feature, split, 0.0, missing, default_left, 0, 0, 0.0);
            n.categories_start = words.len() as u32;
            n.categories_len = 1;
            words.push(rng.next() as u32 & 0b1111);
            n
        }
    };
    nodes.push(node.clone());
    node.left = nodes.len() as u32;
    let left_cover = build(rng, nodes, words, n_features, depth + 1, max_depth);
    node.right = nodes.len() as u32;
    let right_cover = build(rng, nodes, words, n_features, depth + 1, max_depth);
    node.cover = left_cover + right_cover;
    let cover = node.cover;
    nodes[me] = node;
    cover
}

fn random_forest(seed: u64) -> Forest {
    let mut rng = Rng(seed | 1);
    let n_features = 1 + rng.below(8) as usize;
    let n_outputs = 1 + rng.below(2) as usize;
    let n_trees = 1 + rng.below(3) as usize;
    let features = (0..n_features)
        .map(|i| Feature {
            name: format!("f{i}"),
            kind: FeatureKind::Numeric,
        })
        .collect();
    let trees: Vec<Tree> = (0..n_trees)
        .map(|i| random_tree(&mut rng, i, n_features))
        .collect();
    let outputs = (0..n_trees)
        .map(|_| rng.below(n_outputs as u64) as u32)
        .collect();
    let base = (0..n_outputs).map(|k| 0.25 * k as f64).collect();
    let link = if n_outputs > 1 {
        Link::Softmax
    } else {
        Link::Identity
    };
    let info = ModelInfo {
        format: "test",
        library_version: String::new(),
        objective: String::new(),
    };
    Forest::new(features, trees, outputs, base, link, info).unwrap()
}

fn random_rows(rng: &mut Rng, n_rows: usize, n_features: usize) -> Vec<f64> {
    (0..n_rows * n_features)
        .map(|_| GRID[rng.below(GRID.len() as u64) as usize])
        .collect()
}

/// Shapley values of the game `v` (indexed by coalition bit mask) over `m` players.
fn shapley(v: &[f64], m: usize) -> Vec<f64> {
    let fact: Vec<f64> = (0..=m)
        .scan(1.0, |acc, k| {
            let out = *acc;
            *acc *= (k + 1) as f64;
            Some(out)
        })
        .collect();
    (0..m)
        .map(|i| {
            let mut total = 0.0;
            for s in 0..(1usize << m) {
                if s & (1 << i) != 0 {
                    continue;
                }
                let size = s.count_ones() as usize;
                let w = fact[size] * fact[m - size - 1] / fact[m];
                total += w * (v[s | (1 << i)] - v[s]);
            }
            total
        })
        .collect()
}

/// The path-dependent game: features in `s` follow `x`; others split by cover share.
fn conditional_value(tree: &Tree, node: usize, x: &[f64], s: usize) -> f64 {
    let n = &tree.nodes()[node];
    if n.is_leaf() {
        return n.value;
    }
    if s & (1 << n.feature) != 0 {
        return conditional_value(tree, tree.next(n, x[n.feature as usize]) as usize, x, s);
    }
    let nodes = tree.nodes();
    let ratio = |c: u32| {
        if n.cover > 0.0 {
            nodes[c as usize].cover / n.cover
        } else {
            0.5
        }
    };
    ratio(n.left) * conditional_value(tree, n.left as usize, x, s)
        + ratio(n.right) * conditional_value(tree, n.right as usize, x, s)
}

fn brute_path_dependent(forest: &Forest, x: &[f64], output: usize) -> Vec<f64> {
    let m = forest.n_features();
    let v: Vec<f64> = (0..1usize << m)
        .map(|s| {
            forest
                .trees()
                .iter()
                .zip(forest.tree_outputs())
                .filter(|(_, o)| **o as usize == output)
                .map(|(t, _)| conditional_value(t, 0, x, s))
                .sum()
        })
        .collect();
    shapley(&v, m)
}

fn brute_interventional(forest: &Forest, x: &[f64], background: &[f64], output: usize) -> Vec<f64> {
    let m = forest.n_features();
    let n_bg = background.len() / m;
    let mut margins = vec![0.0; forest.n_outputs()];
    let v: Vec<f64> = (0..1usize << m)
        .map(|s| {
            let mut total = 0.0;
            for z in background.chunks(m) {
                let hybrid: Vec<f64> = (0..m)
                    .map(|j| if s & (1 << j) != 0 { x[j] } else { z[j] })
                    .collect();
                forest.predict_margin_row(&hybrid, &mut margins);
                total += margins[output];
            }
            total / n_bg as f64
        })
        .collect();
    shapley(&v, m)
}

fn assert_close(ours: &[f64], reference: &[f64], what: &str) {
    let what = what.to_string();
    for (j, (a, b)) in ours.iter().zip(reference).enumerate() {
        assert!(
            (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
            "{what}: feature {j}: ours {a}, brute force {b}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn path_dependent_equals_brute_force(seed in any::<u64>()) {
        let forest = random_forest(seed);
        let mut rng = Rng(seed.rotate_left(17) | 1);
        let (m, k) = (forest.n_features(), forest.n_outputs());
        let rows = random_rows(&mut rng, 20, m);
        let rows = Rows::new(&rows, m);
        let mut margins = vec![0.0; rows.n_rows() * k];
        predict_margins(&forest, rows, &mut margins);
        // Table limits that send every leaf, some leaves, and no leaf down the classic path.
        for table_depth in [0, 2, DEFAULT_TABLE_DEPTH] {
            let explainer = PathDependent::with_table_depth(&forest, table_depth);
            let mut phi = vec![0.0; explanation_len(&forest, rows.n_rows())];
            explainer.explain(rows, &mut phi);
            for r in 0..rows.n_rows() {
                for o in 0..k {
                    let at = (r * k + o) * (m + 1);
                    let what = format!("path-dependent, table depth {table_depth}");
                    assert_close(&phi[at..at + m], &brute_path_dependent(&forest, rows.row(r), o), &what);
                }
            }
            let additivity = check_additivity(&phi, &margins, m);
            prop_assert!(additivity.worst_abs < 1e-9, "{additivity:?}");
        }
    }

    #[test]
    fn compact_predictor_equals_tree_walk(seed in any::<u64>()) {
        let forest = random_forest(seed);
        let mut rng = Rng(seed.rotate_left(41) | 1);
        let (m, k) = (forest.n_features(), forest.n_outputs());
        // More rows than one block, so block boundaries are crossed; once with missing values and
        // once without (blocks without NaN take a shorter path).
        let with_nan = random_rows(&mut rng, 150, m);
        let without_nan: Vec<f64> = with_nan.iter().map(|v| if v.is_nan() { 0.5 } else { *v }).collect();
        for values in [with_nan, without_nan] {
            let rows = Rows::new(&values, m);
            let mut fast = vec![0.0; rows.n_rows() * k];
            predict_margins(&forest, rows, &mut fast);
            let mut slow = vec![0.0; k];
            for r in 0..rows.n_rows() {
                forest.predict_margin_row(rows.row(r), &mut slow);
                prop_assert_eq!(&fast[r * k..(r + 1) * k], &slow[..]);
            }
        }
    }

    #[test]
    fn interventional_equals_brute_force(seed in any::<u64>()) {
        let forest = random_forest(seed);
        let mut rng = Rng(seed.rotate_left(29) | 1);
        let (m, k) = (forest.n_features(), forest.n_outputs());
        let rows = random_rows(&mut rng, 3, m);
        let rows = Rows::new(&rows, m);
        let n_background = 1 + rng.below(5) as usize;
        let background = random_rows(&mut rng, n_background, m);
        let explainer = Interventional::new(&forest, Rows::new(&background, m));
        let mut phi = vec![0.0; explanation_len(&forest, rows.n_rows())];
        explainer.explain(rows, &mut phi);
        for r in 0..rows.n_rows() {
            for o in 0..k {
                let at = (r * k + o) * (m + 1);
                assert_close(&phi[at..at + m], &brute_interventional(&forest, rows.row(r), &background, o), "interventional");
            }
        }
        let mut margins = vec![0.0; rows.n_rows() * k];
        predict_margins(&forest, rows, &mut margins);
        let additivity = check_additivity(&phi, &margins, m);
        prop_assert!(additivity.worst_abs < 1e-9, "{additivity:?}");
    }
}

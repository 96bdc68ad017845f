//! What the sampled Shapley tests share: the ONNX fixtures (a forest and its rows) and the
//! permutations the brute-force references enumerate.

use std::path::PathBuf;

use sextant_import::load_model;
use sextant_model::{Forest, Model};

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/onnx")
        .join(name)
}

/// A CSV fixture's values, row after row (an empty cell is missing).
pub fn csv(name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(data(name)).unwrap();
    text.lines()
        .skip(1)
        .flat_map(|l| {
            l.split(',').map(|c| {
                if c.is_empty() {
                    f64::NAN
                } else {
                    c.parse().unwrap()
                }
            })
        })
        .collect()
}

/// A tree ensemble's fixture.
pub fn forest(name: &str) -> Forest {
    match load_model(&data(name), None).unwrap() {
        Model::Trees(f) => f,
        Model::Graph(_) => panic!("{name} is a tree ensemble"),
    }
}

/// Calls `visit` with every permutation of `order[at..]` (after `order[..at]`).
pub fn permutations(order: &mut Vec<usize>, at: usize, visit: &mut impl FnMut(&[usize])) {
    if at == order.len() {
        visit(order);
        return;
    }
    for i in at..order.len() {
        order.swap(at, i);
        permutations(order, at + 1, visit);
        order.swap(at, i);
    }
}

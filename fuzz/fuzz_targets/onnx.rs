#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sextant_model::{Model, Rows};

fuzz_target!(|data: &[u8]| {
    match sextant_import::parse_onnx(data) {
        Ok(Model::Trees(forest)) => common::exercise(&forest),
        Ok(Model::Graph(graph)) => {
            // A graph that imports has run once on zeros; it must also run (or fail with an
            // error) on missing and negative values.
            let m = graph.features().len();
            let mut rows = vec![f64::NAN; 2 * m];
            rows[m..].iter_mut().enumerate().for_each(|(i, v)| *v = -(i as f64) - 0.5);
            let mut out = vec![0.0; 2 * graph.n_outputs()];
            let _ = graph.predict(Rows::new(&rows, m), &mut out);
        }
        Err(_) => {}
    }
});

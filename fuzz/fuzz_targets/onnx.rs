#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use sextant_model::{Model, Rows};

static DEFAULT_HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    // The importer catches tract's panics on malformed graphs and returns an error; libFuzzer's
    // hook would abort at the panic, before it is caught. With the default hook back, a panic
    // that escapes `parse_onnx` still reaches libfuzzer-sys's own check and is a crash.
    DEFAULT_HOOK.call_once(|| drop(std::panic::take_hook()));
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

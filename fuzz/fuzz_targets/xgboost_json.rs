#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(forest) = sextant_import::parse_xgboost_json(data) {
        common::exercise(&forest);
    }
});

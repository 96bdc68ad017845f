//! End-to-end tests of the `sextant` binary: the real executable on the repository's test data,
//! compared with reference values produced by XGBoost, LightGBM and shap (tools/make_fixtures.py).

mod bad_input;
mod outputs;
mod reference;
mod small_models;
mod support;

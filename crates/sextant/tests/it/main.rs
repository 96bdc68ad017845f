//! End-to-end tests of the `sextant` binary: the real executable on the repository's test data,
//! compared with reference values produced by XGBoost, LightGBM and shap (tools/make_fixtures.py);
//! and the platform (`sextant serve`, analyzer processes, the CLI client) over real HTTP.

mod accounts;
mod accounts_cli;
mod any_model;
mod bad_input;
mod compare;
mod conformance;
mod container;
mod debian;
mod drift;
mod error_influences;
mod fairness;
mod faults;
mod groups;
mod gui;
mod hardening;
mod hotspots;
mod jobs;
mod leftovers;
mod outputs;
mod platform;
mod python_sdk;
mod quickstart;
mod reference;
mod results;
mod roles;
mod segments;
mod server;
mod small_models;
mod support;
mod upgrade;
mod uploads;
mod views;

//! `sextant._native`: the Python client's local mode. The same model import, prediction and
//! TreeSHAP the analyzers run, called in-process on NumPy arrays, so a notebook computes without a
//! server and gets the server's numbers. The Python side (`sextant/local.py`) turns DataFrames and
//! in-memory boosters into what this module takes: model bytes or a path, and a C-contiguous
//! `float64` matrix whose columns are the model's features in order.
//!
//! Every computation releases the GIL and runs on rayon's threads: all cores by default, or a
//! pool of the size asked for.

use std::path::PathBuf;
use std::sync::OnceLock;

use numpy::{IntoPyArray, PyArray2, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use self_cell::self_cell;
use sextant_algo::{
    Additivity, Interventional, ModelPredictor, PathDependent, Predictor, Sampled, SampledOptions,
    check_additivity, explanation_columns, explanation_len, prediction_columns, push_explanations,
    push_predictions, push_sampled_explanations, stderr_columns,
};
use sextant_import::ImportError;
use sextant_model::{CellParser, FeatureKind, Forest, Rows};

/// Why a local computation could not be done; each becomes the Python exception a user expects.
#[derive(Debug, thiserror::Error)]
enum LocalError {
    /// The model file could not be read (missing, unreadable).
    #[error("{0}")]
    Io(String),
    /// The model, the matrix or an argument is not usable.
    #[error("{0}")]
    Input(String),
    /// The influences did not add up to the margins: a defect, never a user's mistake.
    #[error("{0}")]
    Check(String),
}

impl From<LocalError> for PyErr {
    fn from(e: LocalError) -> PyErr {
        match e {
            LocalError::Io(m) => PyOSError::new_err(m),
            LocalError::Input(m) => PyValueError::new_err(m),
            LocalError::Check(m) => PyRuntimeError::new_err(m),
        }
    }
}

impl From<ImportError> for LocalError {
    fn from(e: ImportError) -> LocalError {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        match e {
            ImportError::Io { .. } => LocalError::Io(message),
            _ => LocalError::Input(message),
        }
    }
}

/// The path-dependent explainer of a model, made on the first call that needs it.
type LazyExplainer<'m> = OnceLock<PathDependent<'m>>;

self_cell!(
    /// A model and its path-dependent explainer, which borrows it.
    struct Loaded {
        owner: sextant_model::Model,
        #[not_covariant]
        dependent: LazyExplainer,
    }
);

/// A model loaded once and used for any number of calls. Its path-dependent explainer (the
/// per-leaf tables, tens of milliseconds to make for a large forest) is kept after the first
/// call, so later calls, however small, start at once.
#[pyclass(frozen, module = "sextant._native")]
struct Model {
    loaded: Loaded,
}

#[pymethods]
impl Model {
    /// Reads a model file (XGBoost JSON, LightGBM text or ONNX; the format is recognised).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Model> {
        let model = sextant_import::load_model(&path, None).map_err(LocalError::from)?;
        Ok(Model::new(model))
    }

    /// Reads a model from its file's bytes; `source` names it in error messages.
    #[staticmethod]
    fn parse(bytes: &[u8], source: &str) -> PyResult<Model> {
        let model = sextant_import::parse_model(bytes, None)
            .map_err(|e| LocalError::from(e.in_file(std::path::Path::new(source))))?;
        Ok(Model::new(model))
    }

    /// The same model with its features named `names`, in order: for an ONNX file that names
    /// none (its features are then `f0`, `f1`, …).
    fn named(&self, names: Vec<String>) -> PyResult<Model> {
        let mut model = self.model().clone();
        if !sextant_import::has_positional_names(&model) {
            return Err(LocalError::Input(format!(
                "this {} model names its features ({}); feature_names is for ONNX files that \
                 name none",
                model.info().format,
                self.feature_names().join(", ")
            ))
            .into());
        }
        if !sextant_import::name_positional_features(&mut model, &names) {
            return Err(LocalError::Input(format!(
                "{} feature names given; the model has {} features",
                names.len(),
                model.n_features()
            ))
            .into());
        }
        Ok(Model::new(model))
    }

    /// The same tree ensemble with every node's cover counted from the rows of `x` (the
    /// training data): for ONNX trees, whose files hold no covers, before path-dependent TreeSHAP.
    fn with_covers(&self, x: PyReadonlyArray2<'_, f64>) -> PyResult<Model> {
        let values = self.matrix(&x, "cover_data")?;
        if values.is_empty() {
            return Err(LocalError::Input("cover_data has no rows".into()).into());
        }
        let mut model = self.model().clone();
        let sextant_model::Model::Trees(forest) = &mut model else {
            return Err(LocalError::Input(format!(
                "this {} model has no trees: cover_data is for tree ensembles",
                self.model().info().format
            ))
            .into());
        };
        if forest.has_covers() {
            return Err(LocalError::Input(
                "this model has its training covers; cover_data is for ONNX trees, which hold none"
                    .into(),
            )
            .into());
        }
        let n_features = forest.n_features();
        forest.count_covers(Rows::new(values, n_features));
        Ok(Model::new(model))
    }

    /// The feature names, in the model's order.
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.model()
            .features()
            .iter()
            .map(|f| f.name.clone())
            .collect()
    }

    /// Per feature: `None` for a numeric feature, else the category names in code order (an
    /// empty list when the model file does not record them).
    #[getter]
    fn categories(&self) -> Vec<Option<Vec<String>>> {
        self.model()
            .features()
            .iter()
            .map(|f| match &f.kind {
                FeatureKind::Numeric => None,
                FeatureKind::Categorical { categories } => {
                    Some(categories.clone().unwrap_or_default())
                }
            })
            .collect()
    }

    /// How many margins the model gives per row (classes of a multiclass model, else 1).
    #[getter]
    fn n_outputs(&self) -> usize {
        self.model().n_outputs()
    }

    /// The link from margin to prediction: identity, logistic, softmax or exp.
    #[getter]
    fn link(&self) -> &'static str {
        self.model().link().name()
    }

    /// The file format, the producing library's version and the training objective.
    #[getter]
    fn info(&self) -> (&'static str, String, String) {
        let info = self.model().info();
        (
            info.format,
            info.library_version.clone(),
            info.objective.clone(),
        )
    }

    /// The number of trees and leaves, and the deepest tree's depth.
    #[getter]
    fn shape(&self) -> Option<(usize, usize, usize)> {
        self.model()
            .tree_shape()
            .map(|s| (s.trees, s.leaves, s.max_depth))
    }

    /// The columns of `predict`'s matrix: margins, then predictions (per class).
    fn prediction_columns(&self) -> Vec<String> {
        prediction_columns(self.model())
    }

    /// The columns of `explain`'s matrix: per output, one per feature, `base_value`, `margin`.
    fn explanation_columns(&self) -> Vec<String> {
        explanation_columns(self.model())
    }

    /// The standard-error columns `explain_sampled` appends: `<feature>__stderr` (per output).
    fn stderr_columns(&self) -> Vec<String> {
        stderr_columns(self.model())
    }

    /// Reads text cells of feature `feature`'s column as the server reads a data file's: numbers,
    /// missing markers, and category names of a categorical feature. `None` is missing.
    fn encode(&self, feature: usize, name: &str, cells: Vec<Option<String>>) -> PyResult<Vec<f64>> {
        let Some(f) = self.model().features().get(feature) else {
            return Err(LocalError::Input(format!("the model has no feature {feature}")).into());
        };
        let parser = CellParser::new(f);
        let mut out = Vec::with_capacity(cells.len());
        for (row, cell) in cells.iter().enumerate() {
            let value = match cell {
                None => f64::NAN,
                Some(text) => parser
                    .parse(text)
                    .map_err(|m| LocalError::Input(format!("column {name:?}, row {row}: {m}")))?,
            };
            out.push(value);
        }
        Ok(out)
    }

    /// Margins and predictions of every row of `x` (`rows × features`), as a
    /// `rows × prediction_columns()` matrix.
    #[pyo3(signature = (x, threads=None))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let values = self.matrix(&x, "X")?;
        let threads = Threads::new(threads)?;
        let model = self.model();
        let (n_features, n_out) = (model.n_features(), model.n_outputs());
        let n_rows = values.len() / n_features.max(1);
        let table = py.detach(|| {
            let predictor = ModelPredictor::new(model);
            let mut table = Vec::with_capacity(2 * n_rows * n_out);
            let mut margins = Vec::new();
            by_chunks(n_rows, |start, end| {
                let rows = Rows::new(&values[start * n_features..end * n_features], n_features);
                margins.resize((end - start) * n_out, 0.0);
                threads
                    .run(|| predictor.predict_margins(rows, &mut margins))
                    .map_err(|e| LocalError::Input(format!("the model failed: {e}")))?;
                for m in margins.chunks(n_out) {
                    push_predictions(model, m, &mut table);
                }
                Ok(())
            })?;
            Ok::<_, PyErr>(table)
        })?;
        into_matrix(py, table, n_rows, 2 * n_out)
    }

    /// Exact Shapley values (TreeSHAP) of every row of `x`: path-dependent, or interventional
    /// against `background` when it is given. A `rows × explanation_columns()` matrix; raises
    /// when a row's influences do not add up to its margin.
    #[pyo3(signature = (x, background=None, threads=None))]
    fn explain<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        background: Option<PyReadonlyArray2<'py, f64>>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let forest = self.forest()?;
        if background.is_none() && !forest.has_covers() {
            return Err(LocalError::Input(
                "the model file holds no node covers (ONNX trees), which path-dependent TreeSHAP \
                 needs: load it with cover_data= (the training data) to count them, or give a \
                 background for the interventional game"
                    .into(),
            )
            .into());
        }
        let values = self.matrix(&x, "X")?;
        let background = match &background {
            Some(b) => {
                let b = self.matrix(b, "background")?;
                if b.is_empty() {
                    return Err(LocalError::Input("the background has no rows".into()).into());
                }
                Some(b)
            }
            None => None,
        };
        let (n_features, n_out) = (forest.n_features(), forest.n_outputs());
        let n_rows = values.len() / n_features.max(1);
        let width = n_out * (n_features + 2);
        let threads = Threads::new(threads)?;
        let table = self.loaded.with_dependent(|model, lazy| {
            py.detach(|| {
                let Some(forest) = model.trees() else {
                    unreachable!("checked above: the model is a tree ensemble");
                };
                let rows = Rows::new(values, n_features);
                match background {
                    Some(b) => {
                        let background = Rows::new(b, n_features);
                        let e = threads.run(|| Interventional::new(forest, background));
                        explain_rows(forest, &threads, |r, out| e.explain(r, out), rows)
                    }
                    None => {
                        let e = threads.run(|| lazy.get_or_init(|| PathDependent::new(forest)));
                        explain_rows(forest, &threads, |r, out| e.explain(r, out), rows)
                    }
                }
            })
        })?;
        into_matrix(py, table, n_rows, width)
    }
    /// Sampled Shapley values of the interventional game against `background`, for any model
    /// (exact enumeration when it has at most `exact_max_features` features and the enumeration
    /// fits `max_evals`): a `rows × (explanation_columns() + stderr_columns())` matrix, the
    /// server's influence table with one standard error per value. Rows are seeded by their
    /// position in `x` and `seed`, as the server seeds a dataset's rows. Raises when a row's
    /// influences do not add up to its margin.
    #[pyo3(signature = (x, background, target_stderr, max_evals, seed, exact_max_features, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn explain_sampled<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, f64>,
        background: PyReadonlyArray2<'py, f64>,
        target_stderr: f64,
        max_evals: u64,
        seed: u64,
        exact_max_features: usize,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        if !(target_stderr >= 0.0 && target_stderr.is_finite()) {
            return Err(LocalError::Input(format!(
                "target_stderr must be a finite number at or above 0, not {target_stderr}"
            ))
            .into());
        }
        if max_evals == 0 {
            return Err(LocalError::Input("max_evals must be at least 1".into()).into());
        }
        let values = self.matrix(&x, "X")?;
        let background = self.matrix(&background, "background")?;
        if background.is_empty() {
            return Err(LocalError::Input("the background has no rows".into()).into());
        }
        let options = SampledOptions {
            target_stderr,
            max_evals,
            seed,
            exact_max_features,
        };
        let model = self.model();
        let (n_features, n_out) = (model.n_features(), model.n_outputs());
        let n_rows = values.len() / n_features.max(1);
        let width = n_out * (2 * n_features + 2);
        let threads = Threads::new(threads)?;
        let table = py.detach(|| {
            let predictor = ModelPredictor::new(model);
            let background = Rows::new(background, n_features);
            let sampler = threads
                .run(|| Sampled::new(&predictor, background, options))
                .map_err(|e| {
                    LocalError::Input(format!("the model failed on the background rows: {e}"))
                })?;
            let mut table = Vec::with_capacity(n_rows * width);
            let (mut phi, mut stderr, mut margins) = (Vec::new(), Vec::new(), Vec::new());
            let mut additivity = Additivity::default();
            by_chunks(n_rows, |start, end| {
                let n = end - start;
                let rows = Rows::new(&values[start * n_features..end * n_features], n_features);
                phi.resize(n * n_out * (n_features + 1), 0.0);
                stderr.resize(n * n_out * n_features, 0.0);
                margins.resize(n * n_out, 0.0);
                threads
                    .run(|| {
                        sampler.explain(rows, start as u64, &mut phi, &mut stderr)?;
                        predictor.predict_margins(rows, &mut margins)
                    })
                    .map_err(|e| LocalError::Input(format!("the model failed: {e}")))?;
                additivity.merge(check_additivity(&phi, &margins, n_features));
                push_sampled_explanations(&phi, &margins, &stderr, n_features, n_out, &mut table);
                Ok(())
            })?;
            additivity_passed(&additivity)?;
            Ok::<_, PyErr>(table)
        })?;
        into_matrix(py, table, n_rows, width)
    }
}

impl Model {
    fn new(model: sextant_model::Model) -> Model {
        Model {
            loaded: Loaded::new(model, |_| OnceLock::new()),
        }
    }

    fn model(&self) -> &sextant_model::Model {
        self.loaded.borrow_owner()
    }

    fn forest(&self) -> Result<&Forest, LocalError> {
        self.model().trees().ok_or_else(|| {
            LocalError::Input(format!(
                "this {} model has no trees (exact TreeSHAP needs a tree ensemble; \
                 method=\"sampled\" explains any model)",
                self.model().info().format
            ))
        })
    }

    /// The matrix's values, checked to have the model's width and to be laid out row by row.
    fn matrix<'a>(
        &self,
        x: &'a PyReadonlyArray2<'_, f64>,
        what: &str,
    ) -> Result<&'a [f64], LocalError> {
        let width = x.shape()[1];
        let n_features = self.model().n_features();
        if width != n_features {
            return Err(LocalError::Input(format!(
                "{what} has {width} columns; the model has {n_features} features"
            )));
        }
        x.as_slice()
            .map_err(|_| LocalError::Input(format!("{what} is not a C-contiguous float64 matrix")))
    }
}

/// Rows computed at a time: between two chunks Python may deliver a signal (Ctrl-C in a
/// notebook interrupts the call), and the working buffers stay small whatever the row count.
const CHUNK_ROWS: usize = 4096;

/// Calls `work(start, end)` for consecutive chunks of `n_rows` rows, checking for a pending
/// Python signal after each: its exception (`KeyboardInterrupt`) ends the call.
fn by_chunks(n_rows: usize, mut work: impl FnMut(usize, usize) -> PyResult<()>) -> PyResult<()> {
    let mut start = 0;
    while start < n_rows {
        let end = (start + CHUNK_ROWS).min(n_rows);
        work(start, end)?;
        Python::attach(|py| py.check_signals())?;
        start = end;
    }
    Ok(())
}

/// Explains `rows` and lays the result out as the server's influences table: per row and output,
/// the influences, the base value and the margin.
fn explain_rows(
    forest: &Forest,
    threads: &Threads,
    explain: impl Fn(Rows<'_>, &mut [f64]) + Sync,
    rows: Rows<'_>,
) -> PyResult<Vec<f64>> {
    let (n_features, n_out) = (forest.n_features(), forest.n_outputs());
    let predictor = Predictor::new(forest);
    let mut table = Vec::with_capacity(rows.n_rows() * n_out * (n_features + 2));
    let (mut phi, mut margins) = (Vec::new(), Vec::new());
    let mut additivity = Additivity::default();
    by_chunks(rows.n_rows(), |start, end| {
        let chunk = rows.slice(start, end);
        phi.resize(explanation_len(forest, end - start), 0.0);
        margins.resize((end - start) * n_out, 0.0);
        threads.run(|| {
            explain(chunk, &mut phi);
            predictor.predict_margins(chunk, &mut margins);
        });
        additivity.merge(check_additivity(&phi, &margins, n_features));
        push_explanations(&phi, &margins, n_features, &mut table);
        Ok(())
    })?;
    additivity_passed(&additivity)?;
    Ok(table)
}

/// Refuses a result whose influences did not add up to the margins on every row.
fn additivity_passed(additivity: &Additivity) -> Result<(), LocalError> {
    if additivity.passed() {
        return Ok(());
    }
    Err(LocalError::Check(format!(
        "additivity check failed on {} of {} rows (worst error {:.2e}); nothing is returned",
        additivity.failing, additivity.checked, additivity.worst_abs
    )))
}

/// Where the computations run: rayon's global pool (all cores), or a pool of the size asked.
enum Threads {
    All,
    Pool(rayon::ThreadPool),
}

impl Threads {
    fn new(threads: Option<usize>) -> Result<Threads, LocalError> {
        let Some(threads) = threads else {
            return Ok(Threads::All);
        };
        if threads == 0 {
            return Err(LocalError::Input("threads must be at least 1".into()));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map(Threads::Pool)
            .map_err(|e| LocalError::Io(format!("cannot start {threads} threads: {e}")))
    }

    fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        match self {
            Threads::All => work(),
            Threads::Pool(pool) => pool.install(work),
        }
    }
}

fn into_matrix(
    py: Python<'_>,
    values: Vec<f64>,
    rows: usize,
    columns: usize,
) -> PyResult<Bound<'_, PyArray2<f64>>> {
    let array = numpy::ndarray::Array2::from_shape_vec((rows, columns), values)
        .map_err(|e| PyRuntimeError::new_err(format!("result of the wrong size: {e}")))?;
    Ok(array.into_pyarray(py))
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    Ok(())
}

//! What a row's Shapley game pays for one of its hybrid rows: the model's margins themselves
//! (feature influences on the score), or a loss of them against the row's label (error
//! influences: which features drive the row's error). Sampling plays either game alike.

/// A row's payoff as a function of the model's margins on one of its hybrid rows.
pub trait Payoff: Sync {
    /// Values the game pays per row, for a model of `n_outputs` outputs.
    fn width(&self, n_outputs: usize) -> usize;

    /// Writes into `out` (`width` values) what row `row` (its position among the rows being
    /// explained) is paid when the model gives `margins` (one per output).
    fn pay(&self, row: usize, margins: &[f64], out: &mut [f64]);
}

/// The model's margins: the game of feature influences.
pub struct Margins;

impl Payoff for Margins {
    fn width(&self, n_outputs: usize) -> usize {
        n_outputs
    }

    fn pay(&self, _row: usize, margins: &[f64], out: &mut [f64]) {
        out.copy_from_slice(margins);
    }
}

/// One loss per row: `loss(margins, label)` against the row's label, `labels[row]`. Its
/// Shapley values are the row's error influences, and they add up to the row's loss minus the
/// mean loss of the background rows' predictions against the same label.
pub struct LabelLoss<'a, F> {
    /// One label per row explained.
    pub labels: &'a [f64],
    /// A row's loss from the model's margins and its label.
    pub loss: F,
}

impl<F: Fn(&[f64], f64) -> f64 + Sync> Payoff for LabelLoss<'_, F> {
    fn width(&self, _n_outputs: usize) -> usize {
        1
    }

    fn pay(&self, row: usize, margins: &[f64], out: &mut [f64]) {
        out[0] = (self.loss)(margins, self.labels[row]);
    }
}

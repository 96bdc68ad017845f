//! Reading, computing and writing overlap: a reader thread decodes the next batch and a writer
//! thread encodes the previous one while the rayon pool computes the current one. Channels hold
//! at most two batches each way, so memory stays bounded whatever the file size.

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread;

use sextant_data::{Batch, BatchReader, DataError, Progress, TableWriter};

/// Batches in flight between two stages.
const DEPTH: usize = 2;

/// Feeds every batch (cut to `row_limit` rows in all) to `compute`, which returns the rows to
/// write; calls `progress` after each batch. Returns the number of rows processed. The writer is
/// finished (its file moved into place) only if everything succeeded and `keep` says so.
pub fn run<E: From<DataError>>(
    mut reader: Box<dyn BatchReader>,
    mut writer: TableWriter,
    row_limit: Option<usize>,
    mut compute: impl FnMut(&Batch, usize) -> Result<Vec<f64>, E>,
    mut progress: impl FnMut(Progress, usize),
    keep: impl FnOnce() -> Result<(), E>,
) -> Result<usize, E> {
    thread::scope(|scope| {
        let (batch_tx, batch_rx) = sync_channel::<Result<(Batch, Progress), DataError>>(DEPTH);
        let (table_tx, table_rx) = sync_channel::<Vec<f64>>(DEPTH);
        scope.spawn(move || {
            let mut rows = 0usize;
            loop {
                if row_limit.is_some_and(|limit| rows >= limit) {
                    break;
                }
                let next = reader
                    .next_batch()
                    .map(|b| b.map(|b| (b, reader.progress())));
                let message = match next {
                    Ok(None) => break,
                    Ok(Some(pair)) => {
                        rows += pair.0.n_rows;
                        Ok(pair)
                    }
                    Err(e) => Err(e),
                };
                let failed = message.is_err();
                if batch_tx.send(message).is_err() || failed {
                    break;
                }
            }
        });
        let write = scope.spawn(move || write_all(&mut writer, table_rx).map(|()| writer));

        let mut done = 0usize;
        let outcome = (|| {
            for message in batch_rx {
                let (batch, position) = message?;
                let n = row_limit.map_or(batch.n_rows, |limit| batch.n_rows.min(limit - done));
                let table = compute(&batch, n)?;
                if table_tx.send(table).is_err() {
                    break; // The writer stopped on an error, reported below.
                }
                done += n;
                progress(position, done);
                if row_limit.is_some_and(|limit| done >= limit) {
                    break;
                }
            }
            Ok::<(), E>(())
        })();
        drop(table_tx);
        let writer = write.join().expect("the writer thread does not panic");
        outcome?;
        let writer = writer?;
        keep()?;
        writer.finish()?;
        Ok(done)
    })
}

fn write_all(writer: &mut TableWriter, tables: Receiver<Vec<f64>>) -> Result<(), DataError> {
    for table in tables {
        writer.write_rows(&table)?;
    }
    Ok(())
}

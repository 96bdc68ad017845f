//! The files a server keeps on its own disk, kept tidy:
//!
//! - **leftovers** of work a crash interrupted: uploads being received or checked (`upload-*`
//!   in the scratch directory), downloads under way (hidden `.<name>.<uuid>` files there), and
//!   writes into a local artifact store (`<key>#<n>`, renamed to the key only when complete).
//!   They are swept at start and then every [`SWEEP_EVERY`]; a file counts as left over once
//!   nothing has written to it for [`LEFTOVER_AGE`]. At the start of a server on the embedded
//!   metastore (the only process using its data folder) every such file is left over at once.
//! - **copies of result tables** downloaded from a remote artifact store into the scratch
//!   directory to serve pages: [`ScratchCopies`] keeps them under a size cap, evicting the least
//!   recently used first and never one being read.
//! - **memory** freed after a burst of requests: glibc's allocator keeps freed memory in its
//!   arenas (one per thread that allocated, up to eight per core), so a server that served a
//!   burst stays large once idle. [`limit_malloc_arenas`] caps the arenas at two, and every
//!   [`TRIM_EVERY`] the free memory is handed back to the system (`malloc_trim`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sextant_store::{Artifacts, StoreResult};

use crate::Deps;

/// How often leftovers are swept after the start.
pub const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// How long a file of unfinished work may sit unwritten before it counts as left over.
pub const LEFTOVER_AGE: Duration = Duration::from_secs(900);

/// How often freed memory is handed back to the system.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Caps glibc's malloc arenas at two, so that the memory freed after a burst of requests on many
/// threads is not spread over arenas that keep it. Call it before the runtime starts threads.
pub fn limit_malloc_arenas() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt(3) with a valid parameter, before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands the allocator's free memory back to the system every [`TRIM_EVERY`].
fn start_trimming() {
    #[cfg(target_env = "gnu")]
    tokio::spawn(async {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        loop {
            tick.tick().await;
            // SAFETY: malloc_trim(3) only returns free pages; any thread may call it.
            let _ = tokio::task::spawn_blocking(|| unsafe { libc::malloc_trim(0) }).await;
        }
    });
}

/// Sweeps now, then every [`SWEEP_EVERY`], for as long as the process runs; hands freed memory
/// back to the system every [`TRIM_EVERY`].
pub fn start_sweeping(deps: &Deps) {
    start_trimming();
    let alone = deps.config.metastore_uri.starts_with("sqlite:");
    let scratch = deps.config.scratch_dir();
    let artifacts = deps.artifacts.local_dir();
    sweep(
        &scratch,
        artifacts.as_deref(),
        alone.then_some(Duration::ZERO),
    );
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let (scratch, artifacts) = (scratch.clone(), artifacts.clone());
            let _ = tokio::task::spawn_blocking(move || {
                sweep(&scratch, artifacts.as_deref(), None);
            })
            .await;
        }
    });
}

/// Removes the leftovers in `scratch` and in a local artifact store's directory that nothing
/// has written to for `age` (default [`LEFTOVER_AGE`]), and logs what went.
pub fn sweep(scratch: &Path, artifacts: Option<&Path>, age: Option<Duration>) -> Vec<PathBuf> {
    let age = age.unwrap_or(LEFTOVER_AGE);
    let mut found = Vec::new();
    collect(scratch, false, &is_interrupted_scratch, &mut found);
    if let Some(dir) = artifacts {
        collect(dir, true, &is_partial_write, &mut found);
    }
    let now = SystemTime::now();
    let mut removed = Vec::new();
    let mut bytes = 0u64;
    for (path, meta) in found {
        let idle = meta
            .modified()
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default();
        if idle < age {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                bytes += meta.len();
                removed.push(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove a leftover")
            }
        }
    }
    if !removed.is_empty() {
        let names: Vec<String> = removed.iter().map(|p| p.display().to_string()).collect();
        tracing::warn!(
            files = removed.len(),
            mib = format!("{:.1}", bytes as f64 / (1 << 20) as f64),
            removed = %names.join(", "),
            "removed the leftovers of interrupted uploads and writes"
        );
    }
    removed
}

/// An upload being received or checked, or a download under way, in the scratch directory.
fn is_interrupted_scratch(name: &str) -> bool {
    name.starts_with("upload-") || name.starts_with('.')
}

/// A write into a local artifact store that did not complete: `<key>#<n>`.
fn is_partial_write(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(key, n)| {
        !key.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The files under `dir` (in subfolders too with `deep`) whose names `matches`.
fn collect(
    dir: &Path,
    deep: bool,
    matches: &dyn Fn(&str) -> bool,
    found: &mut Vec<(PathBuf, std::fs::Metadata)>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        let path = entry.path();
        if meta.is_dir() {
            if deep {
                collect(&path, deep, matches, found);
            }
        } else if matches(&entry.file_name().to_string_lossy()) {
            found.push((path, meta));
        }
    }
}

/// Copies of result tables downloaded from a remote artifact store, kept under a size cap.
pub struct ScratchCopies {
    dir: PathBuf,
    cap_bytes: u64,
    /// Copies being read, with how many readers each.
    reading: Mutex<HashMap<PathBuf, usize>>,
}

/// A local file to read: a stored file, or a scratch copy that stays while this lives.
pub struct LocalCopy {
    path: PathBuf,
    held: Option<Arc<ScratchCopies>>,
}

impl LocalCopy {
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalCopy {
    fn drop(&mut self) {
        if let Some(copies) = &self.held {
            let mut reading = copies.reading.lock().expect("scratch lock");
            if let Some(n) = reading.get_mut(&self.path) {
                *n -= 1;
                if *n == 0 {
                    reading.remove(&self.path);
                }
            }
        }
    }
}

impl ScratchCopies {
    /// Copies in `dir`, at most `cap_bytes` of them (more only while all are being read).
    pub fn new(dir: PathBuf, cap_bytes: u64) -> Arc<ScratchCopies> {
        Arc::new(ScratchCopies {
            dir,
            cap_bytes,
            reading: Mutex::new(HashMap::new()),
        })
    }

    /// A local file with the object `key`: the stored file itself for a local store; else a
    /// copy in scratch (downloaded unless there), marked as just used, kept while the returned
    /// value lives, after older copies were evicted to make room.
    pub async fn local_file(
        self: &Arc<Self>,
        artifacts: &Artifacts,
        key: &str,
    ) -> StoreResult<LocalCopy> {
        let path = artifacts.local_file(key, &self.dir).await?;
        if artifacts.is_local() {
            return Ok(LocalCopy { path, held: None });
        }
        *self
            .reading
            .lock()
            .expect("scratch lock")
            .entry(path.clone())
            .or_default() += 1;
        let copy = LocalCopy {
            path,
            held: Some(self.clone()),
        };
        let (this, used) = (self.clone(), copy.path.clone());
        let _ = tokio::task::spawn_blocking(move || {
            // The modification time orders the copies by use.
            if let Ok(file) = std::fs::File::options().append(true).open(&used) {
                let _ = file.set_modified(SystemTime::now());
            }
            this.trim();
        })
        .await;
        Ok(copy)
    }

    /// Evicts the least recently used copies not being read until the rest fit the cap.
    pub fn trim(&self) {
        let mut copies = Vec::new();
        collect(
            &self.dir,
            false,
            &|name| !is_interrupted_scratch(name),
            &mut copies,
        );
        let mut total: u64 = copies.iter().map(|(_, m)| m.len()).sum();
        if total <= self.cap_bytes {
            return;
        }
        copies.sort_by_key(|(_, m)| m.modified().unwrap_or(SystemTime::UNIX_EPOCH));
        let reading = self.reading.lock().expect("scratch lock");
        for (path, meta) in copies {
            if total <= self.cap_bytes {
                break;
            }
            if reading.contains_key(&path) {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= meta.len();
                tracing::debug!(path = %path.display(), "scratch copy evicted");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_told_from_finished_files() {
        assert!(is_partial_write("abc.csv#1"));
        assert!(is_partial_write("abc#12"));
        assert!(!is_partial_write("abc.csv"));
        assert!(!is_partial_write("#1"));
        assert!(!is_partial_write("abc#"));
        assert!(!is_partial_write("abc#x1"));
        assert!(is_interrupted_scratch("upload-x1Yz.csv"));
        assert!(is_interrupted_scratch(".results_k_table.parquet.0b4e"));
        assert!(!is_interrupted_scratch("results_k_table.parquet"));
    }

    #[test]
    fn a_sweep_takes_only_idle_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let (scratch, store) = (dir.path().join("tmp"), dir.path().join("artifacts"));
        std::fs::create_dir_all(store.join("datasets")).unwrap();
        std::fs::create_dir_all(&scratch).unwrap();
        for file in [
            scratch.join("upload-a"),
            scratch.join("upload-b.csv"),
            scratch.join("results_k_table.parquet"),
            store.join("datasets/s.csv#1"),
            store.join("datasets/s.csv"),
        ] {
            std::fs::write(file, b"x").unwrap();
        }
        assert!(sweep(&scratch, Some(&store), Some(Duration::from_secs(60))).is_empty());
        let mut gone = sweep(&scratch, Some(&store), Some(Duration::ZERO));
        gone.sort();
        assert_eq!(
            gone,
            [
                store.join("datasets/s.csv#1"),
                scratch.join("upload-a"),
                scratch.join("upload-b.csv")
            ]
        );
        assert!(scratch.join("results_k_table.parquet").exists());
        assert!(store.join("datasets/s.csv").exists());
    }
}

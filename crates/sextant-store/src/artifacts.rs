//! The artifact store: immutable files (models, datasets, results) under content-derived keys,
//! through the `object_store` crate. A local directory is the embedded default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use crate::error::{StoreError, StoreResult};

/// Bytes per part when a file is streamed into the store.
const PART_BYTES: usize = 8 << 20;

/// A handle on the artifact store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Artifacts {
    store: Arc<dyn ObjectStore>,
    uri: String,
    local: Option<Arc<LocalFileSystem>>,
}

impl Artifacts {
    /// Opens the store a URI names: `file:///abs/dir` (or a plain directory path). The directory
    /// is created if needed.
    pub fn open(uri: &str) -> StoreResult<Artifacts> {
        let dir = match uri.strip_prefix("file://") {
            Some(path) => PathBuf::from(path),
            None if !uri.contains("://") => PathBuf::from(uri),
            None => {
                return Err(StoreError::Uri {
                    what: "artifact store",
                    uri: uri.to_string(),
                    message: "this build supports file:// directories".into(),
                });
            }
        };
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let dir = dir.canonicalize().map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let local = Arc::new(LocalFileSystem::new_with_prefix(&dir).map_err(|source| {
            StoreError::Artifact {
                context: format!("open {}", dir.display()),
                source,
            }
        })?);
        Ok(Artifacts {
            store: local.clone(),
            uri: format!("file://{}", dir.display()),
            local: Some(local),
        })
    }

    /// The URI that reopens this store (absolute).
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Stores a local file under `key`, streamed in parts; the object appears whole or not at
    /// all.
    pub async fn put_file(&self, key: &str, file: &Path) -> StoreResult<()> {
        let io = |source| StoreError::Io {
            path: file.display().to_string(),
            source,
        };
        let mut input = tokio::fs::File::open(file).await.map_err(io)?;
        let upload = self
            .store
            .put_multipart(&StorePath::from(key))
            .await
            .map_err(self.failed("start upload of", key))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match input.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(io(e));
                }
            };
            if n == 0 {
                break;
            }
            writer.write(&buf[..n]);
        }
        writer
            .finish()
            .await
            .map_err(self.failed("finish upload of", key))?;
        Ok(())
    }

    /// Stores bytes under `key`, atomically.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> StoreResult<()> {
        self.store
            .put(&StorePath::from(key), PutPayload::from_bytes(bytes))
            .await
            .map_err(self.failed("write", key))?;
        Ok(())
    }

    /// Reads a whole object.
    pub async fn get_bytes(&self, key: &str) -> StoreResult<Bytes> {
        let got = self
            .store
            .get(&StorePath::from(key))
            .await
            .map_err(self.failed("read", key))?;
        got.bytes().await.map_err(self.failed("read", key))
    }

    /// Whether an object exists.
    pub async fn exists(&self, key: &str) -> StoreResult<bool> {
        match self.store.head(&StorePath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(self.failed("look up", key)(source)),
        }
    }

    /// Deletes an object; deleting a missing one is not an error.
    pub async fn delete(&self, key: &str) -> StoreResult<()> {
        match self.store.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(self.failed("delete", key)(source)),
        }
    }

    /// Every key under a prefix, sorted.
    pub async fn list(&self, prefix: &str) -> StoreResult<Vec<String>> {
        let prefix = (!prefix.is_empty()).then(|| StorePath::from(prefix));
        let mut keys: Vec<String> = self
            .store
            .list(prefix.as_ref())
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .map_err(self.failed("list", "artifacts"))?;
        keys.sort();
        Ok(keys)
    }

    /// A local file holding the object: the stored file itself for a local store, else a copy
    /// downloaded into `scratch`.
    pub async fn local_file(&self, key: &str, scratch: &Path) -> StoreResult<PathBuf> {
        if let Some(local) = &self.local {
            let path = local
                .path_to_filesystem(&StorePath::from(key))
                .map_err(self.failed("locate", key))?;
            if !path.exists() {
                return Err(StoreError::NotFound {
                    what: "artifact",
                    name: key.to_string(),
                });
            }
            return Ok(path);
        }
        let bytes = self.get_bytes(key).await?;
        let name = key.replace('/', "_");
        let path = scratch.join(name);
        tokio::fs::write(&path, &bytes)
            .await
            .map_err(|source| StoreError::Io {
                path: path.display().to_string(),
                source,
            })?;
        Ok(path)
    }

    fn failed(&self, action: &str, key: &str) -> impl FnOnce(object_store::Error) -> StoreError {
        let context = format!("{action} {key}");
        move |source| StoreError::Artifact { context, source }
    }
}

/// The sha256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Incremental sha256, for files streamed in pieces.
#[derive(Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest, hex.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_round_trip_and_appear_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = Artifacts::open(dir.path().join("store").to_str().unwrap()).unwrap();
        let src = dir.path().join("input.bin");
        let data: Vec<u8> = (0..(PART_BYTES * 2 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&src, &data).unwrap();
        store.put_file("models/abc", &src).await.unwrap();
        assert!(store.exists("models/abc").await.unwrap());
        assert_eq!(
            store.get_bytes("models/abc").await.unwrap().as_ref(),
            &data[..]
        );
        let local = store.local_file("models/abc", dir.path()).await.unwrap();
        assert_eq!(std::fs::read(local).unwrap(), data);
        assert_eq!(
            store.list("").await.unwrap(),
            vec!["models/abc".to_string()]
        );
        store.delete("models/abc").await.unwrap();
        store.delete("models/abc").await.unwrap();
        assert!(!store.exists("models/abc").await.unwrap());
        assert!(Artifacts::open("s3://bucket/x").is_err());
    }
}

//! The artifact store: immutable files (models, datasets, results) under content-derived keys,
//! through the `object_store` crate. A local directory is the embedded default.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    /// Opens the store a URI names:
    ///
    /// - `file:///abs/dir` (or a plain directory path): a local directory, created if needed;
    /// - `s3://bucket/prefix`: an S3 bucket (or any S3-compatible server). Options ride in the
    ///   query, so that the URI alone reopens the store in an analyzer: `endpoint=http://host:9000`,
    ///   `region=eu-west-1`, `allow_http=true`. Credentials never go in the URI: they come from
    ///   the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) or
    ///   the platform's metadata service, as object_store's `AmazonS3Builder::from_env` reads them.
    pub fn open(uri: &str) -> StoreResult<Artifacts> {
        Artifacts::open_with(uri, None)
    }

    /// Opens the store a URI names, with S3 credentials given here rather than found in the
    /// environment (tests, and callers that hold them already).
    pub fn open_with(uri: &str, credentials: Option<&S3Credentials>) -> StoreResult<Artifacts> {
        if let Some(rest) = uri.strip_prefix("s3://") {
            return open_s3(uri, rest, credentials);
        }
        let dir = match uri.strip_prefix("file://") {
            Some(path) => PathBuf::from(path),
            None if !uri.contains("://") => PathBuf::from(uri),
            None => {
                return Err(StoreError::Uri {
                    what: "artifact store",
                    uri: uri.to_string(),
                    message: "expected file:///directory or s3://bucket/prefix".into(),
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

    /// Whether objects are files on this machine (the embedded store).
    pub fn is_local(&self) -> bool {
        self.local.is_some()
    }

    /// The directory of a local store. A write in progress there is a file named after its key
    /// with `#` and a number appended, renamed to the key when complete; one left by a process
    /// that died is never listed, only swept.
    pub fn local_dir(&self) -> Option<PathBuf> {
        self.local
            .as_ref()
            .map(|_| PathBuf::from(self.uri.trim_start_matches("file://")))
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
        // Objects are immutable under their keys, so a copy downloaded once serves again.
        let path = scratch.join(key.replace('/', "_"));
        if path.exists() {
            return Ok(path);
        }
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| StoreError::Io { path, source }
        };
        // Download beside the final name and rename: a reader never sees half a file, and two
        // downloads of the same key at once do not trip over each other.
        let partial = scratch.join(format!(
            ".{}.{}",
            path.file_name().unwrap_or_default().display(),
            uuid::Uuid::new_v4()
        ));
        let got = self
            .store
            .get(&StorePath::from(key))
            .await
            .map_err(self.failed("read", key))?;
        let mut stream = got.into_stream();
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(io(&partial))?;
        let copied = async {
            while let Some(chunk) = stream.try_next().await.map_err(self.failed("read", key))? {
                file.write_all(&chunk).await.map_err(io(&partial))?;
            }
            file.flush().await.map_err(io(&partial))?;
            tokio::fs::rename(&partial, &path).await.map_err(io(&path))
        }
        .await;
        if copied.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        copied.map(|()| path)
    }

    fn failed(&self, action: &str, key: &str) -> impl FnOnce(object_store::Error) -> StoreError {
        let context = format!("{action} {key}");
        move |source| StoreError::Artifact { context, source }
    }
}

/// Installs ring as the process's TLS crypto provider (HTTPS to S3 and to the Kubernetes API);
/// calling it again does nothing.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An S3 access key.
#[derive(Clone, Debug)]
pub struct S3Credentials {
    /// The key's id.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
}

fn open_s3(uri: &str, rest: &str, credentials: Option<&S3Credentials>) -> StoreResult<Artifacts> {
    let bad = |message: String| StoreError::Uri {
        what: "artifact store",
        uri: uri.to_string(),
        message,
    };
    let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    if bucket.is_empty() {
        return Err(bad("no bucket: expected s3://bucket/prefix".into()));
    }
    install_crypto();
    let mut builder = match credentials {
        Some(c) => AmazonS3Builder::new()
            .with_access_key_id(&c.access_key_id)
            .with_secret_access_key(&c.secret_access_key),
        None => AmazonS3Builder::from_env(),
    }
    .with_bucket_name(bucket);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        builder = match name {
            "endpoint" => builder.with_endpoint(value),
            "region" => builder.with_region(value),
            "allow_http" => builder.with_allow_http(match value {
                "true" => true,
                "false" => false,
                _ => return Err(bad(format!("allow_http={value:?}: expected true or false"))),
            }),
            _ => {
                return Err(bad(format!(
                    "unknown option {name:?} (expected endpoint, region or allow_http)"
                )));
            }
        };
    }
    let s3 = builder.build().map_err(|source| StoreError::Artifact {
        context: format!("open {uri}"),
        source,
    })?;
    let prefix = prefix.trim_matches('/');
    let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
        Arc::new(s3)
    } else {
        Arc::new(PrefixStore::new(s3, prefix))
    };
    Ok(Artifacts {
        store,
        uri: uri.to_string(),
        local: None,
    })
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

    #[test]
    fn bad_uris_name_the_problem() {
        let e = Artifacts::open("ftp://host/x").unwrap_err().to_string();
        assert!(e.contains("ftp://host/x") && e.contains("s3://"), "{e}");
        let e = Artifacts::open("s3://bucket/x?colour=red")
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
        let e = Artifacts::open("s3://bucket/x?allow_http=yes")
            .unwrap_err()
            .to_string();
        assert!(e.contains("allow_http"), "{e}");
        assert!(Artifacts::open("s3:///x").is_err());
    }
}

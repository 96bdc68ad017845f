//! The artifact store's contract, on a local directory and on an S3-compatible server (moto,
//! started by `tools/dev-s3.sh`; address in `SEXTANT_TEST_S3`, default http://127.0.0.1:55433,
//! bucket `sextant-test`). Every S3 case works under a prefix of its own.

use sextant_store::{Artifacts, S3Credentials};

/// moto's credentials (it accepts any).
fn credentials() -> S3Credentials {
    S3Credentials {
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
    }
}

fn s3_uri() -> String {
    let endpoint =
        std::env::var("SEXTANT_TEST_S3").unwrap_or_else(|_| "http://127.0.0.1:55433".into());
    format!(
        "s3://sextant-test/store-{}?endpoint={endpoint}&region=us-east-1&allow_http=true",
        uuid::Uuid::new_v4()
    )
}

/// Three 8 MiB parts and a bit: a file that is uploaded in parts.
fn big_file(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u8>) {
    let data: Vec<u8> = (0..(17 << 20) + 17).map(|i| (i % 251) as u8).collect();
    let path = dir.join("input.bin");
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

async fn round_trip(store: Artifacts) {
    let dir = tempfile::tempdir().unwrap();
    let (src, data) = big_file(dir.path());
    store.put_file("models/abc", &src).await.unwrap();
    store
        .put_bytes("results/k/manifest.json", bytes::Bytes::from_static(b"{}"))
        .await
        .unwrap();
    assert!(store.exists("models/abc").await.unwrap());
    assert!(!store.exists("models/none").await.unwrap());
    assert_eq!(
        store.get_bytes("models/abc").await.unwrap().len(),
        data.len()
    );
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let local = store.local_file("models/abc", &scratch).await.unwrap();
    assert_eq!(std::fs::read(&local).unwrap(), data);
    // A second request finds the same file (a local store's own file, or the downloaded copy).
    assert_eq!(
        store.local_file("models/abc", &scratch).await.unwrap(),
        local
    );
    let e = store
        .local_file("models/none", &scratch)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("models/none"), "{e}");
    assert_eq!(
        store.list("").await.unwrap(),
        vec![
            "models/abc".to_string(),
            "results/k/manifest.json".to_string()
        ]
    );
    assert_eq!(
        store.list("results").await.unwrap(),
        vec!["results/k/manifest.json".to_string()]
    );
    // No partial download is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&scratch)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    store.delete("models/abc").await.unwrap();
    store.delete("models/abc").await.unwrap();
    assert!(!store.exists("models/abc").await.unwrap());
    // The URI reopens the same store.
    let again = Artifacts::open_with(store.uri(), Some(&credentials())).unwrap();
    assert!(again.exists("results/k/manifest.json").await.unwrap());
}

#[tokio::test]
async fn local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = Artifacts::open(dir.path().join("store").to_str().unwrap()).unwrap();
    assert!(store.is_local());
    round_trip(store).await;
}

#[tokio::test]
async fn s3_compatible_server() {
    let store = Artifacts::open_with(&s3_uri(), Some(&credentials())).unwrap();
    assert!(!store.is_local());
    round_trip(store).await;
}

#[tokio::test]
async fn s3_failures_name_the_bucket_and_key() {
    let uri = s3_uri().replace("sextant-test", "no-such-bucket");
    let store = Artifacts::open_with(&uri, Some(&credentials())).unwrap();
    let e = store.get_bytes("models/abc").await.unwrap_err().to_string();
    assert!(e.contains("models/abc"), "{e}");
}

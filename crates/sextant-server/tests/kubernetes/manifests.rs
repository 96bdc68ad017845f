//! The Helm chart and kustomize manifests, and the objects the launcher builds, against the Kubernetes schemas and the server's config.

use crate::api::*;

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The manifests and what the launcher sends agree with Kubernetes and with the server: the
/// chart and the kustomize base are the same, every rendering validates offline against the
/// Kubernetes 1.33 schemas (tools/check-manifests.sh), the Job object the launcher creates
/// validates too, and the ConfigMap's config is one the server accepts for every service.
#[tokio::test]
async fn manifests_render_validate_and_configure_the_server() {
    let root = repo();
    let checked = std::process::Command::new(root.join("tools/check-manifests.sh"))
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );

    let (launcher, _api) = launcher(300);
    let job = serde_json::to_string_pretty(&launcher.job_object(&request(1))).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("analyzer-job.json");
    std::fs::write(&path, job).unwrap();
    let validated =
        std::process::Command::new(root.join("target/tools-venv/bin/kubernetes-validate"))
            .args(["-k", "1.33", "--strict", "--quiet"])
            .arg(&path)
            .output()
            .unwrap();
    assert!(
        validated.status.success() && validated.stdout.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    // An Indexed Job validates too.
    let indexed = serde_json::to_string_pretty(&launcher.job_object(&sharded_request(4))).unwrap();
    let indexed_path = path.with_file_name("analyzer-indexed-job.json");
    std::fs::write(&indexed_path, indexed).unwrap();
    let validated =
        std::process::Command::new(root.join("target/tools-venv/bin/kubernetes-validate"))
            .args(["-k", "1.33", "--strict", "--quiet"])
            .arg(&indexed_path)
            .output()
            .unwrap();
    assert!(
        validated.status.success() && validated.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&validated.stdout)
    );

    // The ConfigMap's sextant.toml, as every Deployment reads it.
    let base = std::fs::read_to_string(root.join("target/k8s/base.yaml")).unwrap();
    let start = base
        .find("sextant.toml: |\n")
        .expect("the ConfigMap carries sextant.toml")
        + 16;
    let toml: String = base[start..]
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("    "))
        .map(|l| l.strip_prefix("    ").unwrap_or(l).to_string() + "\n")
        .collect();
    let file = path.with_extension("toml");
    std::fs::write(&file, &toml).unwrap();
    for service in ["ingest", "intelligence", "scheduler", "gateway"] {
        let env = std::collections::HashMap::from([
            ("SEXTANT_SERVICES".to_string(), service.to_string()),
            (
                "SEXTANT_METASTORE_URI".to_string(),
                "postgres://sextant@db/sextant".to_string(),
            ),
        ]);
        let config = sextant_server::ServerConfig::load(Some(&file), &env, 2)
            .unwrap_or_else(|e| panic!("{service}: {e}\n{toml}"));
        assert_eq!(
            config.scheduler.launcher,
            sextant_server::LauncherKind::Kubernetes
        );
        assert_eq!(config.kubernetes.namespace, NS);
        assert_eq!(
            config.kubernetes.env_from_secret.as_deref(),
            Some("sextant-s3")
        );
        assert_eq!(config.peers.len(), 3, "{service}");
        assert!(config.artifacts_uri.starts_with("s3://"));
    }
}

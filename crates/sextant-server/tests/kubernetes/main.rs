//! Contract tests of the Kubernetes launcher. No Kubernetes API server can run here, so the
//! launcher talks to a mock (tower-test, the pattern kube-rs recommends) that checks every
//! request — method, path, query, the body fields that matter — and answers with the responses
//! in `tests/data/k8s/` (see its README). This is contract-tested, not cluster-tested.

mod api;
mod jobs;
mod lease;
mod manifests;
mod restarts;

//! Leader election of the scheduler through a coordination.k8s.io Lease.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};

/// The name of the Lease that elects the scheduler.
const LEASE_NAME: &str = "sextant-scheduler";

/// One scheduler launches analyzers at a time: the holder of the `sextant-scheduler` Lease
/// (coordination.k8s.io/v1), as Kubernetes controllers elect their leader. The holder renews it
/// every third of its duration; another takes it over once it has gone unrenewed for a whole
/// duration. Updates carry the resource version they read, so two candidates never both win.
pub(super) struct Leadership {
    pub(super) leases: Api<Lease>,
    pub(super) identity: String,
    pub(super) duration: Duration,
}

impl Leadership {
    /// Waits until this scheduler holds the Lease.
    pub(super) async fn acquire(&self) {
        let mut waiting_logged = false;
        loop {
            match self.try_acquire().await {
                Ok(true) => {
                    tracing::info!(lease = LEASE_NAME, identity = %self.identity, "this scheduler leads");
                    return;
                }
                Ok(false) => {
                    if !waiting_logged {
                        tracing::info!(lease = LEASE_NAME, "another scheduler leads; waiting");
                        waiting_logged = true;
                    }
                }
                Err(e) => {
                    tracing::warn!(lease = LEASE_NAME, error = %e, "cannot read the scheduler Lease")
                }
            }
            tokio::time::sleep(self.duration / 5).await;
        }
    }

    /// One attempt: creates the Lease, renews our own, or takes over an expired one.
    async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let now = k8s_openapi::jiff::Timestamp::now();
        let current = match self.leases.get_opt(LEASE_NAME).await? {
            None => {
                let lease = self.lease(None, now, now, 0);
                return match self.leases.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                    Err(e) => Err(e),
                };
            }
            Some(lease) => lease,
        };
        let spec = current.spec.clone().unwrap_or_default();
        let ours = spec.holder_identity.as_deref() == Some(self.identity.as_str());
        let duration = spec
            .lease_duration_seconds
            .map_or(self.duration, |s| Duration::from_secs(s.max(0) as u64));
        let expired = match &spec.renew_time {
            Some(renewed) => {
                let since = now.duration_since(renewed.0);
                since.as_secs_f64() > duration.as_secs_f64()
            }
            None => true,
        };
        if !ours && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(!ours);
        let acquired = if ours {
            spec.acquire_time.map_or(now, |t| t.0)
        } else {
            now
        };
        let lease = self.lease(
            current.metadata.resource_version.clone(),
            acquired,
            now,
            transitions,
        );
        match self
            .leases
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            // Someone else wrote it since we read it.
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn lease(
        &self,
        resource_version: Option<String>,
        acquired: k8s_openapi::jiff::Timestamp,
        renewed: k8s_openapi::jiff::Timestamp,
        transitions: i32,
    ) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(LEASE_NAME.into()),
                resource_version,
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/name".to_string(),
                    "sextant".to_string(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(self.identity.clone()),
                lease_duration_seconds: Some(self.duration.as_secs() as i32),
                acquire_time: Some(MicroTime(acquired)),
                renew_time: Some(MicroTime(renewed)),
                lease_transitions: Some(transitions),
                ..LeaseSpec::default()
            }),
        }
    }

    /// Renews the Lease for as long as the process lives. A scheduler that cannot renew it for
    /// a whole duration may have been replaced: it stops the process (its pod restarts and
    /// stands again), as Kubernetes controllers do, so two never launch at once.
    pub(super) async fn keep(self) {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.duration / 3).await;
            match self.try_acquire().await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => {
                    tracing::error!(
                        lease = LEASE_NAME,
                        "another scheduler took the Lease; stopping"
                    );
                    std::process::exit(1);
                }
                Err(e) => {
                    tracing::warn!(lease = LEASE_NAME, error = %e, "cannot renew the scheduler Lease");
                    if renewed.elapsed() >= self.duration {
                        tracing::error!(
                            lease = LEASE_NAME,
                            "the scheduler Lease expired; stopping"
                        );
                        std::process::exit(1);
                    }
                }
            }
        }
    }
}

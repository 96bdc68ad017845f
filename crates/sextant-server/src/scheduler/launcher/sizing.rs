//! How big an analyzer must be: memory and CPU estimated from the job's cost (rows × trees ×
//! leaves × depth for the compute; bytes of data, model and result table for the memory), within
//! the job's own memory limit and the cluster's per-analyzer maximum.

use sextant_analyzer::{Cost, CostInputs, analysis};
use sextant_api::{DatasetSummary, JobSpec, ModelSummary};

/// Resources one analyzer asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sizing {
    /// CPU, in thousandths of a core.
    pub cpu_millis: u32,
    /// Memory, in MiB (requested and limited alike).
    pub memory_mib: u64,
    /// Estimated tree-node visits; a core does a few hundred million a second.
    pub work: f64,
    /// Analyzers that share the rows (1: not sharded).
    pub shards: u32,
}

/// Node visits a core does in about a second (measured: ~3,000 path-dependent rows/s on one core
/// for xgb_cls, 100 trees of 63 leaves at depth 6).
const VISITS_PER_CORE_SECOND: f64 = 1.0e8;

/// Below this much work (about ten core-seconds), one core will do.
const ONE_CORE_WORK: f64 = 10.0 * VISITS_PER_CORE_SECOND;

/// A shard should take about this long, when the launcher shards by cost.
const SHARD_SECONDS: f64 = 120.0;

/// How many analyzers share a job of a kind that shards: as asked, else — where the launcher
/// shards by cost — enough that each takes about two minutes on its cores; never more than
/// `max`, than rows, or than the kind can use on `model` (a drift job: one more than its
/// features). Other kinds are never sharded.
pub fn shards(
    spec: &JobSpec,
    model: &ModelSummary,
    sizing: &Sizing,
    rows: u64,
    by_cost: bool,
    max: u32,
) -> u32 {
    let kind = analysis(spec.kind);
    if !kind.shardable() {
        return 1;
    }
    let wanted = match spec.resources.shards {
        Some(n) => n,
        None if by_cost => {
            let per_shard =
                f64::from(sizing.cpu_millis) / 1000.0 * SHARD_SECONDS * VISITS_PER_CORE_SECOND;
            (sizing.work / per_shard).ceil().min(f64::from(u32::MAX)) as u32
        }
        None => 1,
    };
    wanted
        .min(max)
        .min(rows.min(u64::from(u32::MAX)) as u32)
        .min(kind.most_shards(model))
        .max(1)
}

/// Sizes a job. `max_cpu` and `max_memory_mib` cap what one analyzer may ask for.
pub fn estimate(
    spec: &JobSpec,
    model: &ModelSummary,
    dataset: &DatasetSummary,
    background_rows: Option<u64>,
    max_cpu: f64,
    max_memory_mib: u64,
) -> Sizing {
    let rows = spec
        .options
        .rows
        .map_or(dataset.rows, |n| n.min(dataset.rows)) as f64;
    let Cost { work, table_bytes } = analysis(spec.kind).cost(&CostInputs {
        spec,
        model,
        rows,
        background_rows,
    });
    // The data is read in batches, but the model and the result table's column buffers stay
    // in memory; decoded data takes about twice its file size.
    let bytes = 2.0 * dataset.size_bytes as f64 + 4.0 * model.size_bytes as f64 + table_bytes;
    let wanted_mib = 256 + (bytes / (1u64 << 20) as f64).ceil() as u64;
    let memory_mib = wanted_mib
        .min(spec.resources.memory_mib)
        .min(max_memory_mib)
        .max(128);
    let cores = if work < ONE_CORE_WORK {
        1.0
    } else {
        (spec.resources.threads as f64).min(max_cpu).max(1.0)
    };
    Sizing {
        cpu_millis: (cores * 1000.0).round() as u32,
        memory_mib,
        work,
        shards: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sextant_api::JobKind;
    use sextant_api::{DatasetRole, InputRef, JobInputs, JobOptions, Resources, TreeSummary};

    fn input() -> InputRef {
        InputRef {
            name: "x".into(),
            sha256: "0".into(),
            key: "k".into(),
            format: None,
        }
    }

    fn spec(kind: JobKind, memory_mib: u64) -> JobSpec {
        JobSpec {
            version: sextant_api::JOB_SPEC_VERSION,
            kind,
            inputs: JobInputs::new(input(), input()),
            options: JobOptions::default(),
            resources: Resources {
                memory_mib,
                threads: 8,
                shards: None,
            },
        }
    }

    fn model() -> ModelSummary {
        ModelSummary {
            format: "xgboost-json".into(),
            objective: "binary:logistic".into(),
            library_version: "2".into(),
            trees: Some(TreeSummary {
                trees: 100,
                leaves: 6300,
                max_depth: 6,
            }),
            outputs: 1,
            features: (0..100).map(|i| format!("f{i}")).collect(),
            size_bytes: 2 << 20,
            cost_per_row: None,
            without_covers: false,
        }
    }

    fn dataset(rows: u64) -> DatasetSummary {
        DatasetSummary {
            format: "parquet".into(),
            role: DatasetRole::Test,
            rows,
            size_bytes: rows * 800,
            has_label: true,
            columns: vec![],
        }
    }

    #[test]
    fn small_jobs_get_one_core_and_large_ones_more() {
        let small = estimate(
            &spec(JobKind::Predict, 4096),
            &model(),
            &dataset(1000),
            None,
            4.0,
            16384,
        );
        assert_eq!(small.cpu_millis, 1000);
        assert!(
            small.memory_mib >= 256 && small.memory_mib < 400,
            "{small:?}"
        );
        let big = estimate(
            &spec(JobKind::Influences, 65536),
            &model(),
            &dataset(10_000_000),
            None,
            4.0,
            16384,
        );
        assert_eq!(big.cpu_millis, 4000, "capped by max_cpu");
        // 10M rows × 102 columns × 8 bytes ≈ 7.8 GiB of table, plus 2 × 8 GB of data: capped.
        assert_eq!(big.memory_mib, 16384);
        let capped = estimate(
            &spec(JobKind::Influences, 1024),
            &model(),
            &dataset(10_000_000),
            None,
            4.0,
            16384,
        );
        assert_eq!(capped.memory_mib, 1024, "never above the job's own limit");
        let mut sampled = spec(JobKind::Influences, 4096);
        sampled.options.rows = Some(10);
        let few = estimate(&sampled, &model(), &dataset(10_000_000), None, 4.0, 16384);
        assert_eq!(few.cpu_millis, 1000);
    }

    #[test]
    fn shards_as_asked_or_by_cost() {
        let m = model();
        let job = spec(JobKind::Influences, 65536);
        let big = estimate(&job, &model(), &dataset(10_000_000), None, 4.0, 16384);
        // 10M rows × 100 trees × 63 leaves × 36: ~2.3e12 visits; 4 cores × 120 s × 1e8 per shard.
        assert_eq!(shards(&job, &m, &big, 10_000_000, true, 64), 48);
        assert_eq!(shards(&job, &m, &big, 10_000_000, true, 8), 8, "capped");
        assert_eq!(
            shards(&job, &m, &big, 10_000_000, false, 8),
            1,
            "not by cost"
        );
        let small = estimate(&job, &model(), &dataset(1000), None, 4.0, 16384);
        assert_eq!(shards(&job, &m, &small, 1000, true, 8), 1);
        let mut asked = job.clone();
        asked.resources.shards = Some(4);
        assert_eq!(shards(&asked, &m, &small, 1000, false, 16), 4);
        assert_eq!(
            shards(&asked, &m, &small, 3, false, 16),
            3,
            "never more than rows"
        );
        assert_eq!(
            shards(&asked, &m, &small, 1000, false, 1),
            1,
            "a launcher that cannot shard"
        );
        let predict = spec(JobKind::Predict, 4096);
        assert_eq!(shards(&predict, &m, &big, 10_000_000, true, 8), 1);
        // A drift job shards its columns: one scoring shard and one per feature at the most.
        let mut drift = spec(JobKind::Drift, 65536);
        drift.resources.shards = Some(500);
        assert_eq!(shards(&drift, &m, &big, 10_000_000, false, 1000), 101);
        let mut narrow = model();
        narrow.features.truncate(3);
        assert_eq!(shards(&drift, &narrow, &big, 10_000_000, false, 1000), 4);
    }
}

//! What the campaign and store tests share: scratch directories, a small configuration,
//! planning and running through the library, and reading results back.
// Each test binary uses its own part.
#![allow(dead_code)]

use injector::{
    plan_campaign, run_campaign, workload_refs, CampaignConfig, CampaignError, CampaignStore,
    Injections, Isolation, Model, RunOptions, RunSummary, SubjectSource,
};
use reports::Shard;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// A fresh directory for one test under cargo's per-target temporary directory.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` injections per cell of `models` into the bundled `workloads` on `sim`, seed 11.
pub fn config(workloads: &[&str], models: &[Model], n: u64) -> CampaignConfig {
    CampaignConfig {
        seed: 11,
        ..CampaignConfig::new(
            workload_refs(workloads, &Default::default()).unwrap(),
            models.to_vec(),
            Injections::Fixed { n },
        )
    }
}

/// Runs with `jobs` worker threads, on `shard` when given.
pub fn opts(jobs: usize, shard: Option<Shard>) -> RunOptions {
    RunOptions {
        jobs,
        shard,
        isolation: Isolation::Threads,
        durability: Default::default(),
        host: "test-host".into(),
        command: Some("test".into()),
    }
}

/// Plans `c` into a new store `dir/name`.
pub fn create(dir: &Path, name: &str, c: &CampaignConfig) -> PathBuf {
    let plan = plan_campaign(c, &SubjectSource::standard(), 2, &mut |_| {}).unwrap();
    let path = dir.join(name);
    CampaignStore::create(&path, &plan, None).unwrap();
    path
}

/// Runs (or resumes) the campaign of the store at `path`.
pub fn run(path: &Path, jobs: usize, shard: Option<Shard>) -> RunSummary {
    try_run(path, jobs, shard).unwrap()
}

/// [`run`] that may fail.
pub fn try_run(
    path: &Path,
    jobs: usize,
    shard: Option<Shard>,
) -> Result<RunSummary, CampaignError> {
    run_campaign(
        path,
        &opts(jobs, shard),
        &SubjectSource::standard(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
}

/// (subject, model, index, spec, outcome JSON, activations, instructions, error) of a
/// result: what must not depend on how the campaign was run.
pub type Row = (
    String,
    String,
    u64,
    String,
    String,
    Option<u64>,
    Option<u64>,
    Option<String>,
);

/// Every result of an open store, in campaign order.
pub fn results(store: &CampaignStore) -> Vec<Row> {
    store
        .results()
        .unwrap()
        .into_iter()
        .map(|r| {
            let x = r.record;
            (
                x.workload,
                x.model,
                r.index,
                x.spec,
                serde_json::to_string(&x.outcome).unwrap(),
                x.activations,
                x.instructions,
                x.error,
            )
        })
        .collect()
}

/// Every result of the store at `path`, in campaign order.
pub fn rows(path: &Path) -> Vec<Row> {
    results(&CampaignStore::open_read_only(path).unwrap())
}

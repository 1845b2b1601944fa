//! Campaigns through the library (issue #7): plans are reproducible, results do not
//! depend on jobs, interruptions or shards, stores refuse what would lose work.

use injector::{
    merge_stores, plan_campaign, run_campaign, site_profile_for, CampaignConfig, CampaignError,
    CampaignEvent, CampaignStore, Model, Sampling, Subject, SubjectRef, SubjectSource,
    WorkloadSubject,
};
use reports::{OutcomeKind, Shard};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

mod support;
use support::{config, create, opts, rows, run, try_run};

fn scratch(name: &str) -> PathBuf {
    support::scratch(&format!("campaign-lib-{name}"))
}

#[test]
fn plans_are_reproducible_and_independent_of_jobs() {
    let c = config(&["vecadd", "bfs"], &[Model::Iat, Model::Wv, Model::Ioc], 6);
    let a = plan_campaign(&c, &SubjectSource::standard(), 1, &mut |_| {}).unwrap();
    let mut seen = 0;
    let b = plan_campaign(&c, &SubjectSource::standard(), 3, &mut |p| {
        seen += 1;
        assert_eq!(p.total, 6);
    })
    .unwrap();
    assert_eq!(seen, 6);
    assert_eq!(a, b);
    assert_eq!(a.hash(), b.hash());
    assert_eq!(a.rows.len(), 2 * 3 * 6);
    assert_eq!(
        a.cells
            .iter()
            .map(|c| (c.subject.as_str(), c.model))
            .collect::<Vec<_>>(),
        [
            ("vecadd", Model::Iat),
            ("vecadd", Model::Wv),
            ("vecadd", Model::Ioc),
            ("bfs", Model::Iat),
            ("bfs", Model::Wv),
            ("bfs", Model::Ioc)
        ]
    );
    // the faults are those of the per-injection generators
    let other = plan_campaign(
        &CampaignConfig {
            seed: 12,
            ..c.clone()
        },
        &SubjectSource::standard(),
        2,
        &mut |_| {},
    )
    .unwrap();
    assert_ne!(other.hash(), a.hash());
    assert_ne!(other.rows, a.rows);

    // the store gives back exactly the plan (faults round-trip through their JSON)
    let dir = scratch("plan");
    let path = dir.join("c.db");
    let store = CampaignStore::create(&path, &a, Some("gpufault campaign plan …")).unwrap();
    assert_eq!(store.plan_rows(None).unwrap(), a.rows);
    assert_eq!(store.cells().unwrap(), a.cells);
    assert_eq!(store.meta().config, c);
    assert_eq!(store.meta().plan_hash, a.hash());
    assert_eq!(store.meta().tool_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(store.progress(None).unwrap(), (36, 0));
    let shard = Shard { index: 1, count: 4 };
    assert!(store
        .pending(Some(shard))
        .unwrap()
        .iter()
        .all(|r| r.index % 4 == 1));
    assert_eq!(store.progress(Some(shard)).unwrap(), (2 * 3 * 2, 0)); // indices 1, 5
}

#[test]
fn results_do_not_depend_on_jobs_or_interruptions() {
    let dir = scratch("resume");
    let c = config(
        &["vecadd", "gemm_naive"],
        &[Model::Iat, Model::Imd, Model::Brx],
        8,
    );
    let whole = create(&dir, "whole.db", &c);
    let s = run(&whole, 1, None);
    assert!(s.complete() && !s.interrupted);
    assert_eq!((s.ran, s.done, s.planned), (48, 48, 48));
    assert_eq!(s.counts.values().sum::<u64>(), 48);

    // 3 jobs, stopped after 10 results: the in-flight injections finish and are stored
    let parts = create(&dir, "parts.db", &c);
    let stop = AtomicBool::new(false);
    let mut events = Vec::new();
    let first = run_campaign(
        &parts,
        &opts(3, None),
        &SubjectSource::standard(),
        &stop,
        &mut |e| {
            match e {
                CampaignEvent::Started { .. } => events.push("started"),
                CampaignEvent::Result { done, .. } => {
                    events.push("result");
                    if *done >= 10 {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                CampaignEvent::Finished(_) => events.push("finished"),
                _ => events.push("other"),
            };
        },
    )
    .unwrap();
    assert!(first.interrupted && !first.complete());
    // results already made when the flag was set are still committed
    assert!(first.ran >= 10 && first.ran < 48, "{}", first.ran);
    assert_eq!(events.first(), Some(&"started"));
    assert_eq!(events.last(), Some(&"finished"));
    assert_eq!(
        events.iter().filter(|e| **e == "result").count() as u64,
        first.ran
    );
    let second = run(&parts, 2, None);
    assert!(second.complete());
    assert_eq!(first.ran + second.ran, 48);
    assert_eq!(rows(&parts), rows(&whole));
    let store = CampaignStore::open(&parts).unwrap();
    let sessions = store.sessions().unwrap();
    assert_eq!(
        sessions
            .iter()
            .map(|s| s.status.as_str())
            .collect::<Vec<_>>(),
        ["interrupted", "finished"]
    );
    assert_eq!(sessions[0].completed, first.ran);
    assert_eq!(sessions[1].device_name, "gpufault virtual GPU (sim)");
    // a third run has nothing left to do and changes nothing
    let third = run(&parts, 2, None);
    assert_eq!((third.ran, third.done), (0, 48));
    assert_eq!(rows(&parts), rows(&whole));
}

#[test]
fn shards_merge_into_the_whole_campaign() {
    let dir = scratch("merge");
    let c = config(&["vecadd", "bfs"], &[Model::Iat, Model::Ira], 5);
    let whole = create(&dir, "whole.db", &c);
    run(&whole, 2, None);
    let mut shards = Vec::new();
    for i in 0..2 {
        let p = create(&dir, &format!("s{i}.db"), &c);
        let s = run(&p, 1, Some(Shard { index: i, count: 2 }));
        assert!(
            s.complete(),
            "a shard is complete when its own rows are done"
        );
        assert_eq!(s.planned, if i == 0 { 12 } else { 8 });
        shards.push(p);
    }
    let out = dir.join("all.db");
    let m = merge_stores(&shards, &out).unwrap();
    assert_eq!((m.results, m.planned, m.duplicates), (20, 20, 0));
    assert_eq!(rows(&out), rows(&whole));
    let merged = CampaignStore::open_read_only(&out).unwrap();
    assert_eq!(merged.meta().shard, None);
    assert_eq!(merged.meta().merged_from.len(), 2);
    assert_eq!(merged.sessions().unwrap().len(), 2);
    let meta = merged.campaign_meta().unwrap();
    assert_eq!(meta.extra["completed"], "20/20");
    assert_eq!(meta.seed, 11);

    // the same injections in two stores (the whole campaign and one shard): identical
    // results are kept once
    let out2 = dir.join("twice.db");
    let m = merge_stores(&[whole.clone(), shards[0].clone()], &out2).unwrap();
    assert_eq!((m.results, m.duplicates), (20, 12));
    assert_eq!(rows(&out2), rows(&whole));

    // the same store twice (one file under two names, or a copy of it) is refused: its
    // sessions and results would count twice (issue 15, item 5)
    let link = dir.join("link.db");
    std::fs::hard_link(&shards[0], &link).unwrap();
    let copy = dir.join("copy.db");
    std::fs::copy(&shards[0], &copy).unwrap();
    let bad = dir.join("bad.db");
    for again in [shards[0].clone(), link, copy] {
        let e =
            merge_stores(&[shards[0].clone(), again.clone(), shards[1].clone()], &bad).unwrap_err();
        assert!(matches!(e, CampaignError::Merge { .. }), "{e}");
        assert!(
            e.to_string().contains("same file") || e.to_string().contains("same session"),
            "{e}"
        );
        assert!(!bad.exists());
    }

    // a result that differs between two inputs in any result column is refused (also
    // when only the `outcome` column differs and `outcome_json` agrees), and no output
    // is left behind
    for tamper in [
        "UPDATE results SET outcome_json = '{\"kind\":\"not_activated\"}' WHERE idx = 0",
        "UPDATE results SET outcome = 'masked' WHERE idx = 0",
        "UPDATE results SET error = 'edited' WHERE idx = 0",
    ] {
        let tampered = dir.join("tampered.db");
        let _ = std::fs::remove_file(&tampered);
        std::fs::copy(&whole, &tampered).unwrap();
        Connection::open(&tampered)
            .unwrap()
            .execute(tamper, [])
            .unwrap();
        let e = merge_stores(&[shards[0].clone(), tampered.clone()], &bad).unwrap_err();
        assert!(matches!(e, CampaignError::Merge { .. }), "{tamper}: {e}");
        assert!(e.to_string().contains("tampered.db"), "{e}");
        assert!(e.to_string().contains("differs"), "{e}");
        assert!(!bad.exists());
    }

    // a store of another plan is refused
    let other = create(&dir, "other.db", &CampaignConfig { seed: 5, ..c });
    let e = merge_stores(&[shards[0].clone(), other], &bad).unwrap_err();
    assert!(e.to_string().contains("is not the plan of"), "{e}");
    // an existing output is never overwritten
    let e = merge_stores(&shards, &out).unwrap_err();
    assert!(matches!(e, CampaignError::Exists { .. }), "{e}");
}

#[test]
fn a_live_run_of_the_same_store_is_refused_and_a_dead_one_is_taken_over() {
    let dir = scratch("busy");
    let c = config(&["vecadd"], &[Model::Iat], 2);
    let path = create(&dir, "c.db", &c);
    // a session of process `pid` that is running (as far as the store knows)
    let add_running = |path: &Path, pid: u32| {
        Connection::open(path)
            .unwrap()
            .execute(
                "INSERT INTO sessions (started, status, host, pid, jobs, isolation, device,
                    device_name, tool_version)
                 VALUES ('t', 'running', 'test-host', ?1, 1, 'thread', 'sim', 'x', '0')",
                [pid],
            )
            .unwrap();
    };
    // pid 1 (init) is always alive
    add_running(&path, 1);
    let e = try_run(&path, 1, None).unwrap_err();
    assert!(matches!(e, CampaignError::Busy { pid: 1, .. }), "{e}");
    assert!(e.to_string().contains("c.db"), "{e}");
    assert_eq!(
        CampaignStore::open(&path).unwrap().progress(None).unwrap(),
        (2, 0)
    );

    // a process that has exited left its session `running`: it is marked stale
    let dir2 = scratch("busy2");
    let path2 = create(&dir2, "c.db", &c);
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    add_running(&path2, dead);
    assert!(run(&path2, 1, None).complete());
    let statuses: Vec<String> = CampaignStore::open(&path2)
        .unwrap()
        .sessions()
        .unwrap()
        .into_iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses, ["stale", "finished"]);
}

#[test]
fn hang_limits_follow_the_configured_factor_and_floor() {
    let dir = scratch("hang");
    let c = CampaignConfig {
        hang_factor: 3,
        hang_floor_instructions: 1000,
        ..config(&["vecadd"], &[Model::Iat], 2)
    };
    let path = create(&dir, "c.db", &c);
    run(&path, 1, None);
    let (dry, limit): (i64, i64) = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT dry_instructions, hang_instructions FROM targets",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(dry > 1000);
    assert_eq!(limit, dry * 3);
    // and the floor wins when the factor gives less
    let c = CampaignConfig {
        hang_factor: 1,
        hang_floor_instructions: 1 << 40,
        ..c
    };
    let path = create(&dir, "floor.db", &c);
    run(&path, 1, None);
    let limit: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT hang_instructions FROM targets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(limit, 1 << 40);
}

#[test]
fn physical_sampling_reports_faults_that_never_activate() {
    let dir = scratch("physical");
    let c = CampaignConfig {
        sampling: Sampling::Physical,
        device: "sim:h100".into(),
        profile: "sim:h100".into(),
        ..config(&["vecadd"], &[Model::Iaw], 24)
    };
    let path = create(&dir, "c.db", &c);
    let s = run(&path, 2, None);
    let not_activated = s
        .counts
        .get(&OutcomeKind::NotActivated)
        .copied()
        .unwrap_or(0);
    assert!(not_activated > 0, "{:?}", s.counts);
    let store = CampaignStore::open_read_only(&path).unwrap();
    let records: Vec<_> = store
        .results()
        .unwrap()
        .into_iter()
        .map(|r| r.record)
        .collect();
    let report = reports::summarize(&store.campaign_meta().unwrap(), &records);
    assert_eq!(report.total.not_activated, not_activated);
    assert_eq!(report.total.injections, 24);
    // exercised sampling on the same workload activates every fault
    let c = CampaignConfig {
        sampling: Sampling::Exercised,
        ..c
    };
    let path = create(&dir, "ex.db", &c);
    let s = run(&path, 2, None);
    assert_eq!(
        s.counts.get(&OutcomeKind::NotActivated),
        None,
        "{:?}",
        s.counts
    );
}

#[test]
fn stores_refuse_what_would_lose_work() {
    let dir = scratch("refuse");
    let c = config(&["vecadd"], &[Model::Iat], 2);
    let path = create(&dir, "c.db", &c);
    let before = std::fs::read(&path).unwrap();
    let plan = plan_campaign(&c, &SubjectSource::standard(), 1, &mut |_| {}).unwrap();
    let e = CampaignStore::create(&path, &plan, None).err().unwrap();
    assert!(matches!(e, CampaignError::Exists { .. }), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // no partial file is left beside it either
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let junk = dir.join("junk.db");
    std::fs::write(&junk, "plain text").unwrap();
    let e = CampaignStore::open(&junk).err().unwrap();
    assert!(
        e.to_string().starts_with(&junk.display().to_string()),
        "{e}"
    );
    let e = CampaignStore::open(&dir.join("none.db")).err().unwrap();
    assert!(matches!(e, CampaignError::Missing { .. }), "{e}");

    // a store of a future schema is refused by name and number
    Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE meta SET value = '99' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    let e = CampaignStore::open(&path).err().unwrap();
    assert!(e.to_string().contains("schema version 99"), "{e}");

    // shards: a store runs one shard for good
    let p2 = create(&dir, "s.db", &c);
    run(&p2, 1, Some(Shard { index: 0, count: 2 }));
    let e = try_run(&p2, 1, Some(Shard { index: 1, count: 2 })).unwrap_err();
    assert!(e.to_string().contains("holds shard 0/2"), "{e}");
    // without --shard it continues its own shard
    assert!(run(&p2, 1, None).complete());
}

#[test]
fn cuda_devices_are_profiled_on_the_closest_virtual_gpu() {
    let cuda = "cuda:0".parse().unwrap();
    assert_eq!(site_profile_for(&cuda, Some(132)), "sim:h100"); // H100, H200
    assert_eq!(site_profile_for(&cuda, Some(108)), "sim:a100");
    assert_eq!(site_profile_for(&cuda, Some(10)), "sim");
    assert_eq!(site_profile_for(&cuda, None), "sim:h100");
    assert_eq!(
        site_profile_for(&"sim:a100#3".parse().unwrap(), None),
        "sim:a100"
    );
    assert_eq!(site_profile_for(&"sim".parse().unwrap(), Some(132)), "sim");
}

/// A subject of a kind of its own (registered like the health check's suite will be):
/// vecadd, whose fault-free run fails while `BROKEN` is set.
struct Flaky(WorkloadSubject, SubjectRef);

static BROKEN: AtomicBool = AtomicBool::new(false);

impl Subject for Flaky {
    fn id(&self) -> &SubjectRef {
        &self.1
    }
    fn ptx(&self) -> &str {
        self.0.ptx()
    }
    fn run(
        &self,
        dev: &mut dyn gpu::Device,
        module: gpu::ModuleHandle,
    ) -> Result<workloads::Outputs, workloads::RunError> {
        if BROKEN.load(Ordering::SeqCst) {
            return Err(workloads::RunError::Device(gpu::GpuError::Invalid {
                detail: "the test broke it".into(),
            }));
        }
        self.0.run(dev, module)
    }
}

fn flaky_source() -> SubjectSource {
    let mut s = SubjectSource::standard();
    s.register("flaky", |r, _| {
        let w = WorkloadSubject::new("vecadd", None, 1)?;
        let id = SubjectRef {
            kind: "flaky".into(),
            name: r.name.clone(),
            source: None,
            digest: w.id().digest.clone(),
        };
        Ok(std::sync::Arc::new(Flaky(w, id)) as std::sync::Arc<dyn Subject>)
    });
    s
}

#[test]
fn a_cell_that_cannot_run_stays_pending_and_resume_finishes_it() {
    let dir = scratch("failed-cell");
    let source = flaky_source();
    let flaky = source
        .build("flaky", "flaky-vecadd", None, &Default::default())
        .unwrap();
    let mut c = config(&["bfs"], &[Model::Iat], 3);
    c.subjects.insert(0, flaky.id().clone());
    let plan = plan_campaign(&c, &source, 2, &mut |_| {}).unwrap();
    let path = dir.join("c.db");
    CampaignStore::create(&path, &plan, None).unwrap();
    // the standard source cannot open the store's own kind: a clear error, nothing run
    let e = try_run(&path, 1, None).unwrap_err();
    assert!(
        e.to_string()
            .contains("of kind `flaky`, which this program cannot open"),
        "{e}"
    );
    // make the flaky cell's fault-free run fail: its rows stay pending, bfs runs
    BROKEN.store(true, Ordering::SeqCst);
    let mut failed = Vec::new();
    let s = run_campaign(
        &path,
        &opts(2, None),
        &source,
        &AtomicBool::new(false),
        &mut |e| {
            if let CampaignEvent::Failed { subject, index, .. } = e {
                failed.push((subject.to_string(), *index));
            }
        },
    )
    .unwrap();
    BROKEN.store(false, Ordering::SeqCst);
    assert!(!s.complete() && !s.interrupted);
    assert_eq!((s.ran, s.done, s.planned), (3, 3, 6));
    assert_eq!(failed, [("flaky-vecadd".to_string(), None)]);
    assert_eq!(s.failures.len(), 1);
    assert!(
        s.failures[0].starts_with("flaky-vecadd/iat: the fault-free run of `flaky-vecadd` failed"),
        "{:?}",
        s.failures
    );
    let store = CampaignStore::open(&path).unwrap();
    // the refused run started no session
    assert_eq!(store.sessions().unwrap().len(), 1);
    assert_eq!(store.sessions().unwrap()[0].status, "incomplete");
    assert!(store
        .pending(None)
        .unwrap()
        .iter()
        .all(|r| r.subject == "flaky-vecadd"));
    drop(store);
    let s = run_campaign(
        &path,
        &opts(2, None),
        &source,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    assert!(s.complete());
    assert_eq!(s.ran, 3);
}

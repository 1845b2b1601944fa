//! The campaign store's file: older schemas are upgraded (never lost), damaged files are
//! refused before anything is read from them, and what is not a store says what it is.
//!
//! `fixtures/store-v1.db` is a real store of schema 1, written by gpufault 0.1.0 (the
//! release before campaigns were keyed by subject) with
//! `gpufault campaign --workloads vecadd,bfs --models iat,wv --injections 3 --device sim
//! --seed 3 --jobs 1 --out v1.db`.

use injector::{
    plan_campaign, workload_refs, CampaignConfig, CampaignError, CampaignStore, Injections, Model,
    SubjectSource, STORE_SCHEMA_VERSION,
};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

mod support;
use support::{results as rows, run, Row};

fn scratch(name: &str) -> PathBuf {
    support::scratch(&format!("store-{name}"))
}

fn fixture_v1(dir: &Path) -> PathBuf {
    let p = dir.join("v1.db");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1.db"),
        &p,
    )
    .unwrap();
    p
}

/// The v1 file's own result rows, read with plain SQL.
fn v1_rows(path: &Path) -> Vec<Row> {
    let c = Connection::open(path).unwrap();
    let mut st = c
        .prepare(
            "SELECT r.workload, r.model, r.idx, p.spec, r.outcome_json, r.activations,
                    r.instructions, r.error
             FROM results r JOIN plan p USING (workload, model, idx)
             JOIN cells c USING (workload, model) ORDER BY c.ord, r.idx",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get::<_, i64>(2)? as u64,
            r.get(3)?,
            r.get(4)?,
            r.get::<_, Option<i64>>(5)?.map(|v| v as u64),
            r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
            r.get(7)?,
        ))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[test]
fn a_schema_1_store_is_read_without_change_and_upgraded_when_written() {
    let dir = scratch("v1");
    let path = fixture_v1(&dir);
    let before = std::fs::read(&path).unwrap();
    let want = v1_rows(&path);
    assert_eq!(want.len(), 12);

    // reading (report, status) upgrades a private copy and leaves the file alone
    let store = CampaignStore::open_read_only(&path).unwrap();
    assert_eq!(rows(&store), want);
    let names: Vec<&str> = store
        .meta()
        .config
        .subjects
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["vecadd", "bfs"]);
    assert_eq!(store.meta().config.models, [Model::Iat, Model::Wv]);
    let meta = store.campaign_meta().unwrap();
    assert_eq!(meta.workloads, ["vecadd", "bfs"]);
    assert_eq!(meta.extra["completed"], "12/12");
    drop(store);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a read changed the file"
    );

    // opening to write upgrades the file in place, keeping every row
    let store = CampaignStore::open(&path).unwrap();
    assert_eq!(rows(&store), want);
    drop(store);
    let version: String = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, STORE_SCHEMA_VERSION.to_string());
    // the upgraded plan is the plan this build draws from the same configuration: same
    // rows, same hash
    let store = CampaignStore::open(&path).unwrap();
    let config = store.meta().config.clone();
    let hash = store.meta().plan_hash.clone();
    let stored: Vec<_> = store
        .plan_rows(None)
        .unwrap()
        .into_iter()
        .map(|r| (r.subject, r.model, r.index, r.spec.to_string()))
        .collect();
    drop(store);
    let plan = plan_campaign(&config, &SubjectSource::standard(), 1, &mut |_| {}).unwrap();
    let drawn: Vec<_> = plan
        .rows
        .iter()
        .map(|r| (r.subject.clone(), r.model, r.index, r.spec.to_string()))
        .collect();
    assert_eq!(drawn, stored);
    assert_eq!(plan.hash(), hash);
    // and it runs: nothing is pending, nothing is run twice
    let s = run(&path, 1, None);
    assert_eq!((s.ran, s.done, s.planned), (0, 12, 12));
}

fn small_store(dir: &Path) -> PathBuf {
    let config = CampaignConfig::new(
        workload_refs(&["vecadd"], &Default::default()).unwrap(),
        vec![Model::Iat],
        Injections::Fixed { n: 30 },
    );
    let plan = plan_campaign(&config, &SubjectSource::standard(), 1, &mut |_| {}).unwrap();
    let path = dir.join("c.db");
    CampaignStore::create(&path, &plan, None).unwrap();
    run(&path, 1, None);
    // fold the write-ahead log into the file, so the file alone is the store
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        .unwrap();
    path
}

#[test]
fn a_damaged_store_is_refused_before_anything_is_read() {
    let dir = scratch("damaged");
    let path = small_store(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    assert!(bytes.len() >= 4 * page, "{} bytes", bytes.len());
    // garbage over the b-tree pages after the schema page (issue 15, item 6)
    for b in &mut bytes[page + 100..3 * page] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    for e in [
        CampaignStore::open_read_only(&path).err().unwrap(),
        CampaignStore::open(&path).err().unwrap(),
    ] {
        assert!(matches!(e, CampaignError::Damaged { .. }), "{e:?}");
        assert!(e.to_string().contains("is damaged"), "{e}");
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
    }
}

#[test]
fn what_is_not_a_store_says_what_it_is() {
    let dir = scratch("not-a-store");
    let e = CampaignStore::open_read_only(&dir).err().unwrap();
    assert!(e.to_string().contains("is a directory"), "{e}");
    let text = dir.join("r.csv");
    std::fs::write(&text, "a,b\n1,2\n").unwrap();
    let e = CampaignStore::open_read_only(&text).err().unwrap();
    assert!(e.to_string().contains("not a SQLite database"), "{e}");
    let e = CampaignStore::open(&dir.join("none.db")).err().unwrap();
    assert!(matches!(e, CampaignError::Missing { .. }), "{e}");
}

use super::*;

const A: &str = "GPU-48793a87-8bc2-2290-87c2-1ad1800320a7";
const B: &str = "GPU-b9f5b6f3-4288-70be-8989-ae8f95047ba2";

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gpufault-ledger-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn manual(uuid: &str, reason: &str) -> Quarantine {
    Quarantine {
        uuid: uuid.into(),
        device: "sim:h100#3".into(),
        reason: reason.into(),
        evidence: Evidence::Manual {
            note: reason.into(),
        },
    }
}

/// The field an [`LedgerError::Invalid`] names.
fn invalid_field(err: &LedgerError) -> Option<&'static str> {
    match err {
        LedgerError::Invalid { field, .. } => Some(field),
        _ => None,
    }
}

fn actions(g: &GpuEntry) -> Vec<Action> {
    g.history.iter().map(|h| h.action).collect()
}

#[test]
fn a_missing_ledger_is_empty_and_reading_it_creates_nothing() {
    let dir = scratch("missing");
    let ledger = Ledger::at(dir.join("sub/quarantine.json"));
    assert_eq!(ledger.read().unwrap(), LedgerFile::default());
    assert!(ledger.quarantined().unwrap().is_empty());
    assert!(!dir.join("sub").exists());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn quarantine_seen_again_release_and_quarantine_again_round_trip() {
    let dir = scratch("cycle");
    let ledger = Ledger::at(dir.join("state/quarantine.json"));
    assert_eq!(
        ledger
            .record_quarantine(manual(A, "first\nreport"))
            .unwrap(),
        Action::Quarantined
    );
    let first = ledger.read().unwrap().get(A).unwrap().clone();
    assert_eq!(first.reason, "first report");
    assert_eq!(first.state, State::Quarantined);
    assert_eq!(first.first_seen, first.last_seen);
    assert_eq!(first.host, host_name());
    assert_eq!(first.tool_version, env!("CARGO_PKG_VERSION"));

    let xid = Quarantine {
        uuid: A.to_ascii_uppercase(),
        device: "cuda:1".into(),
        reason: "xid 79".into(),
        evidence: Evidence::Xid { xid: 79 },
    };
    assert_eq!(ledger.record_quarantine(xid).unwrap(), Action::SeenAgain);
    let again = ledger.read().unwrap().get(A).unwrap().clone();
    assert_eq!(again.first_seen, first.first_seen);
    assert!(again.last_seen >= first.last_seen);
    assert_eq!(again.device, "cuda:1");
    assert_eq!(again.evidence, Evidence::Xid { xid: 79 });
    assert_eq!(again.history[1].evidence.as_deref(), Some("xid=79"));

    ledger
        .release(
            &A.to_ascii_lowercase(),
            Release::Validated {
                check: "full check healthy on cuda:1".into(),
            },
        )
        .unwrap();
    let released = ledger.read().unwrap().get(A).unwrap().clone();
    assert_eq!(released.state, State::Released);
    let last = released.history.last().unwrap();
    assert_eq!(last.check.as_deref(), Some("full check healthy on cuda:1"));
    assert!(ledger.quarantined().unwrap().is_empty());

    assert_eq!(
        ledger.record_quarantine(manual(A, "back")).unwrap(),
        Action::Quarantined
    );
    ledger
        .release(
            A,
            Release::Forced {
                reason: "replaced the board".into(),
            },
        )
        .unwrap();
    let g = ledger.read().unwrap().get(A).unwrap().clone();
    assert_eq!(
        actions(&g),
        [
            Action::Quarantined,
            Action::SeenAgain,
            Action::Released,
            Action::Quarantined,
            Action::ForcedRelease
        ]
    );
    assert_eq!(g.history[4].reason, "replaced the board");
    assert_eq!(
        g.first_seen, g.history[3].time,
        "a new quarantine starts anew"
    );
    // what is on disk reads back as what was written
    let text = fs::read_to_string(ledger.path()).unwrap();
    assert_eq!(LedgerFile::parse(&text).unwrap().to_json(), text);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn releases_that_cannot_be_done_are_errors_and_change_nothing() {
    let dir = scratch("release-errors");
    let ledger = Ledger::at(dir.join("q.json"));
    let err = ledger
        .release(A, Release::Forced { reason: "x".into() })
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(A));
    ledger.quarantine(manual(A, "bad")).unwrap();
    let before = fs::read(ledger.path()).unwrap();
    let err = ledger
        .release(
            A,
            Release::Forced {
                reason: " \n".into(),
            },
        )
        .unwrap_err();
    assert_eq!(invalid_field(&err), Some("reason"), "{err}");
    let seen = ledger.read().unwrap().get(A).unwrap().last_seen.clone();
    let err = ledger
        .release_if_unchanged(
            A,
            Release::Validated { check: "ok".into() },
            "2000-01-01T00:00:00.000Z",
        )
        .unwrap_err();
    assert!(matches!(err, LedgerError::SeenAgain { .. }), "{err}");
    assert_eq!(fs::read(ledger.path()).unwrap(), before);
    ledger
        .release_if_unchanged(A, Release::Validated { check: "ok".into() }, &seen)
        .unwrap();
    let err = ledger
        .release(A, Release::Validated { check: "ok".into() })
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotQuarantined { .. }), "{err}");
    for bad in ["0", "cuda:0", ""] {
        let err = ledger.quarantine(manual(bad, "x")).unwrap_err();
        assert_eq!(invalid_field(&err), Some("uuid"), "{err}");
    }
    let err = ledger.quarantine(manual(B, "")).unwrap_err();
    assert_eq!(invalid_field(&err), Some("reason"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_damaged_or_newer_ledger_is_an_error_naming_it_and_is_never_replaced() {
    let dir = scratch("damaged");
    let path = dir.join("quarantine.json");
    let ledger = Ledger::at(&path);
    ledger.quarantine(manual(A, "bad")).unwrap();
    let good = fs::read_to_string(&path).unwrap();
    let torn = &good[..good.len() / 2];
    let newer = good.replacen("\"schema_version\": 1", "\"schema_version\": 2", 1);
    let mut latin1 = good.clone().into_bytes();
    let at = good.find("bad").unwrap();
    latin1[at] = 0xe9;
    for (text, says) in [
        (torn.as_bytes(), "EOF while parsing"),
        (b"".as_slice(), "EOF while parsing"),
        (newer.as_bytes(), "schema_version 2"),
        (&latin1[..], &*format!("not UTF-8 text (byte {at})")),
    ] {
        fs::write(&path, text).unwrap();
        for err in [
            ledger.read().unwrap_err(),
            ledger.quarantined().unwrap_err(),
            ledger.quarantine(manual(B, "other")).unwrap_err(),
            ledger
                .release(A, Release::Forced { reason: "x".into() })
                .unwrap_err(),
        ] {
            let msg = err.to_string();
            assert!(matches!(err, LedgerError::Unreadable { .. }), "{msg}");
            assert!(msg.contains(&path.display().to_string()), "{msg}");
            assert!(msg.contains(says), "{msg}");
            assert!(msg.contains("never replaced"), "{msg}");
        }
        assert_eq!(fs::read(&path).unwrap(), text, "left as it was");
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_default_location_follows_root_xdg_and_home() {
    let os = |s: &str| Some(OsString::from(s));
    assert_eq!(
        default_location(true, os("/x"), os("/home/u")),
        PathBuf::from(SYSTEM_PATH)
    );
    assert_eq!(
        default_location(false, os("/x/state"), os("/home/u")),
        PathBuf::from("/x/state/gpufault/quarantine.json")
    );
    // a relative XDG_STATE_HOME is ignored, as the XDG specification says
    assert_eq!(
        default_location(false, os("rel"), os("/home/u")),
        PathBuf::from("/home/u/.local/state/gpufault/quarantine.json")
    );
    assert_eq!(
        default_location(false, None, None),
        PathBuf::from(SYSTEM_PATH)
    );
}

#[test]
fn temporaries_of_killed_writers_are_removed_and_nothing_else() {
    let dir = scratch("temporaries");
    let ledger = Ledger::at(dir.join("q.json"));
    let stale = [".q.json.4242-0.tmp", ".q.json.17-3.tmp"];
    let kept = [
        ".q.json.x-0.tmp",
        ".other.json.1-0.tmp",
        "q.json.1-0.tmp",
        ".q.json.1-0.tmp~",
    ];
    for n in stale.iter().chain(&kept) {
        fs::write(dir.join(n), "{").unwrap();
    }
    ledger.quarantine(manual(A, "bad")).unwrap();
    let mut left: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    let mut want: Vec<String> = kept.iter().map(|s| s.to_string()).collect();
    want.extend(["q.json".to_string(), "q.json.lock".to_string()]);
    want.sort();
    assert_eq!(left, want);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn names_of_one_ledger_through_a_symlink_share_its_lock_and_file() {
    let dir = scratch("symlink");
    fs::create_dir_all(dir.join("real")).unwrap();
    std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
    let a = Ledger::at(dir.join("real/q.json"));
    let b = Ledger::at(dir.join("link/q.json"));
    a.quarantine(manual(A, "one")).unwrap();
    b.quarantine(manual(B, "two")).unwrap();
    assert_eq!(a.quarantined().unwrap().len(), 2);
    assert!(dir.join("real/q.json.lock").exists());
    assert!(!dir.join("link/q.json").is_symlink());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn threads_writing_through_their_own_handles_lose_no_entry() {
    // flock(2) locks belong to the open file, so threads that each open the lock file
    // exclude each other as processes do (the processes' test is in cli/tests).
    let dir = scratch("threads");
    let path = dir.join("q.json");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let ledger = Ledger::at(path);
                for i in 0..10 {
                    let uuid = format!("GPU-{t:08x}-{i:04x}");
                    ledger.quarantine(manual(&uuid, "load")).unwrap();
                    if i % 2 == 0 {
                        ledger
                            .release(
                                &uuid,
                                Release::Forced {
                                    reason: "test".into(),
                                },
                            )
                            .unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let file = Ledger::at(&path).read().unwrap();
    assert_eq!(file.gpus.len(), 40);
    assert_eq!(file.quarantined().count(), 20);
    let events: usize = file.gpus.iter().map(|g| g.history.len()).sum();
    assert_eq!(events, 60);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn check_evidence_is_summarized_into_the_history() {
    let dir = scratch("check-evidence");
    let ledger = Ledger::at(dir.join("q.json"));
    let finding = reports::check::Finding {
        severity: reports::check::Severity::Faulty,
        evidence: reports::check::Evidence::Rule {
            rule: "xid".into(),
            value: "79".into(),
            limit: "no hardware-class XID".into(),
        },
    };
    ledger
        .quarantine(Quarantine {
            uuid: B.into(),
            device: "sim#0".into(),
            reason: "faulty".into(),
            evidence: Evidence::Check {
                findings: vec![finding],
            },
        })
        .unwrap();
    let g = ledger.read().unwrap().get(B).unwrap().clone();
    assert_eq!(g.history[0].evidence.as_deref(), Some("check: xid=79"));
    fs::remove_dir_all(&dir).unwrap();
}

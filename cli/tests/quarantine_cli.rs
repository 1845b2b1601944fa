//! `gpufault quarantine list|add|release` end to end (issue 18, "The quarantine ledger"
//! and must-show 4): round trips, UUIDs in any case, the damaged ledger, release refused
//! on faulty virtual GPUs and accepted on healthy or degraded ones, forced releases, and
//! the real binary run by eight writers at once — for a while, and killed with SIGKILL at
//! random moments — losing nothing and never tearing the file.

mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::{command, gpufault, scratch, stderr, stdout};

/// A small virtual node: GPU 0 healthy, 1 with a permanent fault, 2 degraded (a PCIe
/// link below its maximum), 3 with a hardware XID.
const NODE: &str = r#"{"gpus": {
  "sim#1": {"fault": "iat:sm=0,sp=0,warps=0x1,lanes=0xff,dim=x,mask=0x4,pol=sa1"},
  "sim#2": {"telemetry": {"pcie": {"generation": 3, "width": 8}}},
  "sim#3": {"telemetry": {"xid_events": [79]}}
}}"#;

/// `gpufault quarantine ARGS… --ledger LEDGER` in `dir`.
fn q(dir: &Path, ledger: &Path, args: &[&str]) -> Output {
    let mut all = vec!["quarantine"];
    all.extend_from_slice(args);
    all.extend(["--ledger", ledger.to_str().unwrap()]);
    gpufault(dir, &all)
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

/// Insists on exit code `want`, showing both streams otherwise.
fn expect(o: Output, want: i32) -> Output {
    assert_eq!(
        code(&o),
        want,
        "stdout:\n{}\nstderr:\n{}",
        stdout(&o),
        stderr(&o)
    );
    o
}

/// The ledger file as JSON.
fn read(ledger: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(ledger).unwrap()).unwrap()
}

/// The entry of `uuid` in the ledger file.
fn entry(ledger: &Path, uuid: &str) -> Value {
    read(ledger)["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["uuid"] == uuid)
        .unwrap_or_else(|| panic!("{uuid} is not in the ledger"))
        .clone()
}

/// The actions of an entry's history.
fn history(g: &Value) -> Vec<String> {
    g["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap().to_string())
        .collect()
}

/// The UUID of a device, from `gpufault devices --json`.
fn uuid_of(dir: &Path, device: &str) -> String {
    let o = expect(gpufault(dir, &["devices", device, "--json"]), 0);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["devices"][0]["uuid"].as_str().unwrap().to_string()
}

#[test]
fn add_list_and_forced_release_round_trip_with_uuids_in_any_case() {
    let dir = scratch("quarantine-round-trip");
    let ledger = dir.join("state/quarantine.json");
    let uuid = uuid_of(&dir, "sim:h100#5");
    expect(
        q(
            &dir,
            &ledger,
            &["add", "sim:h100#5", "--reason", "loss spikes"],
        ),
        0,
    );
    let shouted = uuid.to_ascii_uppercase();
    let o = expect(
        q(&dir, &ledger, &["add", &shouted, "--reason", "xid\n79"]),
        0,
    );
    assert!(stdout(&o).contains("quarantined already"), "{}", stdout(&o));
    let foreign = "GPU-0000aaaa-1111-2222-3333-444444444444";
    let o = expect(
        q(&dir, &ledger, &["add", foreign, "--reason", "from node9"]),
        0,
    );
    assert!(
        stdout(&o).contains("not found on this host"),
        "{}",
        stdout(&o)
    );

    let g = entry(&ledger, &uuid);
    assert_eq!(g["state"], "quarantined");
    assert_eq!(g["device"], "sim:h100#5");
    assert_eq!(g["reason"], "xid 79", "the latest report, on one line");
    assert_eq!(g["evidence"]["kind"], "manual");
    assert_eq!(history(&g), ["quarantined", "seen_again"]);
    assert_eq!(entry(&ledger, foreign)["device"], "");

    let list = expect(q(&dir, &ledger, &["list"]), 0);
    let text = stdout(&list);
    assert!(text.starts_with("2 GPUs quarantined (ledger "), "{text}");
    assert!(
        text.contains(&format!("{uuid}  quarantined  sim:h100#5")),
        "{text}"
    );

    let o = expect(
        q(
            &dir,
            &ledger,
            &[
                "release",
                &uuid.to_ascii_lowercase(),
                "--force",
                "--reason",
                "board swapped",
            ],
        ),
        0,
    );
    assert!(stdout(&o).contains("by force"), "{}", stdout(&o));
    let o = expect(
        q(
            &dir,
            &ledger,
            &["release", &uuid, "--force", "--reason", "again"],
        ),
        0,
    );
    assert!(stdout(&o).contains("released already"), "{}", stdout(&o));

    let json: Value =
        serde_json::from_slice(&expect(q(&dir, &ledger, &["list", "--json"]), 0).stdout).unwrap();
    assert_eq!(json["schema_version"], 1);
    let listed: Vec<&str> = json["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [foreign]);
    let all: Value =
        serde_json::from_slice(&expect(q(&dir, &ledger, &["list", "--json", "--all"]), 0).stdout)
            .unwrap();
    assert_eq!(all, read(&ledger), "--all --json is the whole file");
    let g = entry(&ledger, &uuid);
    assert_eq!(g["state"], "released");
    assert_eq!(history(&g), ["quarantined", "seen_again", "forced_release"]);
    assert_eq!(g["history"][2]["reason"], "board swapped");
    let text = stdout(&expect(q(&dir, &ledger, &["list", "--all"]), 0));
    assert!(text.starts_with("1 GPU quarantined, 1 released"), "{text}");
    assert!(text.contains("forced_release"), "{text}");
}

#[test]
fn the_ledger_comes_from_the_flag_then_the_environment() {
    let dir = scratch("quarantine-location");
    let from_env = dir.join("env/q.json");
    let uuid = "GPU-0000bbbb-1111-2222-3333-444444444444";
    let o = command(&dir, &["quarantine", "add", uuid, "--reason", "r"])
        .env("GPUFAULT_LEDGER", &from_env)
        .output()
        .unwrap();
    expect(o, 0);
    assert_eq!(entry(&from_env, uuid)["state"], "quarantined");
    let flag = dir.join("flag.json");
    let o = command(
        &dir,
        &[
            "quarantine",
            "--ledger",
            flag.to_str().unwrap(),
            "add",
            uuid,
            "--reason",
            "r",
        ],
    )
    .env("GPUFAULT_LEDGER", &from_env)
    .output()
    .unwrap();
    expect(o, 0);
    assert_eq!(history(&entry(&from_env, uuid)).len(), 1, "the flag wins");
    assert_eq!(history(&entry(&flag, uuid)).len(), 1);
}

#[test]
fn a_damaged_ledger_is_an_error_naming_it_and_stays_as_it_was() {
    let dir = scratch("quarantine-damaged");
    let ledger = dir.join("q.json");
    let uuid = "GPU-0000cccc-1111-2222-3333-444444444444";
    expect(q(&dir, &ledger, &["add", uuid, "--reason", "r"]), 0);
    let good = std::fs::read_to_string(&ledger).unwrap();
    let newer = good.replacen("\"schema_version\": 1", "\"schema_version\": 9", 1);
    for text in [&good[..good.len() - 20], "", "[1, 2]", newer.as_str()] {
        std::fs::write(&ledger, text).unwrap();
        for args in [
            &["list"][..],
            &["add", "GPU-0000dddd-1111", "--reason", "r"],
            &["release", uuid, "--force", "--reason", "r"],
            &["release", uuid],
        ] {
            let o = expect(q(&dir, &ledger, args), 2);
            let err = stderr(&o);
            assert!(
                err.contains(&ledger.display().to_string()),
                "{args:?}: {err}"
            );
            assert!(err.contains("never replaced"), "{args:?}: {err}");
        }
        assert_eq!(std::fs::read_to_string(&ledger).unwrap(), text);
    }
}

#[test]
fn usage_errors_exit_2_and_say_what_is_wrong() {
    let dir = scratch("quarantine-usage");
    let ledger = dir.join("q.json");
    let uuid = "GPU-0000eeee-1111-2222-3333-444444444444";
    for (args, says) in [
        (&["release", uuid, "--force"][..], "--reason"),
        (&["release", uuid, "--reason", "r"], "--force"),
        (&["add", uuid], "--reason"),
        (&["add", "sim:h100*4", "--reason", "r"], "node of 4 GPUs"),
        (&["add", "3", "--reason", "r"], "invalid device name `3`"),
        (
            &["add", "GPU-not a uuid", "--reason", "r"],
            "not a GPU UUID",
        ),
        (&["add", uuid, "--reason", " "], "reason"),
        (
            &["release", uuid, "--force", "--reason", "r"],
            "is not in it",
        ),
        (&["release", uuid], "is not in it"),
        (&["release", "sim#0", "--timeout", "0"], "timeout"),
    ] {
        let o = expect(q(&dir, &ledger, args), 2);
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    assert!(!ledger.exists(), "nothing was written");
}

#[test]
fn release_needs_a_clean_full_check_of_the_gpu_now() {
    let dir = scratch("quarantine-release");
    let node = dir.join("node.json");
    std::fs::write(&node, NODE).unwrap();
    let node = node.to_str().unwrap();
    let ledger = dir.join("q.json");
    for d in ["sim#0", "sim#1", "sim#2", "sim#3"] {
        expect(
            q(
                &dir,
                &ledger,
                &["add", d, "--reason", "suspect", "--node-config", node],
            ),
            0,
        );
    }
    let uuid = |d: &str| uuid_of(&dir, d);

    // faulty: a permanent fault, and a hardware XID — refused, reasons printed
    for (d, says) in [("sim#1", "warp-scheduler"), ("sim#3", "xid=79")] {
        let o = expect(q(&dir, &ledger, &["release", d, "--node-config", node]), 1);
        let err = stderr(&o);
        assert!(err.contains("not released"), "{err}");
        assert!(err.contains("says faulty"), "{err}");
        assert!(err.contains(says), "{err}");
        assert_eq!(entry(&ledger, &uuid(d))["state"], "quarantined");
        assert_eq!(history(&entry(&ledger, &uuid(d))), ["quarantined"]);
    }
    // the faulty GPU named by UUID, in upper case: the same check, the same refusal
    let o = q(
        &dir,
        &ledger,
        &[
            "release",
            &uuid("sim#1").to_ascii_uppercase(),
            "--node-config",
            node,
        ],
    );
    assert!(stderr(&expect(o, 1)).contains("SM0"));

    // degraded passes (the GPU computes right); the check's summary is recorded
    let o = expect(
        q(&dir, &ledger, &["release", "sim#2", "--node-config", node]),
        0,
    );
    assert!(
        stdout(&o).contains("full check degraded of sim#2"),
        "{}",
        stdout(&o)
    );
    let g = entry(&ledger, &uuid("sim#2"));
    assert_eq!(g["state"], "released");
    let check = g["history"][1]["check"].as_str().unwrap();
    assert!(
        check.contains("8/8 SMs") && check.contains("pcie_link"),
        "{check}"
    );

    // healthy, by UUID in lower case: the ledger remembers it as sim#0
    let o = q(
        &dir,
        &ledger,
        &[
            "release",
            &uuid("sim#0").to_ascii_lowercase(),
            "--node-config",
            node,
        ],
    );
    expect(o, 0);
    let g = entry(&ledger, &uuid("sim#0"));
    assert_eq!(history(&g), ["quarantined", "released"]);
    assert!(g["history"][1]["check"]
        .as_str()
        .unwrap()
        .starts_with("full check healthy of sim#0"));

    // a forced release of the faulty one is recorded with its reason
    expect(
        q(
            &dir,
            &ledger,
            &[
                "release",
                "sim#1",
                "--force",
                "--reason",
                "sent for RMA",
                "--node-config",
                node,
            ],
        ),
        0,
    );
    let g = entry(&ledger, &uuid("sim#1"));
    assert_eq!(history(&g), ["quarantined", "forced_release"]);
    assert_eq!(g["history"][1]["reason"], "sent for RMA");
}

#[test]
fn a_uuid_not_on_this_host_cannot_be_revalidated() {
    let dir = scratch("quarantine-elsewhere");
    let ledger = dir.join("q.json");
    let uuid = "GPU-0000ffff-1111-2222-3333-444444444444";
    expect(
        q(&dir, &ledger, &["add", uuid, "--reason", "from node9"]),
        0,
    );
    let o = expect(q(&dir, &ledger, &["release", uuid]), 2);
    let err = stderr(&o);
    assert!(err.contains("is not on this host"), "{err}");
    assert!(err.contains("--force --reason"), "{err}");
    assert_eq!(entry(&ledger, uuid)["state"], "quarantined");
}

// ---------------------------------------------------------------------------------------
// Must-show 4: concurrent writers lose nothing; kill -9 never tears the file.
// ---------------------------------------------------------------------------------------

/// Writers (threads, each running one `gpufault` process at a time on its own UUIDs).
const WRITERS: usize = 8;
/// UUIDs per writer.
const UUIDS: usize = 3;

/// xorshift64*: the writers' choices (no dependency; only the spread matters).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) % n
    }
}

/// A killed process is killed after a random delay below this many microseconds: about
/// the time an operation takes when eight run at once, so kills land before, during and
/// after the write.
const KILL_WITHIN_US: u64 = 150_000;

/// The UUID `i` of writer `w` in round `round`.
fn writer_uuid(round: usize, w: usize, i: usize) -> String {
    format!("GPU-{round:08x}-{w:04x}-{i:04x}-0000-000000000000")
}

/// What one writer did: per UUID, the history actions it committed (exit 0), in order.
type Committed = BTreeMap<String, Vec<&'static str>>;

/// The next command of a writer for `uuid` in state `history` (its committed actions),
/// and the action it records: a quarantine (or a report seen again) or a forced release.
fn next_op(rng: &mut Rng, ledger: &Path, uuid: &str, history: &[&str]) -> (Command, &'static str) {
    let quarantined = matches!(history.last(), Some(&"quarantined" | &"seen_again"));
    let l = ledger.to_str().unwrap();
    let mut c = Command::new(support::BIN);
    c.env("CI", "true").stdin(std::process::Stdio::null());
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if quarantined && rng.below(3) > 0 {
        c.args([
            "quarantine",
            "release",
            uuid,
            "--force",
            "--reason",
            "stress",
            "--ledger",
            l,
        ]);
        (c, "forced_release")
    } else {
        c.args([
            "quarantine",
            "add",
            uuid,
            "--reason",
            "stress",
            "--ledger",
            l,
        ]);
        (
            c,
            if quarantined {
                "seen_again"
            } else {
                "quarantined"
            },
        )
    }
}

/// The history actions of every GPU in the ledger; panics (the test fails) when the
/// file does not parse as a ledger.
fn ledger_histories(ledger: &Path) -> BTreeMap<String, Vec<String>> {
    let text = match std::fs::read_to_string(ledger) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
        Err(e) => panic!("cannot read the ledger: {e}"),
    };
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the ledger does not parse ({e}):\n{text}"));
    v["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["uuid"].as_str().unwrap().to_string(), history(g)))
        .collect()
}

/// What a run of writers did, for the report.
#[derive(Default, Debug)]
struct Tally {
    ops: usize,
    kills: usize,
    kills_after_commit: usize,
    kills_mid_write: usize,
}

/// One writer: until `until`, runs one `gpufault quarantine add|release --force` at a
/// time on its own UUIDs; with `kill_one_in` = Some(n), kills one process in n with
/// SIGKILL after a random delay (below [`KILL_WITHIN_US`]) and, if it did die of it, reads the ledger: it must parse,
/// hold every action this writer committed, and at most the one killed on top.
fn writer(
    ledger: PathBuf,
    round: usize,
    w: usize,
    until: Instant,
    kill_one_in: Option<u64>,
) -> (Committed, Tally) {
    let mut rng =
        Rng(0x9e37_79b9_7f4a_7c15
            ^ ((round * 64 + w) as u64 + 1).wrapping_mul(0xff51_afd7_ed55_8ccd));
    let mut done: Committed = (0..UUIDS)
        .map(|i| (writer_uuid(round, w, i), Vec::new()))
        .collect();
    let mut tally = Tally::default();
    while Instant::now() < until {
        let uuid = writer_uuid(round, w, rng.below(UUIDS as u64) as usize);
        let (mut cmd, action) = next_op(&mut rng, &ledger, &uuid, &done[&uuid]);
        let mut child = cmd.spawn().unwrap();
        if kill_one_in.is_some_and(|n| rng.below(n) == 0) {
            std::thread::sleep(Duration::from_micros(rng.below(KILL_WITHIN_US)));
            let _ = child.kill();
        }
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        if out.status.signal() != Some(nix::libc::SIGKILL) {
            // not killed (or it finished first): it must have succeeded
            assert!(
                out.status.success(),
                "{uuid} {action}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            done.get_mut(&uuid).unwrap().push(action);
            tally.ops += 1;
            continue;
        }
        tally.kills += 1;
        let name = ledger.file_name().unwrap().to_str().unwrap();
        if ledger
            .with_file_name(format!(".{name}.{pid}-0.tmp"))
            .exists()
        {
            tally.kills_mid_write += 1;
        }
        let now = ledger_histories(&ledger);
        for (u, want) in &done {
            let got = now.get(u).cloned().unwrap_or_default();
            if *u == uuid && got.len() == want.len() + 1 {
                assert_eq!(
                    &got[..want.len()],
                    &want[..],
                    "{u}: a committed action was lost"
                );
                assert_eq!(got[want.len()], action, "{u}");
                continue;
            }
            assert_eq!(&got, want, "{u} after a kill: a committed action was lost");
        }
        if now
            .get(&uuid)
            .is_some_and(|g| g.len() == done[&uuid].len() + 1)
        {
            done.get_mut(&uuid).unwrap().push(action);
            tally.kills_after_commit += 1;
            tally.ops += 1;
        }
    }
    (done, tally)
}

/// Runs `WRITERS` writers for `secs`, then checks that the ledger holds exactly what each
/// committed — every UUID's history, action by action, and so its state — and nothing
/// else.
fn run_writers(name: &str, secs: u64, kill_one_in: Option<u64>) -> Tally {
    let dir = scratch(name);
    let ledger = dir.join("quarantine.json");
    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let threads: Vec<_> = (0..WRITERS)
        .map(|w| {
            let ledger = ledger.clone();
            std::thread::spawn(move || writer(ledger, 0, w, until, kill_one_in))
        })
        .collect();
    let mut all = Committed::new();
    let mut tally = Tally::default();
    for t in threads {
        let (done, t) = t.join().unwrap();
        all.extend(done.into_iter().filter(|(_, h)| !h.is_empty()));
        tally.ops += t.ops;
        tally.kills += t.kills;
        tally.kills_after_commit += t.kills_after_commit;
        tally.kills_mid_write += t.kills_mid_write;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let got = ledger_histories(&ledger);
    let want: BTreeMap<String, Vec<String>> = all
        .into_iter()
        .map(|(u, h)| (u, h.into_iter().map(String::from).collect()))
        .collect();
    assert_eq!(
        got, want,
        "the ledger disagrees with what the writers committed"
    );
    let events: usize = got.values().map(Vec::len).sum();
    assert_eq!(events, tally.ops, "history events = committed operations");
    // the next write removes what killed writers left
    expect(
        q(
            &dir,
            &ledger,
            &["add", "GPU-ffffffff-0000", "--reason", "last"],
        ),
        0,
    );
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    eprintln!(
        "{name}: {WRITERS} writers x {UUIDS} UUIDs, {elapsed:.1} s: {} operations committed ({:.0}/s), {} kills ({} after their commit, {} caught between temporary file and rename)",
        tally.ops,
        tally.ops as f64 / elapsed,
        tally.kills,
        tally.kills_after_commit,
        tally.kills_mid_write
    );
    tally
}

#[test]
fn eight_writers_at_once_lose_nothing() {
    let t = run_writers("quarantine-writers", 5, None);
    assert!(t.ops >= 2 * WRITERS, "{t:?}");
}

#[test]
fn writers_killed_at_random_moments_never_tear_the_ledger_or_lose_a_commit() {
    let t = run_writers("quarantine-kills", 5, Some(3));
    assert!(t.kills >= 5, "{t:?}");
}

#[test]
#[ignore = "must-show 4 at full length (a minute each): cargo test -p gpufault --test quarantine_cli -- --ignored --nocapture"]
fn eight_writers_at_once_for_a_minute_lose_nothing() {
    run_writers("quarantine-writers-minute", 60, None);
}

#[test]
#[ignore = "must-show 4 at full length (a minute each): cargo test -p gpufault --test quarantine_cli -- --ignored --nocapture"]
fn writers_killed_at_random_for_a_minute_never_tear_the_ledger_or_lose_a_commit() {
    run_writers("quarantine-kills-minute", 60, Some(3));
}

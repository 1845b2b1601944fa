//! The `--json` output of every command is exactly its `reports::output` type: each
//! document reads back into its type and prints again byte for byte, so no field is
//! missing from the type, none is extra, and the order is the type's.

mod support;

use reports::output::{
    CampaignStatus, FaultReport, ModelDoc, PlainReport, SimRun, StatsReport, WorkloadDoc,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use support::{gpufault, scratch, small_campaign, stderr, words};

/// Runs the binary in `dir` and returns its stdout, asserting the exit code.
fn stdout_of(dir: &Path, args: &[&str], code: i32) -> String {
    let o = gpufault(dir, args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "gpufault {args:?}:\n{}",
        stderr(&o)
    );
    String::from_utf8(o.stdout).expect("UTF-8 output")
}

/// Reads `text` as a `T` and asserts that printing it again as the CLI does (pretty,
/// one newline) gives `text` back.
fn same<'a, T: Deserialize<'a> + Serialize>(text: &'a str) -> T {
    let t: T = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let again = serde_json::to_string_pretty(&t).unwrap() + "\n";
    assert_eq!(again, text);
    t
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

#[test]
fn run_documents_are_their_types() {
    let here = examples();
    let text = stdout_of(&here, &["run", "bfs", "--device", "sim", "--json"], 0);
    let r: PlainReport = same(&text);
    assert_eq!((r.workload, r.verdict), ("bfs", "identical"));
    let text = stdout_of(
        &here,
        &words("run bfs --device sim --against sim:h100 --json"),
        0,
    );
    let r: PlainReport = same(&text);
    assert_eq!(r.against.expect("--against").device, "sim:h100");
    let spec = "iat:sm=1,sp=0,warps=0x1,lanes=0xff,dim=x,mask=0x4,pol=sa1";
    let text = stdout_of(
        &here,
        &["run", "bfs", "--device", "sim", "--fault", spec, "--json"],
        0,
    );
    let r: FaultReport = same(&text);
    assert_eq!((r.fault.as_str(), r.comparator), (spec, "different"));
}

#[test]
fn listings_and_stats_are_their_types() {
    let here = examples();
    let text = stdout_of(&here, &["models", "--json"], 0);
    let models: Vec<ModelDoc> = same(&text);
    assert!(models.iter().any(|m| m.id == "brx"));
    let text = stdout_of(&here, &["workloads", "--json"], 0);
    let workloads: Vec<WorkloadDoc> = same(&text);
    assert!(workloads.iter().any(|w| w.name == "gemm_tiled"));
    let text = stdout_of(&here, &["ptx", "stats", "--json", "vecadd.ptx"], 0);
    let stats: StatsReport = same(&text);
    assert_eq!(stats.functions[0].kind, "entry");
}

#[test]
fn sim_run_and_campaign_status_are_their_types() {
    let dir = scratch("output-sim-status");
    std::fs::copy(examples().join("vecadd.ptx"), dir.join("vecadd.ptx")).unwrap();
    // n = 64 over 16-float buffers: an illegal address, with address fields.
    let text = stdout_of(
        &dir,
        &words(
            "sim run vecadd.ptx --kernel vecadd --grid 1 --block 64 --arg zeros:64 --arg \
            zeros:64 --arg zeros:64 --arg i32:64 --dump out --json",
        ),
        1,
    );
    let run: SimRun = same(&text);
    let fault = run.fault.expect("faulted");
    assert_eq!(fault.space.as_deref(), Some("global"));
    assert_eq!(run.dumped.len(), 3);
    small_campaign(&dir, 2);
    let text = stdout_of(&dir, &["campaign", "status", "c.db", "--json"], 0);
    let status: CampaignStatus = same(&text);
    assert_eq!((status.done, status.planned), (2, 2));
    assert_eq!(status.sessions[0].status, "finished");
}

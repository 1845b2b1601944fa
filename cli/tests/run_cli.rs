//! End-to-end runs of the `gpufault` binary: workloads, single injections, models,
//! instrumentation, and clear errors for bad input.

mod support;

use support::{assert_contains, run, stderr, stdout, words};

#[test]
fn a_workload_passes_against_its_reference_on_the_virtual_gpu() {
    let o = run(&["run", "gemm_tiled", "--device", "sim", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["verdict"], "identical");
    assert_eq!(
        v["instructions"], 1_390_080,
        "deterministic instruction count"
    );
}

#[test]
fn a_single_injection_reports_outcome_activations_and_verdict() {
    let spec = "iat:sm=1,sp=0,warps=0x1,lanes=0xff,dim=x,mask=0x4,pol=sa1";
    let o = run(&["run", "bfs", "--device", "sim", "--fault", spec, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["fault"], spec);
    assert_eq!(v["outcome"]["kind"], "sdc");
    assert_eq!(v["comparator"], "different");
    assert!(v["activations"].as_u64().unwrap() > 0);
    // the same fault twice: the same outcome, bit for bit
    let again = run(&["run", "bfs", "--device", "sim", "--fault", spec, "--json"]);
    let w: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(v["outcome"], w["outcome"]);
    assert_eq!(v["instructions"], w["instructions"]);
    // a fault on an SM the device does not have (sim has 8) is an error (exit 2), not a
    // fault that is "never activated"
    let o = run(&words(
        "run vecadd --device sim --fault wv:sm=100,sp=3,warps=0x8000,lanes=0x1,pol=sa1",
    ));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_contains(
        &stderr(&o),
        "`sm=100` is out of range: the device has 8 SMs",
    );
}

#[test]
fn bad_input_names_the_problem_and_exits_2() {
    let o = run(&["run", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "unknown workload `nope`");
    let o = run(&["run", "vecadd", "--fault", "iat:sm=1,frob=2"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "--fault");
    assert_contains(&stderr(&o), "unknown key `frob`");
    let o = run(&words(
        "run gemm_tiled --device sim --fault ioc:sm=0,op=fma.rn.f32,subst=mul",
    ));
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "no `fma.rn.f32` instruction");
    // a negative number is a bad value of its flag, not an unknown argument (issue 15,
    // item 9: errors name the flag)
    let o = run(&["run", "vecadd", "--seed", "-1"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "invalid value '-1' for '--seed <SEED>'");
    let o = run(&["run", "vecadd", "--device", "tpu:0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--device tpu:0"), "{}", stderr(&o));
}

#[test]
fn models_and_workloads_are_listed() {
    let o = run(&["models", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        v.as_array().unwrap().len(),
        16,
        "14 permanent and 2 transient models"
    );
    let o = run(&["workloads", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(v.as_array().unwrap().len() >= 16);
}

#[test]
fn instrumented_ptx_checks_clean() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let out = dir.join("vecadd.iat.ptx");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/vecadd.ptx");
    let o = run(&[
        "ptx",
        "instrument",
        "--model",
        "iat",
        example,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["ptx", "check", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["ptx", "instrument", "--model", "iat", "--sites", example]);
    assert_eq!(
        stdout(&o).lines().count(),
        1,
        "vecadd reads %tid.x once: {}",
        stdout(&o)
    );
}

//! Faulty virtual GPUs through the CLI (issue 14, must-show 3): `--node-config` gives a
//! virtual GPU a permanent fault; `devices` shows it, `run` on it corrupts a workload
//! exactly as `run --fault` with the same spec does on a healthy GPU, and a fault the
//! device cannot have is refused.

mod support;

use std::path::PathBuf;
use support::{assert_contains, json, run, stderr};

fn node_config(name: &str, fault: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("faulty-cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.json");
    std::fs::write(
        &path,
        format!(r#"{{"gpus": {{"sim:h100#2": {{"fault": "{fault}"}}}}}}"#),
    )
    .unwrap();
    path
}

#[test]
fn a_faulty_virtual_gpu_corrupts_a_workload_as_the_same_fault_injected() {
    for (workload, fault) in [
        (
            "gemm_tiled",
            "iat:sm=5,sp=1,warps=0x1,lanes=0xf0,dim=x,mask=0x2,pol=sa1",
        ),
        ("scan", "wv:sm=0,sp=0,warps=0x1,lanes=0xffff,pol=sa0"),
    ] {
        let node = node_config(workload, fault);
        let node = node.to_str().unwrap();
        // the faulty GPU: a plain run, no fault named on the command line
        let faulty = run(&[
            "run",
            workload,
            "--device",
            "sim:h100#2",
            "--node-config",
            node,
            "--json",
        ]);
        assert_eq!(faulty.status.code(), Some(1), "{}", stderr(&faulty));
        let faulty = json(&faulty);
        // the same fault injected into a healthy GPU
        let injected = run(&[
            "run", workload, "--device", "sim:h100", "--fault", fault, "--json",
        ]);
        assert_eq!(injected.status.code(), Some(0), "{}", stderr(&injected));
        let injected = json(&injected);
        if faulty["verdict"] == "error" {
            // a crash on the faulty GPU is the injection's DUE, at the same place
            assert_eq!(injected["outcome"]["kind"], "due", "{injected:#}");
            assert_eq!(faulty["error"], injected["error"], "{workload}");
        } else {
            assert_eq!(faulty["verdict"], "different", "{faulty:#}");
            assert_eq!(injected["outcome"]["kind"], "sdc", "{injected:#}");
            // the same corruption: elements, bits and largest error against the golden
            // (for these bit-exact workloads the golden is the CPU reference)
            assert_eq!(
                faulty["magnitude"], injected["outcome"]["magnitude"],
                "{workload}"
            );
            assert_eq!(
                faulty["instructions"], injected["instructions"],
                "{workload}"
            );
        }
        // the other GPUs of the node are healthy
        let healthy = run(&[
            "run",
            workload,
            "--device",
            "sim:h100#1",
            "--node-config",
            node,
            "--json",
        ]);
        assert_eq!(healthy.status.code(), Some(0), "{}", stderr(&healthy));
        assert_eq!(json(&healthy)["verdict"], "identical");
    }
}

#[test]
fn devices_shows_the_faulty_gpu_and_refuses_a_fault_it_cannot_have() {
    let fault = "ioc:sm=7,sp=2,warps=0x3,lanes=0xffffffff,op=add.s32,subst=sub";
    let node = node_config("devices", fault);
    let node = node.to_str().unwrap();
    let o = run(&["devices", "sim:h100*4", "--node-config", node, "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let devices = v["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 4);
    for d in devices {
        let want = if d["device"] == "sim:h100#2" {
            serde_json::json!(fault)
        } else {
            serde_json::Value::Null
        };
        assert_eq!(d["fault"], want, "{d:#}");
    }
    let o = run(&["devices", "sim:h100*4", "--node-config", node]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(fault));

    // an SM the virtual H100 does not have
    let node = node_config("bad-sm", "iat:sm=200,sp=0,warps=0x1,lanes=0x1");
    let node = node.to_str().unwrap();
    let o = run(&["devices", "sim:h100#2", "--node-config", node, "--json"]);
    let v = json(&o);
    let err = v["errors"]["sim:h100#2"].as_str().unwrap_or_default();
    assert!(
        err.contains("`sm=200` is out of range: the device has 132 SMs"),
        "{v:#}"
    );
    let o = run(&[
        "run",
        "vecadd",
        "--device",
        "sim:h100#2",
        "--node-config",
        node,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_contains(&stderr(&o), "`sm=200` is out of range");
}

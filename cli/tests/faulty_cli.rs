//! Faulty virtual GPUs through the CLI (issue 14, must-show 3): `--node-config` gives a
//! virtual GPU a permanent fault; `devices` shows it, `run` on it corrupts a workload
//! exactly as `run --fault` with the same spec does on a healthy GPU, and a fault the
//! device cannot have is refused.

mod support;

use std::path::PathBuf;
use support::{assert_contains, gpufault, json, run, stderr};

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

#[test]
fn sim_run_arms_the_fault_of_a_faulty_virtual_gpu() {
    // vecadd c = a + b on 256 threads; the faulty GPU's fault forces bit 2 of %tid.x to 1
    // in lanes 0-7 of warp slot 0 of SM 0: threads 0-3 compute elements 4-7, so c[0..4]
    // are never written (stay zero) and every other element is right
    let node = node_config(
        "sim-run",
        "iat:sm=0,sp=0,warps=0x1,lanes=0xff,dim=x,mask=0x4,pol=sa1",
    );
    let dir = node.parent().unwrap().to_path_buf();
    let floats = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let a: Vec<f32> = (0..256).map(|i| i as f32).collect();
    std::fs::write(dir.join("a.bin"), floats(&a)).unwrap();
    std::fs::write(dir.join("b.bin"), floats(&[1.0; 256])).unwrap();
    let ptx = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/vecadd.ptx");
    let run = |device: &str| -> Vec<f32> {
        let out = dir.join(format!("out-{}", device.replace(['#', ':'], "-")));
        let mut args = vec!["sim", "run", ptx.to_str().unwrap(), "--kernel", "vecadd"];
        args.extend(["--grid", "1", "--block", "256", "--device", device]);
        args.extend([
            "--node-config",
            "node.json",
            "--arg",
            "buf:a.bin",
            "--arg",
            "buf:b.bin",
        ]);
        args.extend(["--arg", "zeros:1024", "--arg", "u32:256", "--dump"]);
        args.push(out.to_str().unwrap());
        let o = gpufault(&dir, &args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        std::fs::read(out.join("arg2.bin"))
            .unwrap()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let healthy = run("sim:h100#0");
    let want: Vec<f32> = (0..256).map(|i| i as f32 + 1.0).collect();
    assert_eq!(healthy, want);
    let faulty = run("sim:h100#2");
    for (i, (&got, &right)) in faulty.iter().zip(&want).enumerate() {
        assert_eq!(got, if i < 4 { 0.0 } else { right }, "element {i}");
    }
}

#[test]
fn the_environment_names_the_node_config_and_the_visible_gpus() {
    let fault = "wv:sm=0,sp=0,warps=0x1,lanes=0xffff,pol=sa0";
    let node = node_config("env", fault);
    let dir = node.parent().unwrap().to_path_buf();
    let with_env = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = support::command(&dir, args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let node_env = ("GPUFAULT_NODE_CONFIG", node.to_str().unwrap());
    // GPUFAULT_NODE_CONFIG: the faulty GPU without a flag ...
    let o = with_env(
        &["run", "scan", "--device", "sim:h100#2", "--json"],
        &[node_env],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_ne!(json(&o)["verdict"], "identical");
    // ... and an explicit --node-config wins over it
    std::fs::write(dir.join("healthy.json"), r#"{"gpus": {}}"#).unwrap();
    let o = with_env(
        &[
            "run",
            "scan",
            "--device",
            "sim:h100#2",
            "--node-config",
            "healthy.json",
            "--json",
        ],
        &[node_env],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // a missing file named by the variable is an error naming the variable
    let o = with_env(
        &["devices", "sim"],
        &[("GPUFAULT_NODE_CONFIG", "missing.json")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "GPUFAULT_NODE_CONFIG=missing.json");

    // GPUFAULT_VISIBLE_DEVICES: a node is its listed GPUs, an unlisted GPU is refused
    let all = json(&with_env(&["devices", "sim:h100*4", "--json"], &[]));
    let uuid = |i: usize| all["devices"][i]["uuid"].as_str().unwrap().to_string();
    let visible = format!("{},{}", uuid(0), uuid(3));
    let env = [("GPUFAULT_VISIBLE_DEVICES", visible.as_str())];
    let v = json(&with_env(&["devices", "sim:h100*4", "--json"], &env));
    let names: Vec<&str> = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sim:h100#0", "sim:h100#3"]);
    let o = with_env(&["run", "vecadd", "--device", "sim:h100#2"], &env);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_contains(&stderr(&o), "sim:h100#2");
    assert_contains(
        &stderr(&o),
        "is not visible: GPUFAULT_VISIBLE_DEVICES lists",
    );
}

#[test]
fn a_fault_that_has_not_arrived_leaves_the_gpu_healthy() {
    let fault = "wv:sm=0,sp=0,warps=0x1,lanes=0xffff,pol=sa0";
    let dir = support::scratch("faulty-cli-arrival");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for (at, code, healthy) in [(now + 3600.0, 0, true), (now - 1.0, 1, false)] {
        std::fs::write(
            dir.join("node.json"),
            format!(
                r#"{{"gpus": {{"sim:h100#2": {{"fault": "{fault}", "fault_arrives_at": {at}}}}}}}"#
            ),
        )
        .unwrap();
        let args = [
            "run",
            "scan",
            "--device",
            "sim:h100#2",
            "--node-config",
            "node.json",
            "--json",
        ];
        let o = gpufault(&dir, &args);
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        assert_eq!(json(&o)["verdict"] == "identical", healthy, "arrival {at}");
        let o = gpufault(
            &dir,
            &[
                "devices",
                "sim:h100#2",
                "--node-config",
                "node.json",
                "--json",
            ],
        );
        assert_eq!(
            json(&o)["devices"][0]["fault_arrives_at"],
            serde_json::json!(at)
        );
    }
}

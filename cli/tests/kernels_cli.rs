//! Campaigns on any kernel (issue 14, must-show 1 and 2): a new user writes a manifest
//! for a kernel gpufault has never seen, checks it, injects one fault, runs a
//! 1,000-injection campaign on it and gets a report; the same seed and manifest give the
//! same results bit for bit, a kill -9 and resume equals an uninterrupted run, and a
//! changed manifest cannot be resumed into the old plan. The bundled examples run
//! against their reference files.

mod support;

use std::path::{Path, PathBuf};
use support::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/kernels")
}

#[test]
fn the_example_manifests_match_their_references() {
    let dir = examples();
    for name in ["saxpy", "reduction", "pipeline"] {
        let manifest = format!("{name}/{name}.toml");
        let o = ok(
            &dir,
            &["run", "--kernel", &manifest, "--device", "sim", "--json"],
        );
        let v = json(&o);
        assert_eq!(v["workload"], name);
        assert!(
            v["verdict"] == "identical" || v["verdict"] == "within_tolerance",
            "{name}: {v:#}"
        );
        let o = ok(
            &dir,
            &["run", "--kernel", &manifest, "--device", "sim:h100"],
        );
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(out.starts_with(&format!("kernel        {name} (")), "{out}");
        assert!(out.contains("PASS vs the reference files"), "{out}");
    }
}

/// A kernel no test or example has: clamp-and-scale with a data-dependent branch and a
/// lane-dependent xor, compiled from CUDA C by NVRTC when the manifest loads.
const KERNEL: &str = r#"
extern "C" __global__ void clamp_scale(const int* in, int* out, unsigned n,
                                       int lo, int hi, int s) {
    unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        int v = in[i] * s;
        if (v < lo) v = lo; else if (v > hi) v = hi;
        out[i] = v ^ (int)(i & 7u);
    }
}
"#;

const MANIFEST: &str = r#"
name = "clamp_scale"

[code]
cu = "clamp_scale.cu"

[[buffers]]
name = "in"
type = "i32"
len = 2000
init = { random = "uniform", min = -1000, max = 1000, seed = 7 }

[[buffers]]
name = "out"
type = "i32"
len = 2000

[[launches]]
kernel = "clamp_scale"
grid = 8
block = 256
args = [{ buffer = "in" }, { buffer = "out" }, { len = "in" }, -1500, 1500, 3]

[[outputs]]
buffer = "out"
"#;

fn new_users_kernel(name: &str) -> PathBuf {
    let dir = scratch(&format!("kernels-{name}"));
    std::fs::write(dir.join("clamp_scale.cu"), KERNEL).unwrap();
    std::fs::write(dir.join("clamp_scale.toml"), MANIFEST).unwrap();
    dir
}

const MODELS: &str = "iat,wv,ioc,iio,ira";

#[test]
fn a_new_users_kernel_runs_takes_a_fault_and_a_1000_injection_campaign() {
    let dir = new_users_kernel("new-user");
    // a plain run: no reference files, so the run itself is what later runs compare with
    let o = ok(
        &dir,
        &["run", "--kernel", "clamp_scale.toml", "--device", "sim"],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(out.contains("kernel        clamp_scale ("), "{out}");
    assert!(out.contains("PASS: the run completed"), "{out}");
    // one fault: stuck-at-1 on bit 3 of %tid.x in 8 lanes of one warp
    let o = ok(
        &dir,
        &words(
            "run --kernel clamp_scale.toml --device sim --fault \
            iat:sm=0,sp=0,warps=0x1,lanes=0xff,dim=x,mask=0x8,pol=sa1 --json",
        ),
    );
    let v = json(&o);
    assert_eq!(v["outcome"]["kind"], "sdc", "{v:#}");
    assert!(v["activations"].as_u64().unwrap() > 0);
    // 5 models x 200 = 1,000 injections, then the report
    ok(
        &dir,
        &words(&format!(
            "campaign --kernels clamp_scale.toml --models {MODELS} --injections 200 --device sim \
             --seed 3 --out c.db"
        )),
    );
    assert_eq!(count(&dir.join("c.db"), "results"), 1000);
    let o = ok(&dir, &["report", "c.db", "--format", "json"]);
    let r = json(&o);
    assert_eq!(r["total"]["injections"], 1000, "{:#}", r["total"]);
    let subjects: i64 = read_only(&dir.join("c.db"))
        .query_row(
            "SELECT COUNT(*) FROM subjects WHERE kind = 'kernel' AND name = 'clamp_scale'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(subjects, 1);
    ok(
        &dir,
        &["report", "c.db", "--format", "html", "-o", "c.html"],
    );
    assert!(std::fs::read_to_string(dir.join("c.html"))
        .unwrap()
        .contains("clamp_scale"));
}

#[test]
fn same_seed_same_results_and_a_killed_campaign_resumes_to_the_same_rows() {
    let dir = new_users_kernel("repro");
    let plan = |out: &str| {
        ok(
            &dir,
            &words(&format!(
                "campaign plan --kernels clamp_scale.toml --models {MODELS} --injections 200 \
                 --device sim --seed 11 --out {out}"
            )),
        );
    };
    plan("a.db");
    plan("b.db");
    plan("killed.db");
    ok(&dir, &["campaign", "run", "a.db", "--jobs", "2"]);
    ok(&dir, &["campaign", "run", "b.db", "--jobs", "1"]);
    let a = result_rows(&dir.join("a.db"));
    assert_eq!(a.len(), 1000);
    assert_eq!(a, result_rows(&dir.join("b.db")), "same seed, same results");

    let killed = dir.join("killed.db");
    let mut child = spawn(&dir, &["campaign", "run", "killed.db", "--jobs", "2"]);
    wait_for_results(&mut child, &killed, 50, 1000);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = count(&killed, "results");
    assert!(at_kill < 1000, "{at_kill}");
    ok(&dir, &["campaign", "resume", "killed.db"]);
    assert_eq!(
        result_rows(&killed),
        a,
        "resumed after kill -9 = uninterrupted"
    );

    // the same campaign from another working directory: the manifest is found again
    let elsewhere = scratch("kernels-repro-elsewhere");
    let store = dir.join("b.db");
    let o = ok(&elsewhere, &["campaign", "status", store.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("1000/1000"));
}

#[test]
fn a_changed_manifest_is_not_resumed_into_the_old_plan() {
    let dir = new_users_kernel("changed");
    ok(
        &dir,
        &words(
            "campaign plan --kernels clamp_scale.toml --models iat --injections 10 --device \
            sim --out c.db",
        ),
    );
    // the kernel source changes after planning
    std::fs::write(
        dir.join("clamp_scale.cu"),
        KERNEL.replace("(int)(i & 7u)", "(int)(i & 5u)"),
    )
    .unwrap();
    let o = gpufault(&dir, &["campaign", "run", "c.db"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("kernel `clamp_scale`"), "{err}");
    assert!(
        err.contains("changed since the campaign was planned"),
        "{err}"
    );
    assert_eq!(
        count(&dir.join("c.db"), "sessions"),
        0,
        "no session started"
    );
}

#[test]
fn a_bad_manifest_is_named_with_file_line_and_column() {
    let dir = new_users_kernel("bad");
    std::fs::write(
        dir.join("bad.toml"),
        MANIFEST.replace("len = 2000\ninit", "len = 2000\nfrobnicate = 1\ninit"),
    )
    .unwrap();
    for args in [
        &["run", "--kernel", "bad.toml", "--device", "sim"][..],
        &words("campaign plan --kernels bad.toml --models iat --injections 2 --device sim"),
    ] {
        let o = gpufault(&dir, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        assert!(err.contains("bad.toml:"), "{err}");
        assert!(err.contains("frobnicate"), "{err}");
    }
    let o = gpufault(&dir, &["run", "--kernel", "missing.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&stderr(&o), "--kernel missing.toml");
}

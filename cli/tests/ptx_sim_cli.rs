//! End-to-end runs of the `gpufault` binary for `ptx check|fmt|stats`, `sim run`,
//! `devices` and single-fault `run`: exact diagnostics and the exit codes of
//! `docs/exit-codes.md` (0 success, 1 a problem found, 2 usage or environment error).

mod support;

use std::path::{Path, PathBuf};
use support::{assert_contains, command, gpufault, json, run, stderr, stdout, words};

fn scratch(name: &str) -> PathBuf {
    support::scratch(&format!("ptx-sim-{name}"))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const GOOD: &str = "\
.version 7.0
.target sm_80
.address_size 64

.visible .entry k(.param .u64 p)
{
    .reg .u32 %r<2>;
    .reg .u64 %rd<2>;
    ld.param.u64 %rd1, [p];
    mov.u32 %r1, 7;
    st.global.u32 [%rd1], %r1;
    ret;
}
";

/// A parse error on line 8, column 18 (the missing operand).
const BAD: &str = "\
.version 7.0
.target sm_80
.address_size 64

.visible .entry k(.param .u64 p)
{
    .reg .u32 %r<2>;
    mov.u32 %r1, ;
    ret;
}
";

#[test]
fn ptx_check_reports_errors_like_a_compiler_and_exits_1() {
    let d = scratch("check");
    std::fs::write(d.join("good.ptx"), GOOD).unwrap();
    std::fs::write(d.join("bad.ptx"), BAD).unwrap();

    let o = gpufault(&d, &["ptx", "check", "bad.ptx"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("bad.ptx:8:18: error: "), "{err}");
    assert!(err.contains("bad.ptx: 1 error\n"), "{err}");
    assert!(!stdout(&o).contains("ok"), "{}", stdout(&o));

    // one good, one bad: the good one is still reported ok, the exit code is 1
    let o = gpufault(&d, &["ptx", "check", "good.ptx", "bad.ptx"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_contains(&stdout(&o), "good.ptx: ok (1 kernel, 0 device functions)");
    assert!(!stdout(&o).contains("bad.ptx"), "{}", stdout(&o));
    assert_contains(&stderr(&o), "bad.ptx:8:18: error: ");

    // every file good: 0
    let o = gpufault(&d, &["ptx", "check", "good.ptx"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // an unreadable file is an environment error (2), after checking the others
    let o = gpufault(&d, &["ptx", "check", "good.ptx", "missing.ptx"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_contains(&stderr(&o), "cannot read missing.ptx");
    assert_eq!(
        stderr(&o).matches("os error 2").count(),
        1,
        "the cause said once: {}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("good.ptx: ok"), "{}", stdout(&o));
}

#[test]
fn ptx_check_with_ptxas_reports_ptxas_rejections() {
    let ptxas = ptx::ptxas::find_in_workspace().unwrap_or_else(|e| {
        panic!("this test needs ptxas (set PTXAS or install tools/ptxas): {e}")
    });
    let d = scratch("ptxas");
    std::fs::write(d.join("good.ptx"), GOOD).unwrap();
    // parses, but %r5 is not declared (only %r0, %r1)
    std::fs::write(d.join("undeclared.ptx"), GOOD.replace("%r1", "%r5")).unwrap();
    let o = command(
        &d,
        &["ptx", "check", "--ptxas", "good.ptx", "undeclared.ptx"],
    )
    .env("PTXAS", ptxas.path())
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(out.contains("good.ptx: ptxas sm_80: accepted"), "{out}");
    assert!(out.contains("good.ptx: ok (1 kernel"), "{out}");
    assert!(!out.contains("undeclared.ptx"), "{out}");
    assert!(
        err.contains("undeclared.ptx: error: ptxas sm_80: rejected (exit status"),
        "{err}"
    );
    // ptxas's own diagnostic, indented, naming the symbol
    assert!(err.contains("  ptxas ") && err.contains("'%r5'"), "{err}");

    // --gpu-name overrides the .target
    let o = command(
        &d,
        &["ptx", "check", "--ptxas", "--gpu-name", "sm_90", "good.ptx"],
    )
    .env("PTXAS", ptxas.path())
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_contains(&stdout(&o), "good.ptx: ptxas sm_90: accepted");
}

#[test]
fn ptx_fmt_prints_a_fixed_point_that_parses() {
    let d = scratch("fmt");
    let corpus = workspace().join("tests/corpus/zluda/call.ptx");
    for (name, src) in [
        ("good.ptx", GOOD.to_string()),
        ("call.ptx", std::fs::read_to_string(&corpus).unwrap()),
    ] {
        let f = d.join(name);
        std::fs::write(&f, &src).unwrap();
        let o = run(&["ptx", "fmt", f.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let once = stdout(&o);
        assert!(once.contains(".entry"), "{once}");
        let m = ptx::parse(&once).unwrap_or_else(|e| panic!("{name}: fmt output: {e}\n{once}"));
        let orig = ptx::parse(&src).unwrap();
        assert_eq!(
            m.functions().count(),
            orig.functions().count(),
            "{name}: same functions"
        );
        let f2 = d.join(format!("fmt-{name}"));
        std::fs::write(&f2, &once).unwrap();
        let o = run(&["ptx", "fmt", f2.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(stdout(&o), once, "{name}: fmt is a fixed point");
    }
    // a file with errors: reported, nothing printed, exit 1
    std::fs::write(d.join("bad.ptx"), BAD).unwrap();
    let o = gpufault(&d, &["ptx", "fmt", "bad.ptx"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert_contains(&stderr(&o), "bad.ptx:8:18: error: ");
}

#[test]
fn ptx_stats_json_of_a_corpus_file() {
    let file = workspace().join("tests/corpus/zluda/call.ptx");
    let src = std::fs::read_to_string(&file).unwrap();
    let o = run(&["ptx", "stats", "--json", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["file"], file.to_str().unwrap());
    assert_eq!(v["version"], "6.5");
    assert_eq!(v["target"], "sm_30");
    let funcs = v["functions"].as_array().unwrap();
    let kernels = funcs.iter().filter(|f| f["kind"] == "entry").count();
    assert_eq!(kernels, src.matches(".entry").count(), "one per .entry");
    // `incr` is declared once (prototype) and defined once: only the definition counts
    assert_eq!(funcs.len(), 2, "{v:#}");
    let call = &funcs[0];
    assert_eq!(call["name"], "call");
    assert_eq!(call["params"].as_array().unwrap().len(), 2);
    assert_eq!(call["params"][1]["decl"], ".param .u64 output");
    assert_eq!(call["params"][1]["bytes"], 8);
    assert_eq!(call["returns"], serde_json::json!([]));
    assert_eq!(call["registers"]["u64"], 3, "in_addr, out_addr, temp");
    // ld ld ld st call ld st ret
    assert_eq!(call["instructions"], 8);
    assert_eq!(call["by_class"]["load"], 4);
    assert_eq!(call["by_class"]["store"], 2);
    assert_eq!(call["basic_blocks"], 1);
    let incr = &funcs[1];
    assert_eq!(incr["name"], "incr");
    assert_eq!(incr["kind"], "func");
    assert_eq!(incr["returns"][0]["name"], "output");
    assert_eq!(incr["instructions"], 4);
    assert_eq!(incr["by_class"]["int_alu"], 1);

    // a file with errors: exit 1
    let d = scratch("stats");
    std::fs::write(d.join("bad.ptx"), BAD).unwrap();
    let o = gpufault(&d, &["ptx", "stats", "--json", "bad.ptx"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_contains(&stderr(&o), "bad.ptx:8:18: error: ");
}

/// Kernels for `sim run`; line numbers matter for the fault tests (see `SPIN_LINE`,
/// `OOB_LINE`).
const KERNELS: &str = "\
.version 7.0
.target sm_80
.address_size 64

.visible .entry info(.param .u64 out)
{
    .reg .u32 %r<3>;
    .reg .u64 %rd<2>;
    ld.param.u64 %rd1, [out];
    mov.u32 %r1, %nsmid;
    mov.u32 %r2, %dynamic_smem_size;
    st.global.u32 [%rd1], %r1;
    st.global.u32 [%rd1+4], %r2;
    ret;
}

.visible .entry kinds(.param .u64 out, .param .u8 a, .param .u16 b, .param .u32 c, .param .s64 d, .param .f64 e)
{
    .reg .u16 %h<3>;
    .reg .u32 %r<2>;
    .reg .u64 %rd<3>;
    .reg .f64 %fd<2>;
    ld.param.u64 %rd1, [out];
    ld.param.u8 %h1, [a];
    ld.param.u16 %h2, [b];
    ld.param.u32 %r1, [c];
    ld.param.s64 %rd2, [d];
    ld.param.f64 %fd1, [e];
    st.global.u8 [%rd1], %h1;
    st.global.u16 [%rd1+2], %h2;
    st.global.u32 [%rd1+4], %r1;
    st.global.s64 [%rd1+8], %rd2;
    st.global.f64 [%rd1+16], %fd1;
    ret;
}

.visible .entry spin()
{
$L:
    bra.uni $L;
}

.visible .entry oob(.param .u64 p)
{
    .reg .u64 %rd<2>;
    ld.param.u64 %rd1, [p];
    st.global.u32 [%rd1+4096], 1;
    ret;
}
";
const SPIN_LINE: usize = 40;
const OOB_LINE: usize = 47;

fn kernels_dir(name: &str) -> PathBuf {
    let d = scratch(name);
    std::fs::write(d.join("k.ptx"), KERNELS).unwrap();
    assert!(KERNELS
        .lines()
        .nth(SPIN_LINE - 1)
        .unwrap()
        .contains("bra.uni"));
    assert!(KERNELS.lines().nth(OOB_LINE - 1).unwrap().contains("+4096"));
    d
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap())
}

#[test]
fn sim_run_profile_and_dynamic_shared_memory() {
    let d = kernels_dir("sim-info");
    let run = |extra: &[&str]| {
        let _ = std::fs::remove_dir_all(d.join("out"));
        let mut a = vec![
            "sim", "run", "k.ptx", "--kernel", "info", "--grid", "1", "--block", "1", "--arg",
            "zeros:8", "--dump", "out",
        ];
        a.extend_from_slice(extra);
        let o = gpufault(&d, &a);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let b = std::fs::read(d.join("out/arg0.bin")).unwrap();
        (o, u32_at(&b, 0), u32_at(&b, 4))
    };
    let (o, nsm, smem) = run(&["--profile", "sim:h100", "--shared", "384"]);
    assert_eq!((nsm, smem), (132, 384));
    assert!(stdout(&o).contains(" on sim:h100 "), "{}", stdout(&o));
    assert!(stdout(&o).contains("wrote out/arg0.bin"), "{}", stdout(&o));
    let (_, nsm, smem) = run(&["--profile", "sim:a100"]);
    assert_eq!((nsm, smem), (108, 0));
    let (o, nsm, _) = run(&[]);
    assert_eq!(nsm, 8, "the default profile `sim` has 8 SMs");
    assert!(stdout(&o).contains(" on sim "), "{}", stdout(&o));
    // --json echoes the launch
    let (o, _, _) = run(&["--profile", "sim:h100", "--shared", "256", "--json"]);
    let v = json(&o);
    assert_eq!(v["profile"], "sim:h100");
    assert_eq!(v["dynamic_shared"], 256);
    assert_eq!(v["outcome"], "completed");
    assert_eq!(v["fault"], serde_json::Value::Null);
    assert_eq!(v["dumped"][0], "out/arg0.bin");
    // an unknown profile is a usage error
    let o = gpufault(
        &d,
        &words("sim run k.ptx --kernel info --grid 1 --block 1 --arg zeros:8 --profile sim:v100"),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--profile"), "{}", stderr(&o));
}

#[test]
fn sim_run_passes_every_scalar_argument_kind() {
    let d = kernels_dir("sim-kinds");
    let o = gpufault(
        &d,
        &words(
            "sim run k.ptx --kernel kinds --grid 1 --block 1 --arg zeros:24 --arg u8:0xab \
            --arg u16:65535 --arg u32:0xdeadbeef --arg i64:-5 --arg f64:2.5 --dump out",
        ),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = std::fs::read(d.join("out/arg0.bin")).unwrap();
    assert_eq!(b.len(), 24);
    assert_eq!(b[0], 0xab);
    assert_eq!(u16::from_le_bytes([b[2], b[3]]), 0xffff);
    assert_eq!(u32_at(&b, 4), 0xdead_beef);
    assert_eq!(i64::from_le_bytes(b[8..16].try_into().unwrap()), -5);
    assert_eq!(f64::from_le_bytes(b[16..24].try_into().unwrap()), 2.5);
    assert!(!d.join("out/arg1.bin").exists(), "only buffers are dumped");

    // a value out of range for its kind is a usage error naming the argument
    let o = gpufault(
        &d,
        &[
            "sim", "run", "k.ptx", "--kernel", "kinds", "--grid", "1", "--block", "1", "--arg",
            "zeros:24", "--arg", "u8:256",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_contains(&stderr(&o), "--arg 1 (`u8:256`)");
    assert_contains(&stderr(&o), "not a valid u8");
}

#[test]
fn sim_run_budget_turns_an_endless_loop_into_a_hang() {
    let d = kernels_dir("sim-spin");
    let args = [
        "sim", "run", "k.ptx", "--kernel", "spin", "--grid", "1", "--block", "1", "--budget",
        "1000",
    ];
    let o = gpufault(&d, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(
            "gpufault: kernel fault: instruction budget of 1000 thread-instructions exceeded (hang)"
        ),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "kernel `spin` (function `spin`, line {SPIN_LINE})"
        )),
        "{err}"
    );
    assert_contains(
        &stdout(&o),
        "spin: 1000 warp-instructions, 1000 thread-instructions",
    );
    let mut a = args.to_vec();
    a.push("--json");
    let o = gpufault(&d, &a);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["budget"], 1000);
    assert_eq!(v["outcome"], "faulted");
    assert_eq!(v["fault"]["kind"], "budget_exceeded");
    assert_eq!(v["fault"]["hang"], true);
    assert_eq!(v["fault"]["line"], SPIN_LINE);
}

#[test]
fn sim_run_illegal_address_names_kind_kernel_and_line() {
    let d = kernels_dir("sim-oob");
    let args = [
        "sim", "run", "k.ptx", "--kernel", "oob", "--grid", "1", "--block", "1", "--arg",
        "zeros:16",
    ];
    let o = gpufault(&d, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("gpufault: kernel fault: illegal address: 4-byte global access at 0x"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "in kernel `oob` (function `oob`, line {OOB_LINE})"
        )),
        "{err}"
    );
    assert!(err.contains("thread (0,0,0) of CTA (0,0,0)"), "{err}");
    let mut a = args.to_vec();
    a.push("--json");
    let o = gpufault(&d, &a);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["fault"]["kind"], "illegal_address");
    assert_eq!(v["fault"]["hang"], false);
    assert_eq!(v["fault"]["space"], "global");
    assert_eq!(v["fault"]["size"], 4);
    assert_eq!(v["fault"]["line"], OOB_LINE);
    assert_eq!(v["fault"]["function"], "oob");
    // an unknown kernel is a usage error (2), not a fault
    let o = gpufault(
        &d,
        &[
            "sim", "run", "k.ptx", "--kernel", "nope", "--grid", "1", "--block", "1",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no kernel `nope`"), "{}", stderr(&o));
}

#[test]
fn devices_lists_the_virtual_gpus_and_why_cuda_is_missing() {
    let o = run(&["devices", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    let devices = v["devices"].as_array().unwrap();
    let sims: Vec<(&str, u64)> = devices
        .iter()
        .filter(|d| d["kind"] == "sim")
        .map(|d| {
            (
                d["device"].as_str().unwrap(),
                d["sm_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(sims, [("sim", 8), ("sim:a100", 108), ("sim:h100", 132)]);
    let cuda = devices.iter().filter(|d| d["kind"] == "cuda").count();
    if cuda == 0 {
        let why = v["cuda_unavailable"]
            .as_str()
            .unwrap_or_else(|| panic!("no CUDA device and no reason: {v:#}"));
        assert!(!why.trim().is_empty(), "{v:#}");
        // the table's last line says the same
        let o = run(&["devices"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let table = stdout(&o);
        assert_eq!(
            table.lines().last().unwrap(),
            format!("no CUDA device: {why}"),
            "{table}"
        );
    } else {
        assert_eq!(v["cuda_unavailable"], serde_json::Value::Null, "{v:#}");
    }
    // named devices
    let o = run(&["devices", "--json", "sim:h100*2"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let names: Vec<String> = json(&o)["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["sim:h100#0", "sim:h100#1"]);
    let o = run(&["devices", "sim:v100"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn run_on_device_auto_without_a_gpu_uses_the_virtual_gpu() {
    let v = json(&run(&["devices", "--json"]));
    let has_cuda = v["devices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["kind"] == "cuda");
    let o = run(&["run", "vecadd", "--device", "auto", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = json(&o);
    assert_eq!(r["verdict"], "identical");
    if !has_cuda {
        assert_eq!(r["device"], "sim", "{r:#}");
    }
    let o = run(&["run", "vecadd", "--device", "auto"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_contains(&stdout(&o), "verdict       PASS vs the CPU reference");
}

#[test]
fn a_fault_that_causes_an_sdc_is_reported_and_exits_0() {
    // docs/exit-codes.md: `run WORKLOAD --fault SPEC` exits 0 when the injection ran,
    // whatever its outcome; 1 only when the fault-free runs failed, 2 for a bad spec.
    let spec = "wv:sm=0,sp=3,warps=0xffffffff,lanes=0xffffffff,pol=sa1";
    let o = run(&["run", "vecadd", "--device", "sim", "--fault", spec]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("fault         {spec}\n")), "{out}");
    assert!(out.contains("outcome       SDC ("), "{out}");
    assert!(
        out.contains("comparator    outputs differ from the golden run"),
        "{out}"
    );
    let o = run(&[
        "run", "vecadd", "--device", "sim", "--fault", spec, "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["outcome"]["kind"], "sdc");
    assert_eq!(v["comparator"], "different");
    assert!(v["activations"].as_u64().unwrap() > 0, "{v:#}");
    // a bad spec: 2
    let o = run(&words("run vecadd --device sim --fault wv:sm=0,nope=1"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--fault"), "{}", stderr(&o));
}

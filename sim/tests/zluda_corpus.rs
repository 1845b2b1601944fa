//! Runs every case of `tests/corpus/zluda/cases.jsonl` (the expected outputs ZLUDA's
//! test-suite checks on NVIDIA GPUs) through the library API, with the launch protocol
//! of `tests/corpus/README.md`.
//!
//! Every case must match bit for bit, except the ones in [`APPROXIMATE`]: those use
//! instructions whose hardware results are not exactly rounded (the GPU's special
//! function unit), and the virtual GPU returns the exactly rounded value instead. That
//! list is checked both ways: each listed case must really use such an instruction, and
//! must really mismatch (so the list cannot hide a case that would pass or fail for
//! another reason). Today it is empty: every case that uses an approximate instruction
//! feeds it an input whose exact result is representable (sin(pi/2), 2^10, ...), listed
//! in [`APPROXIMATE_EXACT_INPUT`]; the test checks that these two lists together are
//! exactly the cases that use approximate instructions.

use serde_json::Value;
use sim::{Gpu, GpuProfile, KernelArg, LaunchConfig, Outcome};
use std::path::PathBuf;

/// Cases whose expected output comes from an approximate hardware instruction, with the
/// instruction. Each one is checked to contain that instruction and to mismatch.
const APPROXIMATE: &[(&str, &str)] = &[];

/// Cases that use an approximate instruction on an input whose exactly rounded result
/// is what the hardware returns too (so they must match), with the input and result.
const APPROXIMATE_EXACT_INPUT: &[(&str, &str)] = &[
    ("cos", "cos.approx.f32 of fl(pi) = -1"),
    ("div_approx", "div.approx.f32 1 / 2 = 0.5"),
    ("ex2", "ex2.approx.f32 of 10 = 1024"),
    ("lg2", "lg2.approx.f32 of 512 = 9"),
    ("rcp", "rcp.approx.f32 of 2 = 0.5"),
    ("rsqrt", "rsqrt.approx.f64 of 0.25 = 2"),
    ("sin", "sin.approx.f32 of fl(pi/2) = 1"),
    ("sqrt", "sqrt.approx.f32 of 0.25 = 0.5"),
    ("tanh", "tanh.approx.f32 of +inf = 1"),
];

/// Whether a PTX text uses an instruction whose hardware result is approximate.
fn uses_approximate(src: &str) -> bool {
    src.lines().any(|l| {
        let code = l.split("//").next().unwrap_or("");
        code.contains(".approx") || code.contains("div.full")
    })
}

/// Cases whose kernel writes past the output buffer the protocol allocates, with the
/// bytes it really writes. On a GPU the overflow goes unnoticed (allocations are
/// rounded up to pages); the virtual GPU puts unmapped gaps between allocations, so the
/// write faults. These cases get a buffer of the size the kernel writes; the test
/// checks that the protocol's size really faults.
const OVERFLOWING: &[(&str, u64)] = &[
    // 64 threads store 8 floats each (2,048 bytes); the case expects 256 floats.
    ("mma_m16n8k16_f32_bf16_bf16_f32_2x", 2048),
    // 64 threads store 2 words each (512 bytes); the case expects 64 words.
    ("ldmatrix", 512),
];

fn corpus_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/zluda");
    assert!(
        d.join("cases.jsonl").is_file(),
        "the ZLUDA corpus is missing: expected {}",
        d.display()
    );
    d
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn elem_size(t: &str) -> usize {
    match t {
        "u8" | "i8" => 1,
        "u16" | "i16" | "f16" => 2,
        "u32" | "i32" | "f32" => 4,
        "u64" | "i64" | "f64" => 8,
        other => panic!("unknown element type {other}"),
    }
}

/// Runs one case; returns the output bytes or a description of the failure.
/// `out_alloc` overrides the output buffer size (the compared bytes stay the same).
fn run_case(
    dir: &std::path::Path,
    case: &Value,
    out_alloc: Option<u64>,
) -> Result<Vec<u8>, String> {
    let name = case["name"].as_str().unwrap();
    let src =
        std::fs::read_to_string(dir.join(format!("{name}.ptx"))).map_err(|e| e.to_string())?;
    let mut gpu = Gpu::new(GpuProfile::sim());
    let m = gpu.load(&src).map_err(|e| format!("load: {e}"))?;
    let out_len = case["output_len"].as_u64().unwrap() as usize
        * elem_size(case["output_type"].as_str().unwrap());
    let out = gpu
        .alloc(out_alloc.unwrap_or(out_len as u64))
        .map_err(|e| e.to_string())?;
    let input = if case["input_type"] == "none" {
        out
    } else {
        let bytes = hex(case["input_hex"].as_str().unwrap());
        let p = gpu.alloc(bytes.len() as u64).map_err(|e| e.to_string())?;
        gpu.write(p, &bytes).map_err(|e| e.to_string())?;
        p
    };
    let block = case["block_dim_x"].as_u64().unwrap() as u32;
    let cfg = LaunchConfig::new([1, 1, 1], [block, 1, 1])
        .shared(1024)
        .budget(10_000_000);
    // Kernels without an input take only the output pointer.
    let nparams = gpu.kernel_params(m, name).map_err(|e| e.to_string())?.len();
    let args = if nparams == 1 {
        vec![KernelArg::Ptr(out)]
    } else {
        vec![KernelArg::Ptr(input), KernelArg::Ptr(out)]
    };
    let report = gpu
        .launch(m, name, &cfg, &args)
        .map_err(|e| format!("launch: {e}"))?;
    if let Outcome::Faulted(f) = &report.outcome {
        let diags: Vec<String> = gpu
            .diagnostics(m)
            .unwrap()
            .iter()
            .map(|d| d.to_string())
            .collect();
        return Err(format!("{f} [{}]", diags.join("; ")));
    }
    let mut got = vec![0u8; out_len];
    gpu.read(out, &mut got).map_err(|e| e.to_string())?;
    Ok(got)
}

#[test]
fn zluda_cases_match_hardware() {
    let dir = corpus_dir();
    let text = std::fs::read_to_string(dir.join("cases.jsonl")).unwrap();
    let cases: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(cases.len(), 180, "cases.jsonl should hold 180 cases");
    let mut pass = 0;
    let mut failures = Vec::new();
    let mut approx_mismatch = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let expected = hex(case["expected_hex"].as_str().unwrap());
        let overflow = OVERFLOWING.iter().find(|(n, _)| *n == name);
        if overflow.is_some() {
            let e = run_case(&dir, case, None).expect_err("an overflowing case must fault");
            assert!(e.contains("illegal address"), "{name}: {e}");
        }
        let result = run_case(&dir, case, overflow.map(|o| o.1));
        let approx = APPROXIMATE.iter().find(|(n, _)| *n == name);
        match (&result, approx) {
            (Ok(got), None) if *got == expected => pass += 1,
            (Ok(got), Some((_, inst))) if *got != expected => {
                let src = std::fs::read_to_string(dir.join(format!("{name}.ptx"))).unwrap();
                assert!(
                    src.contains(inst),
                    "{name} is listed as approximate because of `{inst}`, which it does not use"
                );
                approx_mismatch.push(name);
            }
            (Ok(got), Some(_)) if *got == expected => {
                failures.push(format!(
                    "{name}: listed as approximate but matches; remove it from APPROXIMATE"
                ));
            }
            (Ok(got), _) => failures.push(format!(
                "{name}: expected {} got {}",
                case["expected_hex"].as_str().unwrap(),
                got.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )),
            (Err(e), _) => failures.push(format!("{name}: {e}")),
        }
    }
    // The two approximate lists together are exactly the cases using such instructions.
    let mut approx_cases: Vec<&str> = cases
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .filter(|n| {
            uses_approximate(&std::fs::read_to_string(dir.join(format!("{n}.ptx"))).unwrap())
        })
        .collect();
    approx_cases.sort_unstable();
    let mut listed: Vec<&str> = APPROXIMATE
        .iter()
        .chain(APPROXIMATE_EXACT_INPUT)
        .map(|(n, _)| *n)
        .collect();
    listed.sort_unstable();
    assert_eq!(approx_cases, listed, "cases with approximate instructions");
    eprintln!(
        "zluda corpus: {pass} of {} cases bit-exact ({} of them with the larger output buffer \
         their kernel writes); {} approximate-instruction mismatches: {:?}",
        cases.len(),
        OVERFLOWING.len(),
        approx_mismatch.len(),
        approx_mismatch
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(pass + approx_mismatch.len(), cases.len());
}

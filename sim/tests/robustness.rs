//! Every PTX input is safe to run: every kernel of every corpus file, and randomly
//! mutated versions of them, load (or are refused with an error) and launch with many
//! argument patterns without panicking; whatever happens is a typed outcome.

use proptest::prelude::*;
use sim::{Gpu, GpuProfile, KernelArg, LaunchConfig};
use std::path::PathBuf;

fn sources() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![
        root.join("../tests/corpus/zluda"),
        root.join("benches/kernels"),
    ];
    let mut out = Vec::new();
    for d in dirs.drain(..) {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for e in entries {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "ptx") {
                out.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    assert!(out.len() > 180, "corpus missing");
    out
}

/// Launches every kernel of `src` with a few argument patterns; only checks that the
/// engine returns (a panic fails the test).
fn exercise(src: &str) -> usize {
    let mut gpu = Gpu::new(GpuProfile::sim());
    let Ok(m) = gpu.load(src) else { return 0 };
    let buf = gpu.alloc(256).unwrap();
    let kernels: Vec<String> = gpu
        .kernels(m)
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut launches = 0;
    for k in &kernels {
        let params = gpu.kernel_params(m, k).unwrap().to_vec();
        for pattern in 0..4u64 {
            let args: Vec<KernelArg> = params
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let v = match pattern {
                        0 => 0,
                        1 => buf,
                        2 => buf + 8 * i as u64 + 4,
                        _ => 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i as u64 + 1),
                    };
                    match p.size {
                        1 => KernelArg::U8(v as u8),
                        2 => KernelArg::U16(v as u16),
                        4 => KernelArg::U32(if pattern == 1 { 16 } else { v as u32 }),
                        8 => KernelArg::U64(v),
                        n => KernelArg::Bytes(vec![pattern as u8; n as usize]),
                    }
                })
                .collect();
            for (grid, block) in [(1, 1), (2, 64), (1, 100)] {
                let cfg = LaunchConfig::new([grid, 1, 1], [block, 1, 1])
                    .shared(512)
                    .budget(50_000)
                    .profiling(pattern == 1);
                let _ = gpu
                    .launch(m, k, &cfg, &args)
                    .expect("arguments match the kernel");
                launches += 1;
            }
        }
    }
    launches
}

#[test]
fn every_corpus_kernel_runs_with_arbitrary_arguments() {
    let n: usize = sources().iter().map(|(_, s)| exercise(s)).sum();
    assert!(n > 1000, "only {n} launches");
}

/// A line-level edit of a PTX text.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    /// Replace a number in a line by another.
    Number(usize, u64),
}

fn apply(src: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = src.lines().map(String::from).collect();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match *e {
            Edit::Delete(i) => {
                lines.remove(i % n);
            }
            Edit::Duplicate(i) => {
                let l = lines[i % n].clone();
                lines.insert(i % n, l);
            }
            Edit::Swap(i, j) => lines.swap(i % n, j % n),
            Edit::Number(i, v) => {
                let l = &mut lines[i % n];
                if let Some(p) = l.find(|c: char| c.is_ascii_digit()) {
                    let end = l[p..]
                        .find(|c: char| !c.is_ascii_alphanumeric())
                        .map_or(l.len(), |e| p + e);
                    l.replace_range(p..end, &v.to_string());
                }
            }
        }
    }
    lines.join("\n")
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Duplicate),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        (
            any::<usize>(),
            prop_oneof![0u64..40, Just(u32::MAX as u64), any::<u64>()]
        )
            .prop_map(|(a, v)| Edit::Number(a, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_corpus_files_never_crash_the_host(
        file in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let srcs = sources();
        let (_, src) = &srcs[file.index(srcs.len())];
        exercise(&apply(src, &edits));
    }
}

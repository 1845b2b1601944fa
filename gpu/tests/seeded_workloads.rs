//! Every bundled workload on virtual GPUs with seeded scheduling: the CTA placement and
//! order and the warp interleaving change with the seed, the results must not. Each run
//! is checked against the CPU reference and, bit for bit, against the run with the
//! fixed scheduling (no workload's result depends on the order of its atomics or on a
//! race, by design).

use gpu::{Device, DeviceSpec, Platform};
use workloads::{Verdict, Workload};

fn open(name: &str) -> Box<dyn Device + Send> {
    Platform::new()
        .open(&name.parse::<DeviceSpec>().unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs `w` on `profile` with the fixed scheduling and with each of `seeds`.
fn check(w: &dyn Workload, profile: &str, seeds: std::ops::Range<u64>) {
    let name = w.meta().name;
    let inputs = w.generate(w.meta().size.default, 11).unwrap();
    let reference = w.reference(&inputs).unwrap();
    let run = |device: &str| {
        let mut dev = open(device);
        let module = dev.load(w.ptx()).unwrap();
        w.run(dev.as_mut(), module, &inputs)
            .unwrap_or_else(|e| panic!("{device} {name}: {e}"))
    };
    let fixed = run(profile);
    let mut counts = std::collections::BTreeSet::new();
    for seed in seeds {
        let device = format!("{profile}@{seed}");
        let got = run(&device);
        let c = w.compare(&reference, &got);
        assert_ne!(c.verdict, Verdict::Different, "{device} {name}: {c}");
        let g = w.compare_golden(&fixed.clone(), &got);
        assert_eq!(
            g.verdict,
            Verdict::Identical,
            "{device} {name}: differs from the fixed scheduling: {g}"
        );
        counts.insert(got.stats.instructions);
    }
    eprintln!(
        "{profile} {name}: identical under every seed; thread-instructions {:?} (fixed {:?})",
        counts, fixed.stats.instructions
    );
}

#[test]
fn every_workload_gives_the_same_results_under_every_seed() {
    for w in workloads::all() {
        check(*w, "sim", 0..32);
        check(*w, "sim:h100", 1000..1008);
    }
}

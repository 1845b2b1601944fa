//! End to end on the virtual GPU: every workload's checked-in PTX against its CPU
//! reference with the profiles `sim` and `sim:h100`, and two runs bit-identical.
//!
//! Runs through the device layer (`gpu::open`), as every other crate does.

use gpu::Device;
use workloads::{Verdict, Workload};

fn open(profile: &str) -> Box<dyn Device + Send> {
    gpu::open(&profile.parse().unwrap()).unwrap_or_else(|e| panic!("{profile}: {e}"))
}

/// Thread-instructions of one run at the default size must stay small enough for fault
/// campaigns (design target: about 0.2-2 M, well under a second).
const DEFAULT_SIZE_BUDGET: u64 = 4_000_000;

fn check_on(profile: &str, w: &dyn Workload) -> u64 {
    let name = w.meta().name;
    let mut dev = open(profile);
    let module = dev
        .load(w.ptx())
        .unwrap_or_else(|e| panic!("{profile} {name}: {e}"));
    let inputs = w.generate(w.meta().size.default, 11).unwrap();
    let got = w
        .run(&mut dev, module, &inputs)
        .unwrap_or_else(|e| panic!("{profile} {name}: {e}"));
    let c = w.compare(&w.reference(&inputs).unwrap(), &got);
    assert_ne!(
        c.verdict,
        Verdict::Different,
        "{profile} {name} vs reference: {c}"
    );
    let again = w.run(dev.as_mut(), module, &inputs).unwrap();
    let g = w.compare_golden(&got, &again);
    assert_eq!(
        g.verdict,
        Verdict::Identical,
        "{profile} {name}: two runs differ: {g}"
    );
    assert_eq!(
        got.stats.instructions, again.stats.instructions,
        "{profile} {name}"
    );
    let n = got
        .stats
        .instructions
        .unwrap_or_else(|| panic!("{profile} {name}: no instruction count"));
    eprintln!(
        "{profile} {name}: {n} thread-instructions in {} launches, {:?} to the reference",
        got.stats.launches, c.verdict
    );
    n
}

macro_rules! on_sim {
    ($($test:ident: $name:literal;)*) => {$(
        #[test]
        fn $test() {
            let w = workloads::by_name($name).unwrap();
            let n = check_on("sim", w);
            assert!(n <= DEFAULT_SIZE_BUDGET, "{}: {n} thread-instructions at the default size", $name);
            check_on("sim:h100", w);
        }
    )*};
}

on_sim! {
    vecadd: "vecadd";
    gemm_naive: "gemm_naive";
    gemm_tiled: "gemm_tiled";
    reduction: "reduction";
    scan: "scan";
    histogram: "histogram";
    bfs: "bfs";
    gaussian: "gaussian";
    lud: "lud";
    nw: "nw";
    hotspot: "hotspot";
    bitonic_sort: "bitonic_sort";
    quicksort: "quicksort";
    lavamd: "lavamd";
    lenet: "lenet";
    mlp_train: "mlp_train";
}

#[test]
fn every_workload_has_a_sim_test() {
    let src = include_str!("on_sim.rs");
    for w in workloads::all() {
        assert!(
            src.contains(&format!("\"{}\"", w.meta().name)),
            "no sim test for {}",
            w.meta().name
        );
    }
}

#[test]
fn mlp_trains_data_parallel_on_two_devices_like_on_one() {
    use workloads::{mlp_average_gradients, mlp_initial_params, MlpBatch, MlpTrainer};
    let w = workloads::by_name("mlp_train").unwrap();
    let (mut d0, mut d1, mut single) = (open("sim"), open("sim:h100"), open("sim"));
    let m0 = d0.load(w.ptx()).unwrap();
    let m1 = d1.load(w.ptx()).unwrap();
    let ms = single.load(w.ptx()).unwrap();
    let p0 = mlp_initial_params(9);
    let mut t0 = MlpTrainer::new(d0.as_mut(), m0, 16, &p0).unwrap();
    let mut t1 = MlpTrainer::new(d1.as_mut(), m1, 16, &p0).unwrap();
    let mut ts = MlpTrainer::new(single.as_mut(), ms, 32, &p0).unwrap();
    let (mut first, mut last) = (None, 0.0);
    for step in 0..16 {
        let batch = MlpBatch::synthetic(5, step, 32);
        let l0 = t0.gradients(&batch.slice(0..16)).unwrap();
        let l1 = t1.gradients(&batch.slice(16..32)).unwrap();
        let g = mlp_average_gradients(&[
            &t0.download_gradients().unwrap(),
            &t1.download_gradients().unwrap(),
        ]);
        t0.upload_gradients(&g).unwrap();
        t1.upload_gradients(&g).unwrap();
        t0.sgd(0.1).unwrap();
        t1.sgd(0.1).unwrap();
        ts.gradients(&batch).unwrap();
        ts.sgd(0.1).unwrap();
        first.get_or_insert((l0 + l1) / 2.0);
        last = (l0 + l1) / 2.0;
    }
    let (a, b, s) = (
        t0.params().unwrap(),
        t1.params().unwrap(),
        ts.params().unwrap(),
    );
    assert_eq!(a, b, "the replicas diverged");
    for (i, (x, y)) in a.iter().zip(&s).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 + 1e-3 * y.abs(),
            "param {i}: data-parallel {x} vs single {y}"
        );
    }
    let first = first.unwrap();
    assert!(last < 0.25 * first, "loss {first} -> {last}");
}

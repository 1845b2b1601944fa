use shim::train::*;
use std::sync::atomic::AtomicUsize;
use workloads::{mlp_reference_gradients, MlpBatch};
fn main() {
    let p = gpu::Platform::new();
    let specs = devices(Some("sim:h100*4"), &p).unwrap();
    for seed in 1..=8u64 {
        let c = TrainConfig {
            seed,
            ..TrainConfig::new(400)
        };
        let t = std::time::Instant::now();
        let r = train(
            &p,
            &specs,
            &c,
            &TrainOptions {
                checkpoint_every: 25,
                ..Default::default()
            },
            &AtomicUsize::new(0),
            &mut |_| {},
        )
        .unwrap();
        let dt = t.elapsed().as_secs_f64();
        let (_, cpu) = train_on_cpu(&c);
        let ce = mlp_reference_gradients(&cpu, &MlpBatch::held_out(seed, EVAL_BATCH, DATA_NOISE)).1
            as f64;
        let de = r.summary.eval_loss.unwrap();
        println!(
            "seed {seed}: device {de:.5} cpu {ce:.5} rel {:.4} ({dt:.1} s, {:.1} ms/step)",
            (de - ce).abs() / ce,
            r.summary.ms_per_step.unwrap()
        );
    }
}

//! Calibrates `gpufault train`'s loss-jump check on healthy runs: for many seeds, the
//! training of the default configuration on the CPU reference (`shim::train::train_on_cpu`,
//! the device run's arithmetic within `expf` ulps), the largest ratio of a step's loss to
//! the mean of the `LOSS_WINDOW` losses before it once `LOSS_WARMUP` steps have run —
//! what `--max-loss-jump` must stay above — and the spread of the final eval loss over
//! seeds.
//!
//! ```sh
//! cargo run --release -p gpufault-shim --example loss_jump -- [SEEDS] [STEPS]   # 200 400
//! ```

use shim::train::{train_on_cpu, TrainConfig, EVAL_BATCH, LOSS_WARMUP, LOSS_WINDOW};
use workloads::{mlp_reference_gradients, MlpBatch};

fn main() {
    let mut args = std::env::args().skip(1);
    let seeds: u64 = args.next().map_or(200, |s| s.parse().expect("SEEDS"));
    let steps: u64 = args.next().map_or(400, |s| s.parse().expect("STEPS"));
    let start = std::time::Instant::now();
    let mut worst = (0.0f64, 0u64, 0u64);
    let mut ratios = Vec::new();
    let mut evals = Vec::new();
    for seed in 1..=seeds {
        let config = TrainConfig {
            seed,
            ..TrainConfig::new(steps)
        };
        let (losses, params) = train_on_cpu(&config);
        // step s (from 1) is checked against the losses of steps s-W .. s-1
        for s in (LOSS_WARMUP + 1).max(LOSS_WINDOW as u64 + 1)..=steps {
            let i = (s - 1) as usize;
            let window = &losses[i - LOSS_WINDOW..i];
            let mean = window.iter().map(|&l| f64::from(l)).sum::<f64>() / LOSS_WINDOW as f64;
            let ratio = f64::from(losses[i]) / mean;
            ratios.push(ratio);
            if ratio > worst.0 {
                worst = (ratio, seed, s);
            }
        }
        let eval = mlp_reference_gradients(&params, &MlpBatch::held_out(seed, EVAL_BATCH)).1;
        evals.push((f64::from(eval), f64::from(*losses.last().unwrap())));
    }
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p) as usize];
    println!(
        "{seeds} seeds x {steps} steps (batch {}, shards {}, lr {}, momentum {}), {:.1} s",
        TrainConfig::new(1).batch,
        TrainConfig::new(1).shards,
        TrainConfig::new(1).lr,
        TrainConfig::new(1).momentum,
        start.elapsed().as_secs_f64()
    );
    println!(
        "loss / mean of the {LOSS_WINDOW} before, after step {LOSS_WARMUP}: median {:.3}, p99 {:.3}, p99.9 {:.3}, max {:.3} (seed {}, step {})",
        q(0.5),
        q(0.99),
        q(0.999),
        worst.0,
        worst.1,
        worst.2
    );
    let mut e: Vec<f64> = evals.iter().map(|x| x.0).collect();
    e.sort_by(f64::total_cmp);
    let mean = e.iter().sum::<f64>() / e.len() as f64;
    println!(
        "eval loss ({EVAL_BATCH} held-out samples) over seeds: min {:.5}, median {:.5}, mean {mean:.5}, max {:.5}",
        e[0],
        e[e.len() / 2],
        e[e.len() - 1]
    );
    let mut last: Vec<f64> = evals.iter().map(|x| x.1).collect();
    last.sort_by(f64::total_cmp);
    println!(
        "final train loss over seeds: min {:.5}, median {:.5}, max {:.5}",
        last[0],
        last[last.len() / 2],
        last[last.len() - 1]
    );
}

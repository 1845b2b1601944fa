//! The job's own numerical checks, and the arithmetic of a step that the host does: the
//! same code for the trainer on devices and for its CPU reference.

use std::collections::VecDeque;

/// The loss-jump check: a step's loss above `max_jump` times the mean of the last
/// `window` losses, once `warmup` steps have finished, stops the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelfChecks {
    /// The factor (`--max-loss-jump`); `f64::INFINITY` turns the check off.
    pub max_loss_jump: f64,
    /// Losses the mean is taken over.
    pub window: usize,
    /// Steps before the check starts (the loss falls fast at first).
    pub warmup: u64,
}

/// `--max-loss-jump`'s default. Over 200 seeds × 400 steps of healthy training with the
/// default configuration (CPU reference, `shim/examples/loss_jump.rs`) the largest ratio
/// of a loss to the mean of the 20 before it, after step 50, was 2.9 (`docs/guard.md`);
/// 6 leaves a margin of 2× while a diverging run crosses it within a step or two.
pub const DEFAULT_MAX_LOSS_JUMP: f64 = 6.0;
/// The loss window of the check.
pub const LOSS_WINDOW: usize = 20;
/// Steps before the loss-jump check starts.
pub const LOSS_WARMUP: u64 = 50;

impl Default for SelfChecks {
    fn default() -> Self {
        SelfChecks {
            max_loss_jump: DEFAULT_MAX_LOSS_JUMP,
            window: LOSS_WINDOW,
            warmup: LOSS_WARMUP,
        }
    }
}

/// The recent losses, oldest first, at most `window` of them.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct LossWindow {
    losses: VecDeque<f32>,
}

impl LossWindow {
    pub(crate) fn from_losses(losses: &[f32]) -> LossWindow {
        LossWindow {
            losses: losses.iter().copied().collect(),
        }
    }

    pub(crate) fn losses(&self) -> Vec<f32> {
        self.losses.iter().copied().collect()
    }

    /// The mean of the window, if `loss` (of step `step`, counting from 1) jumps above
    /// `checks.max_loss_jump` times it; `None` when it does not or the check is not
    /// armed yet.
    pub(crate) fn jump(&self, checks: &SelfChecks, step: u64, loss: f32) -> Option<f64> {
        if step <= checks.warmup || self.losses.len() < checks.window || checks.window == 0 {
            return None;
        }
        let mean =
            self.losses.iter().map(|&l| f64::from(l)).sum::<f64>() / self.losses.len() as f64;
        (f64::from(loss) > checks.max_loss_jump * mean).then_some(mean)
    }

    /// Adds `loss`, dropping the oldest beyond `window`.
    pub(crate) fn push(&mut self, loss: f32, window: usize) {
        self.losses.push_back(loss);
        while self.losses.len() > window {
            self.losses.pop_front();
        }
    }
}

/// The step's mean loss and gradient from its shards' (in shard order): the plain mean
/// of each, summed in shard order, so the result does not depend on which device
/// computed which shard.
pub(crate) fn combine(shards: &[(usize, f32, Vec<f32>)]) -> (f32, Vec<f32>) {
    let grads: Vec<&[f32]> = shards.iter().map(|(_, _, g)| g.as_slice()).collect();
    let grad = workloads::mlp_average_gradients(&grads);
    let loss = shards.iter().fold(0.0f32, |acc, (_, l, _)| acc + l) / shards.len().max(1) as f32;
    (loss, grad)
}

/// SGD with momentum (the heavy-ball form PyTorch uses): `v ← momentum·v + g`; the
/// devices then apply `p ← p − lr·v`.
pub(crate) fn momentum_update(velocity: &[f32], grad: &[f32], momentum: f32) -> Vec<f32> {
    velocity
        .iter()
        .zip(grad)
        .map(|(&v, &g)| momentum.mul_add(v, g))
        .collect()
}

/// Where the first non-finite value of `v` is, if any.
pub(crate) fn first_non_finite(v: &[f32]) -> Option<usize> {
    v.iter().position(|x| !x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_jump_check_waits_for_its_warmup_and_window() {
        let checks = SelfChecks {
            max_loss_jump: 3.0,
            window: 4,
            warmup: 5,
        };
        let mut w = LossWindow::default();
        for step in 1..=3 {
            assert_eq!(w.jump(&checks, step, 100.0), None, "window not full");
            w.push(1.0, checks.window);
        }
        w.push(1.0, checks.window);
        assert_eq!(w.jump(&checks, 5, 100.0), None, "still warming up");
        assert_eq!(w.jump(&checks, 6, 3.0), None, "3 is not above 3 × 1");
        assert_eq!(w.jump(&checks, 6, 3.01), Some(1.0));
        for _ in 0..10 {
            w.push(2.0, checks.window);
        }
        assert_eq!(w.losses(), [2.0; 4], "the window keeps the last 4");
        assert_eq!(w.jump(&checks, 20, 6.5), Some(2.0));
        let off = SelfChecks {
            max_loss_jump: f64::INFINITY,
            ..checks
        };
        assert_eq!(w.jump(&off, 20, 1e30), None);
    }

    #[test]
    fn shards_combine_in_order_into_a_plain_mean() {
        let shards = vec![(0, 1.0, vec![1.0, -2.0]), (1, 3.0, vec![3.0, 2.0])];
        assert_eq!(combine(&shards), (2.0, vec![2.0, 0.0]));
        assert_eq!(momentum_update(&[1.0, 2.0], &[0.5, 0.5], 0.5), [1.0, 1.5]);
        assert_eq!(first_non_finite(&[0.0, f32::NAN]), Some(1));
        assert_eq!(first_non_finite(&[0.0, 1.0]), None);
    }
}

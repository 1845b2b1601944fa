//! One MLP training step, and the device trainer a data-parallel shim drives.

use gpu::{Buffer, Device, KernelArg as A, LaunchConfig, ModuleHandle};
use ptx::Class;

use crate::compare::Tolerance;
use crate::data::{check_len, Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, int, ptr, Session};
use crate::suite::Bundled;

/// Inputs per sample.
pub const MLP_INPUTS: usize = 64;
/// Hidden units (ReLU).
pub const MLP_HIDDEN: usize = 64;
/// Output classes (softmax).
pub const MLP_CLASSES: usize = 10;
const OFF_B1: usize = MLP_HIDDEN * MLP_INPUTS;
const OFF_W2: usize = OFF_B1 + MLP_HIDDEN;
const OFF_B2: usize = OFF_W2 + MLP_CLASSES * MLP_HIDDEN;
/// Parameters in the flat buffer: `W1 [64][64], b1 [64], W2 [10][64], b2 [10]`.
pub const MLP_PARAMS: usize = OFF_B2 + MLP_CLASSES;
/// Learning rate of the workload's step.
const LR: f32 = 0.1;
const MODEL_SEED: u64 = 0x000a_11ce;
const DATA_SEED: u64 = 0xda7a;
const MEAN_THREADS: u32 = 256;

pub(crate) struct MlpTrain;

const EXPF: &str = "downstream of CUDA's expf/logf (within 2 ulp, not correctly rounded); \
                    every sum is an fmaf or add chain in the kernels' order";

/// A batch of MLP training data: `x` is `batch x 64`, `labels` in `0..10`.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpBatch {
    /// Features, row-major.
    pub x: Vec<f32>,
    /// Class labels.
    pub labels: Vec<i32>,
}

impl MlpBatch {
    /// Samples in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Batch `step` of size `batch` of a synthetic, learnable data set: ten Gaussian-like
    /// clusters in 64 dimensions. The same `(seed, step, batch)` gives the same bits
    /// everywhere; a data-parallel trainer splits one batch into per-device slices.
    pub fn synthetic(seed: u64, step: u64, batch: usize) -> MlpBatch {
        let mut c = Rng::new(DATA_SEED, 0);
        let centroids: Vec<f32> = (0..MLP_CLASSES * MLP_INPUTS)
            .map(|_| c.normalish())
            .collect();
        let mut r = Rng::new(seed, step.wrapping_add(1));
        let mut x = Vec::with_capacity(batch * MLP_INPUTS);
        let mut labels = Vec::with_capacity(batch);
        for _ in 0..batch {
            let y = r.below(MLP_CLASSES as u32) as usize;
            labels.push(y as i32);
            for i in 0..MLP_INPUTS {
                x.push(centroids[y * MLP_INPUTS + i] + r.normalish());
            }
        }
        MlpBatch { x, labels }
    }

    /// The held-out batch of `n` samples of the data set of `seed`: drawn like
    /// [`MlpBatch::synthetic`] from a stream no training step uses (step `u64::MAX - 1`),
    /// so a model trained on steps `0..N` of `seed` is evaluated on samples it never saw.
    pub fn held_out(seed: u64, n: usize) -> MlpBatch {
        MlpBatch::synthetic(seed, u64::MAX - 1, n)
    }

    /// Samples `range` of the batch.
    pub fn slice(&self, range: std::ops::Range<usize>) -> MlpBatch {
        MlpBatch {
            x: self.x[range.start * MLP_INPUTS..range.end * MLP_INPUTS].to_vec(),
            labels: self.labels[range].to_vec(),
        }
    }
}

/// Initial MLP parameters (uniform, scaled by fan-in) from `seed`.
pub fn mlp_initial_params(seed: u64) -> Vec<f32> {
    let mut r = Rng::new(seed, 0);
    let mut p = Vec::with_capacity(MLP_PARAMS);
    let l1 = (6.0f32 / MLP_INPUTS as f32).sqrt();
    let l2 = (6.0f32 / MLP_HIDDEN as f32).sqrt();
    p.extend(r.f32_vec(MLP_HIDDEN * MLP_INPUTS, -l1, l1));
    p.extend(r.f32_vec(MLP_HIDDEN, 0.0, 0.1));
    p.extend(r.f32_vec(MLP_CLASSES * MLP_HIDDEN, -l2, l2));
    p.extend(r.f32_vec(MLP_CLASSES, -0.05, 0.05));
    p
}

/// Averages per-device gradients element-wise, in slice order (deterministic). Each
/// device's gradients are means over its slice, so for equal slices the average is the
/// gradient of the whole batch.
pub fn mlp_average_gradients(grads: &[&[f32]]) -> Vec<f32> {
    let mut out = vec![0.0f32; grads.first().map_or(0, |g| g.len())];
    for g in grads {
        for (o, &x) in out.iter_mut().zip(g.iter()) {
            *o += x;
        }
    }
    let k = grads.len().max(1) as f32;
    out.iter_mut().for_each(|o| *o /= k);
    out
}

/// CPU reference of the gradient kernels: `(gradients, mean loss)` of `params` on
/// `batch`, in the kernels' order of operations.
pub fn mlp_reference_gradients(params: &[f32], batch: &MlpBatch) -> (Vec<f32>, f32) {
    let bsz = batch.len();
    let w1 = |j: usize, i: usize| params[j * MLP_INPUTS + i];
    let w2 = |c: usize, j: usize| params[OFF_W2 + c * MLP_HIDDEN + j];
    let mut h = vec![0.0f32; bsz * MLP_HIDDEN];
    for b in 0..bsz {
        for j in 0..MLP_HIDDEN {
            let mut acc = params[OFF_B1 + j];
            for i in 0..MLP_INPUTS {
                acc = batch.x[b * MLP_INPUTS + i].mul_add(w1(j, i), acc);
            }
            h[b * MLP_HIDDEN + j] = acc.max(0.0);
        }
    }
    let mut dlogits = vec![0.0f32; bsz * MLP_CLASSES];
    let mut loss = vec![0.0f32; bsz];
    let inv_batch = 1.0f32 / bsz as f32;
    for b in 0..bsz {
        let mut z = [0.0f32; MLP_CLASSES];
        let mut m = f32::MIN;
        for (c, zc) in z.iter_mut().enumerate() {
            let mut acc = params[OFF_B2 + c];
            for j in 0..MLP_HIDDEN {
                acc = h[b * MLP_HIDDEN + j].mul_add(w2(c, j), acc);
            }
            *zc = acc;
            m = m.max(acc);
        }
        let y = batch.labels[b];
        let (mut sum, mut zy) = (0.0f32, 0.0f32);
        for (c, zc) in z.iter_mut().enumerate() {
            let shifted = *zc - m;
            if c as i32 == y {
                zy = shifted;
            }
            *zc = shifted.exp();
            sum += *zc;
        }
        for (c, &e) in z.iter().enumerate() {
            let target = if c as i32 == y { 1.0 } else { 0.0 };
            dlogits[b * MLP_CLASSES + c] = (e / sum - target) * inv_batch;
        }
        loss[b] = sum.ln() - zy;
    }
    let mut grads = vec![0.0f32; MLP_PARAMS];
    for c in 0..MLP_CLASSES {
        for j in 0..MLP_HIDDEN {
            let mut acc = 0.0f32;
            for b in 0..bsz {
                acc = dlogits[b * MLP_CLASSES + c].mul_add(h[b * MLP_HIDDEN + j], acc);
            }
            grads[OFF_W2 + c * MLP_HIDDEN + j] = acc;
        }
        grads[OFF_B2 + c] = (0..bsz).fold(0.0f32, |acc, b| acc + dlogits[b * MLP_CLASSES + c]);
    }
    let mut dh = vec![0.0f32; bsz * MLP_HIDDEN];
    for b in 0..bsz {
        for j in 0..MLP_HIDDEN {
            let mut s = 0.0f32;
            for c in 0..MLP_CLASSES {
                s = dlogits[b * MLP_CLASSES + c].mul_add(w2(c, j), s);
            }
            dh[b * MLP_HIDDEN + j] = if h[b * MLP_HIDDEN + j] > 0.0 { s } else { 0.0 };
        }
    }
    for j in 0..MLP_HIDDEN {
        for i in 0..MLP_INPUTS {
            let mut acc = 0.0f32;
            for b in 0..bsz {
                acc = dh[b * MLP_HIDDEN + j].mul_add(batch.x[b * MLP_INPUTS + i], acc);
            }
            grads[j * MLP_INPUTS + i] = acc;
        }
        grads[OFF_B1 + j] = (0..bsz).fold(0.0f32, |acc, b| acc + dh[b * MLP_HIDDEN + j]);
    }
    (grads, mean_of(&loss))
}

/// `mlp_loss_mean`: a 256-thread shared-memory tree, then one division.
fn mean_of(loss: &[f32]) -> f32 {
    let t = MEAN_THREADS as usize;
    let mut s = vec![0.0f32; t];
    for (i, &l) in loss.iter().enumerate() {
        s[i % t] += l;
    }
    let mut stride = t / 2;
    while stride > 0 {
        for i in 0..stride {
            s[i] += s[i + stride];
        }
        stride /= 2;
    }
    s[0] / loss.len() as f32
}

/// CPU reference of `sgd_update`: `params -= lr * grads`, one fused multiply-add each.
pub fn mlp_reference_sgd(params: &mut [f32], grads: &[f32], lr: f32) {
    for (p, &g) in params.iter_mut().zip(grads) {
        *p = (-lr).mul_add(g, *p);
    }
}

/// The MLP on one device: parameters, gradients and activations stay in device memory
/// between calls; everything is freed when the trainer is dropped.
///
/// A data-parallel step over devices `d`: `gradients` on each device's slice of the
/// batch, `download_gradients`, [`mlp_average_gradients`], `upload_gradients` and `sgd`
/// on every device. The `module` must be loaded from the `mlp_train` workload's PTX.
pub struct MlpTrainer<'a> {
    s: Session<'a>,
    net: Net,
}

impl<'a> MlpTrainer<'a> {
    /// Allocates a trainer for batches of `batch` samples, starting from `params`.
    pub fn new(
        dev: &'a mut dyn Device,
        module: ModuleHandle,
        batch: usize,
        params: &[f32],
    ) -> Result<MlpTrainer<'a>, RunError> {
        let mut s = Session::new(dev, module);
        let net = Net::new(&mut s, batch, params)?;
        Ok(MlpTrainer { s, net })
    }

    /// Computes the gradients of the mean loss on `batch` into the device's gradient
    /// buffer and returns the mean loss.
    pub fn gradients(&mut self, batch: &MlpBatch) -> Result<f32, RunError> {
        self.net.gradients(&mut self.s, batch)
    }

    /// The gradients last computed (or uploaded).
    pub fn download_gradients(&mut self) -> Result<Vec<f32>, RunError> {
        Ok(self.s.read::<f32>(self.net.grads, MLP_PARAMS)?)
    }

    /// Replaces the device's gradients, e.g. with the average over devices.
    pub fn upload_gradients(&mut self, grads: &[f32]) -> Result<(), RunError> {
        check_len("grads", grads, MLP_PARAMS)?;
        Ok(self.s.write(self.net.grads, grads)?)
    }

    /// `params -= lr * grads` on the device.
    pub fn sgd(&mut self, lr: f32) -> Result<(), RunError> {
        self.net.sgd(&mut self.s, lr)
    }

    /// The current parameters (for a checkpoint).
    pub fn params(&mut self) -> Result<Vec<f32>, RunError> {
        Ok(self.s.read::<f32>(self.net.params, MLP_PARAMS)?)
    }

    /// Replaces the parameters (restore from a checkpoint).
    pub fn set_params(&mut self, params: &[f32]) -> Result<(), RunError> {
        check_len("params", params, MLP_PARAMS)?;
        Ok(self.s.write(self.net.params, params)?)
    }
}

/// The device buffers of the MLP for batches of `batch` samples, in the session that
/// allocated them (the trainer's, or a workload run's).
struct Net {
    batch: usize,
    params: Buffer,
    grads: Buffer,
    x: Buffer,
    labels: Buffer,
    h: Buffer,
    dh: Buffer,
    dlogits: Buffer,
    loss: Buffer,
    mean: Buffer,
}

impl Net {
    fn new(s: &mut Session<'_>, batch: usize, params: &[f32]) -> Result<Net, RunError> {
        MlpTrain::META.size.check(MlpTrain::META.name, batch)?;
        check_len("params", params, MLP_PARAMS)?;
        Ok(Net {
            batch,
            params: s.upload(params)?,
            grads: s.zeroed::<f32>(MLP_PARAMS)?,
            x: s.zeroed::<f32>(batch * MLP_INPUTS)?,
            labels: s.zeroed::<i32>(batch)?,
            h: s.zeroed::<f32>(batch * MLP_HIDDEN)?,
            dh: s.zeroed::<f32>(batch * MLP_HIDDEN)?,
            dlogits: s.zeroed::<f32>(batch * MLP_CLASSES)?,
            loss: s.zeroed::<f32>(batch)?,
            mean: s.zeroed::<f32>(1)?,
        })
    }

    /// [`MlpTrainer::gradients`].
    fn gradients(&self, s: &mut Session<'_>, batch: &MlpBatch) -> Result<f32, RunError> {
        let b = self.batch;
        check_len("labels", &batch.labels, b)?;
        check_len("x", &batch.x, b * MLP_INPUTS)?;
        s.write(self.x, &batch.x)?;
        s.write(self.labels, &batch.labels)?;
        let [x, p, h, dh, dl, g] = [
            self.x,
            self.params,
            self.h,
            self.dh,
            self.dlogits,
            self.grads,
        ];
        s.launch(
            "mlp_hidden_forward",
            LaunchConfig::linear(b as u32, MLP_HIDDEN as u32),
            &[ptr(x), ptr(p), ptr(h)],
        )?;
        s.launch(
            "mlp_output_softmax",
            LaunchConfig::linear(blocks(b, 64), 64),
            &[
                ptr(h),
                ptr(p),
                ptr(self.labels),
                ptr(dl),
                ptr(self.loss),
                int(b),
            ],
        )?;
        s.launch(
            "mlp_loss_mean",
            LaunchConfig::linear(1, MEAN_THREADS),
            &[ptr(self.loss), ptr(self.mean), int(b)],
        )?;
        let n2 = MLP_CLASSES * (MLP_HIDDEN + 1);
        s.launch(
            "mlp_output_grads",
            LaunchConfig::linear(blocks(n2, 128), 128),
            &[ptr(h), ptr(dl), ptr(g), int(b)],
        )?;
        s.launch(
            "mlp_hidden_backprop",
            LaunchConfig::linear(blocks(b * MLP_HIDDEN, 256), 256),
            &[ptr(dl), ptr(p), ptr(h), ptr(dh), int(b)],
        )?;
        let n1 = MLP_HIDDEN * (MLP_INPUTS + 1);
        s.launch(
            "mlp_hidden_grads",
            LaunchConfig::linear(blocks(n1, 256), 256),
            &[ptr(x), ptr(dh), ptr(g), int(b)],
        )?;
        Ok(s.read::<f32>(self.mean, 1)?[0])
    }

    /// [`MlpTrainer::sgd`].
    fn sgd(&self, s: &mut Session<'_>, lr: f32) -> Result<(), RunError> {
        Ok(s.launch(
            "sgd_update",
            LaunchConfig::linear(blocks(MLP_PARAMS, 256), 256),
            &[
                ptr(self.params),
                ptr(self.grads),
                A::F32(lr),
                int(MLP_PARAMS),
            ],
        )?)
    }
}

impl Bundled for MlpTrain {
    const META: &'static Meta = &Meta {
        name: "mlp_train",
        kind: Kind::Training,
        description: "one SGD step of a 64-64-10 ReLU MLP with softmax cross-entropy on a \
                      batch: forward, loss, backward into a gradient buffer, then a separate \
                      update kernel",
        paper_analogue: "YOLOv3 / LeNet training (CNN class)",
        kernels: &[
            "mlp_hidden_forward",
            "mlp_output_softmax",
            "mlp_loss_mean",
            "mlp_output_grads",
            "mlp_hidden_backprop",
            "mlp_hidden_grads",
            "sgd_update",
        ],
        size: SizeSpec {
            meaning: "batch size",
            default: 32,
            gpu: 4096,
            min: 1,
            max: 1 << 20,
            multiple_of: 1,
        },
        stresses: &[Class::Fp32, Class::Load, Class::Sfu, Class::Control],
        outputs: &[
            OutputSpec {
                name: "params",
                dtype: DType::F32,
                tolerance: Tolerance::Close {
                    abs: 1e-6,
                    rel: 1e-5,
                },
                why: EXPF,
            },
            OutputSpec {
                name: "grads",
                dtype: DType::F32,
                tolerance: Tolerance::Close {
                    abs: 1e-6,
                    rel: 1e-4,
                },
                why: EXPF,
            },
            OutputSpec {
                name: "loss",
                dtype: DType::F32,
                tolerance: Tolerance::Close {
                    abs: 1e-6,
                    rel: 1e-5,
                },
                why: EXPF,
            },
        ],
        source: include_str!("../../kernels/mlp_train.cu"),
        ptx: include_str!("../../ptx/mlp_train.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let batch = MlpBatch::synthetic(r.seed(), 0, size);
        Arrays::new()
            .with("params", Data::F32(mlp_initial_params(MODEL_SEED)))
            .with("x", Data::F32(batch.x))
            .with("labels", Data::I32(batch.labels))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let (params, batch) = step_inputs(inputs)?;
        let net = Net::new(s, inputs.size, params)?;
        let loss = net.gradients(s, &batch)?;
        let grads = s.read::<f32>(net.grads, MLP_PARAMS)?;
        net.sgd(s, LR)?;
        let params = s.read::<f32>(net.params, MLP_PARAMS)?;
        Ok(Arrays::new()
            .with("params", Data::F32(params))
            .with("grads", Data::F32(grads))
            .with("loss", Data::F32(vec![loss])))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let (params, batch) = step_inputs(inputs)?;
        let (grads, loss) = mlp_reference_gradients(params, &batch);
        let mut params = params.to_vec();
        mlp_reference_sgd(&mut params, &grads, LR);
        Ok(Arrays::new()
            .with("params", Data::F32(params))
            .with("grads", Data::F32(grads))
            .with("loss", Data::F32(vec![loss])))
    }
}

fn step_inputs(inputs: &Inputs) -> Result<(&[f32], MlpBatch), InputError> {
    let b = inputs.size;
    let params = inputs.arrays.f32s_of("params", MLP_PARAMS)?;
    let x = inputs.arrays.f32s_of("x", b * MLP_INPUTS)?;
    let labels = inputs.arrays.i32s_of("labels", b)?;
    Ok((
        params,
        MlpBatch {
            x: x.to_vec(),
            labels: labels.to_vec(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_steps_train_the_model() {
        let mut params = mlp_initial_params(MODEL_SEED);
        let first = mlp_reference_gradients(&params, &MlpBatch::synthetic(1, 0, 32)).1;
        let mut last = first;
        for step in 0..150 {
            let (g, loss) = mlp_reference_gradients(&params, &MlpBatch::synthetic(1, step, 32));
            mlp_reference_sgd(&mut params, &g, LR);
            last = loss;
        }
        assert!(first > 1.5, "initial loss {first}");
        assert!(last < 0.3 * first, "loss went from {first} to {last}");
    }

    #[test]
    fn averaged_half_batch_gradients_equal_the_full_batch_gradient() {
        let params = mlp_initial_params(3);
        let batch = MlpBatch::synthetic(4, 0, 32);
        let (full, full_loss) = mlp_reference_gradients(&params, &batch);
        let (a, la) = mlp_reference_gradients(&params, &batch.slice(0..16));
        let (b, lb) = mlp_reference_gradients(&params, &batch.slice(16..32));
        let avg = mlp_average_gradients(&[&a, &b]);
        for (i, (x, y)) in full.iter().zip(&avg).enumerate() {
            assert!(
                (x - y).abs() <= 1e-6 + 1e-4 * x.abs(),
                "param {i}: {x} vs {y}"
            );
        }
        assert!(((la + lb) / 2.0 - full_loss).abs() < 1e-5);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Backward pass check: d loss / d b2[c] against a central difference in f64-ish
        // terms (the loss is smooth in b2).
        let params = mlp_initial_params(5);
        let batch = MlpBatch::synthetic(6, 0, 8);
        let (g, _) = mlp_reference_gradients(&params, &batch);
        for idx in [OFF_B2, OFF_B2 + 3, OFF_W2 + 17, 5] {
            let eps = 1e-2f32;
            let mut p = params.clone();
            p[idx] += eps;
            let up = mlp_reference_gradients(&p, &batch).1;
            p[idx] -= 2.0 * eps;
            let down = mlp_reference_gradients(&p, &batch).1;
            let numeric = (up - down) / (2.0 * eps);
            assert!(
                (numeric - g[idx]).abs() < 2e-3,
                "param {idx}: {numeric} vs {}",
                g[idx]
            );
        }
    }
}

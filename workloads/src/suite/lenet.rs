//! LeNet-5 style CNN inference.

use gpu::{Buffer, KernelArg as A, LaunchConfig};
use ptx::Class;

use crate::compare::Tolerance;
use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, int, ptr, Session};
use crate::suite::Bundled;

/// The weights are a fixed, seeded model: independent of the input seed.
const WEIGHT_SEED: u64 = 0x001e_4e75;
const SIDE: usize = 28;
const CLASSES: usize = 10;

/// (name, elements, fan-in) of every parameter array, in layer order.
const PARAMS: [(&str, usize, usize); 10] = [
    ("conv1_w", 6 * 25, 25),
    ("conv1_b", 6, 25),
    ("conv2_w", 16 * 6 * 25, 150),
    ("conv2_b", 16, 150),
    ("fc1_w", 120 * 256, 256),
    ("fc1_b", 120, 256),
    ("fc2_w", 84 * 120, 120),
    ("fc2_b", 84, 120),
    ("fc3_w", CLASSES * 84, 84),
    ("fc3_b", CLASSES, 84),
];

pub(crate) struct LeNet;

impl Bundled for LeNet {
    const META: &'static Meta = &Meta {
        name: "lenet",
        kind: Kind::Inference,
        description: "LeNet-5 style inference on 28x28 images: conv 5x5 (1->6) + ReLU, max-pool, \
                      conv 5x5 (6->16) + ReLU, max-pool, dense 256-120-84-10 with ReLU, softmax; \
                      filters staged in shared memory, warp-shuffle softmax",
        paper_analogue: "LeNet",
        kernels: &["conv2d_relu", "maxpool2x2", "dense", "softmax"],
        size: SizeSpec {
            meaning: "number of images",
            default: 1,
            gpu: 256,
            min: 1,
            max: 65_535,
            multiple_of: 1,
        },
        stresses: &[Class::Fp32, Class::Load, Class::Barrier, Class::Warp],
        outputs: &[
            OutputSpec::exact(
                "logits",
                DType::F32,
                "convolutions and dense layers are fmaf chains in a fixed order, ReLU and \
                      max-pool are exact",
            ),
            OutputSpec {
                name: "probs",
                dtype: DType::F32,
                tolerance: Tolerance::Close {
                    abs: 1e-6,
                    rel: 1e-5,
                },
                why: "CUDA's expf is within 2 ulp, not correctly rounded like the host's",
            },
        ],
        source: include_str!("../../kernels/lenet.cu"),
        ptx: include_str!("../../ptx/lenet.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let mut arrays = Arrays::new().with("images", Data::F32(images(size, r)));
        let mut r = Rng::new(WEIGHT_SEED, 0);
        for (name, len, fan_in) in PARAMS {
            let limit = if name.ends_with("_b") {
                0.05
            } else {
                (6.0 / fan_in as f32).sqrt()
            };
            arrays.insert(name, Data::F32(r.f32_vec(len, -limit, limit)));
        }
        arrays
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let m = model(inputs)?;
        let imgs = inputs.size;
        let mut p = Vec::new();
        for w in m.params {
            p.push(s.upload(w)?);
        }
        let x = s.upload(m.images)?;
        let c1 = s.zeroed::<f32>(imgs * 6 * 24 * 24)?;
        let p1 = s.zeroed::<f32>(imgs * 6 * 12 * 12)?;
        let c2 = s.zeroed::<f32>(imgs * 16 * 8 * 8)?;
        let p2 = s.zeroed::<f32>(imgs * 256)?;
        let f1 = s.zeroed::<f32>(imgs * 120)?;
        let f2 = s.zeroed::<f32>(imgs * 84)?;
        let logits = s.zeroed::<f32>(imgs * CLASSES)?;
        let probs = s.zeroed::<f32>(imgs * CLASSES)?;
        let conv = |s: &mut Session<'_>,
                    inp: Buffer,
                    w: Buffer,
                    b: Buffer,
                    out: Buffer,
                    in_c,
                    side,
                    out_c,
                    block: usize| {
            let px = (side - 4) * (side - 4);
            let cfg = LaunchConfig {
                grid: [blocks(px, block), out_c as u32, imgs as u32],
                block: [block as u32, 1, 1],
                shared_bytes: 0,
            };
            let args = [
                ptr(inp),
                ptr(w),
                ptr(b),
                ptr(out),
                int(in_c),
                int(side),
                int(side),
                int(out_c),
                int(5),
            ];
            s.launch("conv2d_relu", cfg, &args)
        };
        let pool = |s: &mut Session<'_>, inp: Buffer, out: Buffer, planes: usize, side: usize| {
            let total = planes * (side / 2) * (side / 2);
            let cfg = LaunchConfig::linear(blocks(total, 256), 256);
            s.launch(
                "maxpool2x2",
                cfg,
                &[ptr(inp), ptr(out), int(planes), int(side), int(side)],
            )
        };
        let dense = |s: &mut Session<'_>,
                     inp: Buffer,
                     w: Buffer,
                     b: Buffer,
                     out: Buffer,
                     in_n,
                     out_n,
                     relu: bool,
                     block: u32| {
            let cfg = LaunchConfig {
                grid: [1, imgs as u32, 1],
                block: [block, 1, 1],
                shared_bytes: 0,
            };
            let args = [
                ptr(inp),
                ptr(w),
                ptr(b),
                ptr(out),
                int(in_n),
                int(out_n),
                A::I32(relu as i32),
            ];
            s.launch("dense", cfg, &args)
        };
        conv(s, x, p[0], p[1], c1, 1, SIDE, 6, 256)?;
        pool(s, c1, p1, imgs * 6, 24)?;
        conv(s, p1, p[2], p[3], c2, 6, 12, 16, 64)?;
        pool(s, c2, p2, imgs * 16, 8)?;
        dense(s, p2, p[4], p[5], f1, 256, 120, true, 128)?;
        dense(s, f1, p[6], p[7], f2, 120, 84, true, 96)?;
        dense(s, f2, p[8], p[9], logits, 84, CLASSES, false, 32)?;
        s.launch(
            "softmax",
            LaunchConfig::linear(imgs as u32, 32),
            &[ptr(logits), ptr(probs), int(CLASSES)],
        )?;
        let lg = s.read::<f32>(logits, imgs * CLASSES)?;
        let pr = s.read::<f32>(probs, imgs * CLASSES)?;
        Ok(Arrays::new()
            .with("logits", Data::F32(lg))
            .with("probs", Data::F32(pr)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let m = model(inputs)?;
        let p = &m.params;
        let mut logits = Vec::new();
        let mut probs = Vec::new();
        for img in m.images.chunks(SIDE * SIDE) {
            let c1 = conv_relu(img, p[0], p[1], 1, SIDE, 6);
            let p1 = maxpool(&c1, 6, 24);
            let c2 = conv_relu(&p1, p[2], p[3], 6, 12, 16);
            let p2 = maxpool(&c2, 16, 8);
            let f1 = dense(&p2, p[4], p[5], true);
            let f2 = dense(&f1, p[6], p[7], true);
            let z = dense(&f2, p[8], p[9], false);
            probs.extend(softmax(&z));
            logits.extend(z);
        }
        Ok(Arrays::new()
            .with("logits", Data::F32(logits))
            .with("probs", Data::F32(probs)))
    }
}

/// Synthetic 28x28 images: three soft blobs of random size and brightness on black.
fn images(count: usize, r: &mut Rng) -> Vec<f32> {
    let mut out = vec![0.0f32; count * SIDE * SIDE];
    for img in out.chunks_mut(SIDE * SIDE) {
        for _ in 0..3 {
            let cx = r.f32_in(5.0, 23.0);
            let cy = r.f32_in(5.0, 23.0);
            let radius2 = r.f32_in(4.0, 30.0);
            let bright = r.f32_in(0.4, 1.0);
            for (i, px) in img.iter_mut().enumerate() {
                let dx = (i % SIDE) as f32 - cx;
                let dy = (i / SIDE) as f32 - cy;
                let fall = 1.0 - (dx * dx + dy * dy) / radius2;
                if fall > 0.0 {
                    *px = (*px + bright * fall).min(1.0);
                }
            }
        }
    }
    out
}

struct Model<'a> {
    images: &'a [f32],
    params: Vec<&'a [f32]>,
}

fn model(inputs: &Inputs) -> Result<Model<'_>, InputError> {
    let images = inputs.arrays.f32s_of("images", inputs.size * SIDE * SIDE)?;
    let mut params = Vec::new();
    for (name, len, _) in PARAMS {
        params.push(inputs.arrays.f32s_of(name, len)?);
    }
    Ok(Model { images, params })
}

/// `conv2d_relu` for one image: 5x5 filters, fmaf over (channel, row, column).
fn conv_relu(x: &[f32], w: &[f32], b: &[f32], in_c: usize, side: usize, out_c: usize) -> Vec<f32> {
    let o = side - 4;
    let mut out = vec![0.0f32; out_c * o * o];
    for oc in 0..out_c {
        let filt = &w[oc * in_c * 25..(oc + 1) * in_c * 25];
        for oy in 0..o {
            for ox in 0..o {
                let mut acc = b[oc];
                for ic in 0..in_c {
                    for ky in 0..5 {
                        for kx in 0..5 {
                            acc = x[(ic * side + oy + ky) * side + ox + kx]
                                .mul_add(filt[(ic * 5 + ky) * 5 + kx], acc);
                        }
                    }
                }
                out[(oc * o + oy) * o + ox] = acc.max(0.0);
            }
        }
    }
    out
}

fn maxpool(x: &[f32], planes: usize, side: usize) -> Vec<f32> {
    let o = side / 2;
    let mut out = Vec::with_capacity(planes * o * o);
    for p in 0..planes {
        for oy in 0..o {
            for ox in 0..o {
                let at = |y: usize, x_: usize| x[(p * side + 2 * oy + y) * side + 2 * ox + x_];
                out.push(at(0, 0).max(at(0, 1)).max(at(1, 0).max(at(1, 1))));
            }
        }
    }
    out
}

fn dense(x: &[f32], w: &[f32], b: &[f32], relu: bool) -> Vec<f32> {
    b.iter()
        .zip(w.chunks(x.len()))
        .map(|(&bias, row)| {
            let acc = x
                .iter()
                .zip(row)
                .fold(bias, |acc, (&xi, &wi)| xi.mul_add(wi, acc));
            if relu {
                acc.max(0.0)
            } else {
                acc
            }
        })
        .collect()
}

/// `softmax` of one image: 32 lanes reduce with an xor butterfly (every lane ends with
/// the same value, float addition being commutative).
fn softmax(z: &[f32]) -> Vec<f32> {
    let mut lanes = [f32::MIN; 32];
    lanes[..z.len()].copy_from_slice(z);
    let m = butterfly(lanes, f32::max)[0];
    let mut e = [0.0f32; 32];
    for (ei, &zi) in e.iter_mut().zip(z) {
        *ei = (zi - m).exp();
    }
    let s = butterfly(e, |a, b| a + b)[0];
    e[..z.len()].iter().map(|&ei| ei / s).collect()
}

fn butterfly(mut v: [f32; 32], op: impl Fn(f32, f32) -> f32) -> [f32; 32] {
    for off in [16, 8, 4, 2, 1] {
        let old = v;
        for (l, x) in v.iter_mut().enumerate() {
            *x = op(old[l], old[l ^ off]);
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    #[test]
    fn layers_by_hand() {
        // A 6x6 ones image with a ones filter gives 25 + bias everywhere.
        let x = vec![1.0f32; 36];
        let w = vec![1.0f32; 25];
        assert_eq!(conv_relu(&x, &w, &[-1.0], 1, 6, 1), vec![24.0; 4]);
        assert_eq!(conv_relu(&x, &w, &[-30.0], 1, 6, 1), vec![0.0; 4]);
        let plane = [
            1.0, 5.0, 2.0, 0.0, 3.0, 4.0, 7.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 9.0,
        ];
        assert_eq!(maxpool(&plane, 1, 4), vec![5.0, 7.0, 0.0, 9.0]);
        assert_eq!(
            dense(&[1.0, 2.0], &[3.0, 4.0, -1.0, -1.0], &[0.5, 0.0], true),
            vec![11.5, 0.0]
        );
    }

    #[test]
    fn softmax_sums_to_one_and_orders_like_logits() {
        let p = softmax(&[1.0, 3.0, 2.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[1] > p[2] && p[2] > p[0]);
    }

    #[test]
    fn weights_do_not_depend_on_the_input_seed() {
        let a = LeNet.generate(1, 1).unwrap();
        let b = LeNet.generate(1, 2).unwrap();
        assert_eq!(a.arrays.get("fc1_w"), b.arrays.get("fc1_w"));
        assert_ne!(a.arrays.get("images"), b.arrays.get("images"));
    }
}

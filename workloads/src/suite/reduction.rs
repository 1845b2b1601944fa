//! Sum reduction: shared-memory tree plus warp shuffles, two launches.

use gpu::LaunchConfig;
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, int, ptr, Session};
use crate::suite::Bundled;

const BLOCK: usize = 256;
const MAX_GRID: usize = 64;

pub(crate) struct Reduction;

const TREE: &str = "the reference replays the kernel's exact summation tree";

fn grid(n: usize) -> usize {
    blocks(n, BLOCK).min(MAX_GRID as u32) as usize
}

impl Bundled for Reduction {
    const META: &'static Meta = &Meta {
        name: "reduction",
        kind: Kind::Reduction,
        description:
            "sum of n floats: grid-stride accumulation, shared-memory tree, warp-shuffle tail, \
                      then the same kernel over the per-block partial sums",
        paper_analogue: "accl (reduction-heavy)",
        kernels: &["reduce_sum"],
        size: SizeSpec::elements("number of floats n", 65_536),
        stresses: &[Class::Fp32, Class::Warp, Class::Barrier, Class::Load],
        outputs: &[
            OutputSpec::exact("partials", DType::F32, TREE),
            OutputSpec::exact("sum", DType::F32, TREE),
        ],
        source: include_str!("../../kernels/reduction.cu"),
        ptx: include_str!("../../ptx/reduction.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let x = r.f32_vec(size, -1.0, 1.0);
        Arrays::new().with("x", Data::F32(x))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let x = input(inputs)?;
        let g = grid(x.len());
        let dx = s.upload(x)?;
        let dp = s.zeroed::<f32>(g)?;
        let dsum = s.zeroed::<f32>(1)?;
        let cfg = LaunchConfig::linear(g as u32, BLOCK as u32);
        s.launch("reduce_sum", cfg, &[ptr(dx), ptr(dp), int(x.len())])?;
        let cfg = LaunchConfig::linear(1, BLOCK as u32);
        s.launch("reduce_sum", cfg, &[ptr(dp), ptr(dsum), int(g)])?;
        let partials = s.read::<f32>(dp, g)?;
        let sum = s.read::<f32>(dsum, 1)?;
        Ok(Arrays::new()
            .with("partials", Data::F32(partials))
            .with("sum", Data::F32(sum)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let x = input(inputs)?;
        let g = grid(x.len());
        let partials: Vec<f32> = (0..g).map(|b| block_sum(x, b, g)).collect();
        let sum = block_sum(&partials, 0, 1);
        Ok(Arrays::new()
            .with("partials", Data::F32(partials))
            .with("sum", Data::F32(vec![sum])))
    }
}

fn input(inputs: &Inputs) -> Result<&[f32], InputError> {
    inputs.arrays.f32s_of("x", inputs.size)
}

/// What block `block` of a `grid`-block launch of `reduce_sum` computes, in the same
/// order of additions.
fn block_sum(x: &[f32], block: usize, grid: usize) -> f32 {
    let mut s = [0.0f32; BLOCK];
    for (t, slot) in s.iter_mut().enumerate() {
        let mut v = 0.0f32;
        let mut i = block * BLOCK + t;
        while i < x.len() {
            v += x[i];
            i += grid * BLOCK;
        }
        *slot = v;
    }
    let mut stride = BLOCK / 2;
    while stride >= 32 {
        for t in 0..stride {
            s[t] += s[t + stride];
        }
        stride /= 2;
    }
    // __shfl_down_sync: lane l reads lane l + offset, or keeps its own value past 31.
    let mut w = [0.0f32; 32];
    w.copy_from_slice(&s[..32]);
    for offset in [16, 8, 4, 2, 1] {
        let old = w;
        for (l, v) in w.iter_mut().enumerate() {
            *v = old[l]
                + if l + offset < 32 {
                    old[l + offset]
                } else {
                    old[l]
                };
        }
    }
    w[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::test_inputs;
    use crate::workload::Workload;

    #[test]
    fn sums_small_integers_exactly() {
        // Integers below 2^24 add exactly in any order: the tree must give the plain sum.
        let x: Vec<f32> = (0..1000).map(|i| (i % 37) as f32).collect();
        let want: f32 = (0..1000).map(|i| (i % 37) as f32).sum();
        let inputs = test_inputs(1000, Arrays::new().with("x", Data::F32(x)));
        let out = Reduction.reference_arrays(&inputs).unwrap();
        assert_eq!(out.f32s("sum").unwrap(), &[want]);
        assert_eq!(out.f32s("partials").unwrap().len(), 4);
    }

    #[test]
    fn tree_order_is_not_sequential_order() {
        // The replayed tree must differ from a left-to-right sum somewhere, or it would
        // not be modelling the kernel.
        let inputs = Reduction.generate(65_536, 1).unwrap();
        let x = inputs.arrays.f32s("x").unwrap();
        let seq: f32 = x.iter().sum();
        let out = Reduction.reference_arrays(&inputs).unwrap();
        let tree = out.f32s("sum").unwrap()[0];
        assert!((tree - seq).abs() < 1e-2, "tree {tree} vs sequential {seq}");
        assert_ne!(tree.to_bits(), seq.to_bits());
    }
}

//! Single-precision GEMM, naive and shared-memory tiled.

use gpu::{Device, KernelArg as A, ModuleHandle};
use ptx::Class;

use crate::compare::Tolerance;
use crate::data::{check_len, Arrays, DType, Data, Inputs, Outputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, grid2, int, Session};
use crate::workload::Workload;

/// `alpha` of `C = alpha * A * B + beta * C` (exactly representable).
const ALPHA: f32 = 1.5;
/// `beta` of `C = alpha * A * B + beta * C` (exactly representable).
const BETA: f32 = -0.75;
const TILE: usize = 16;

const SIZE: SizeSpec = SizeSpec {
    meaning: "matrix dimension n (A, B, C are n x n)",
    default: 40,
    gpu: 1024,
    min: 1,
    max: 4096,
    multiple_of: 1,
};

const OUTPUTS: &[OutputSpec] = &[OutputSpec {
    name: "c",
    dtype: DType::F32,
    tolerance: Tolerance::Exact,
    why: "explicit fmaf chain in a fixed k order, mirrored with f32::mul_add",
}];

pub(crate) struct GemmNaive;
pub(crate) struct GemmTiled;

static NAIVE: Meta = Meta {
    name: "gemm_naive",
    kind: Kind::DenseLinearAlgebra,
    description:
        "C = alpha A B + beta C, one thread per element reading A and B from global memory",
    paper_analogue: "gemm",
    kernels: &["gemm_naive"],
    size: SIZE,
    stresses: &[Class::Fp32, Class::Load, Class::IntAlu, Class::Control],
    outputs: OUTPUTS,
    source: include_str!("../../kernels/gemm_naive.cu"),
    ptx: include_str!("../../ptx/gemm_naive.ptx"),
};

static TILED: Meta = Meta {
    name: "gemm_tiled",
    kind: Kind::DenseLinearAlgebra,
    description:
        "C = alpha A B + beta C with 16x16 shared-memory tiles and barriers, zero-padded edges",
    paper_analogue: "mxm",
    kernels: &["gemm_tiled"],
    size: SizeSpec {
        default: 56,
        ..SIZE
    },
    stresses: &[Class::Fp32, Class::Load, Class::Store, Class::Barrier],
    outputs: OUTPUTS,
    source: include_str!("../../kernels/gemm_tiled.cu"),
    ptx: include_str!("../../ptx/gemm_tiled.ptx"),
};

fn generate(meta: &'static Meta, size: usize, seed: u64) -> Result<Inputs, InputError> {
    meta.size.check(meta.name, size)?;
    let mut r = Rng::new(seed, 0);
    let nn = size * size;
    let arrays = Arrays::new()
        .with("a", Data::F32(r.f32_vec(nn, -1.0, 1.0)))
        .with("b", Data::F32(r.f32_vec(nn, -1.0, 1.0)))
        .with("c", Data::F32(r.f32_vec(nn, -1.0, 1.0)));
    Ok(Inputs { size, seed, arrays })
}

type Matrices<'a> = (&'a [f32], &'a [f32], &'a [f32]);

fn matrices(inputs: &Inputs) -> Result<Matrices<'_>, InputError> {
    let nn = inputs.size * inputs.size;
    let a = inputs.arrays.f32s("a")?;
    let b = inputs.arrays.f32s("b")?;
    let c = inputs.arrays.f32s("c")?;
    check_len("a", a, nn)?;
    check_len("b", b, nn)?;
    check_len("c", c, nn)?;
    Ok((a, b, c))
}

fn run(
    kernel: &str,
    dev: &mut dyn Device,
    module: ModuleHandle,
    inputs: &Inputs,
) -> Result<Outputs, RunError> {
    let n = inputs.size;
    let (a, b, c) = matrices(inputs)?;
    let mut s = Session::new(dev, module);
    let da = s.upload(a)?;
    let db = s.upload(b)?;
    let dc = s.upload(c)?;
    let g = blocks(n, TILE);
    s.launch(
        kernel,
        grid2(g, g, TILE as u32, TILE as u32),
        &[
            A::Ptr(da.ptr),
            A::Ptr(db.ptr),
            A::Ptr(dc.ptr),
            int(n),
            int(n),
            int(n),
            A::F32(ALPHA),
            A::F32(BETA),
        ],
    )?;
    let out = s.read::<f32>(dc, n * n)?;
    Ok(s.finish(Arrays::new().with("c", Data::F32(out))))
}

/// `alpha * A * B + beta * C` with the k loop run to `k_padded >= n`, the padding
/// contributing `fma(0, 0, acc)` as the tiled kernel's zero-filled tiles do.
fn gemm_reference(a: &[f32], b: &[f32], c: &[f32], n: usize, k_padded: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; n * n];
    for row in 0..n {
        for col in 0..n {
            let mut acc = 0.0f32;
            for k in 0..k_padded {
                let (x, y) = if k < n {
                    (a[row * n + k], b[k * n + col])
                } else {
                    (0.0, 0.0)
                };
                acc = x.mul_add(y, acc);
            }
            out[row * n + col] = ALPHA.mul_add(acc, BETA * c[row * n + col]);
        }
    }
    out
}

impl Workload for GemmNaive {
    fn meta(&self) -> &'static Meta {
        &NAIVE
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Inputs, InputError> {
        generate(&NAIVE, size, seed)
    }
    fn run(
        &self,
        dev: &mut dyn Device,
        module: ModuleHandle,
        inputs: &Inputs,
    ) -> Result<Outputs, RunError> {
        run("gemm_naive", dev, module, inputs)
    }
    fn reference(&self, inputs: &Inputs) -> Result<Outputs, InputError> {
        let (a, b, c) = matrices(inputs)?;
        let out = gemm_reference(a, b, c, inputs.size, inputs.size);
        Ok(Outputs::from_arrays(
            Arrays::new().with("c", Data::F32(out)),
        ))
    }
}

impl Workload for GemmTiled {
    fn meta(&self) -> &'static Meta {
        &TILED
    }
    fn generate(&self, size: usize, seed: u64) -> Result<Inputs, InputError> {
        generate(&TILED, size, seed)
    }
    fn run(
        &self,
        dev: &mut dyn Device,
        module: ModuleHandle,
        inputs: &Inputs,
    ) -> Result<Outputs, RunError> {
        run("gemm_tiled", dev, module, inputs)
    }
    fn reference(&self, inputs: &Inputs) -> Result<Outputs, InputError> {
        let (a, b, c) = matrices(inputs)?;
        let n = inputs.size;
        let out = gemm_reference(a, b, c, n, n.div_ceil(TILE) * TILE);
        Ok(Outputs::from_arrays(
            Arrays::new().with("c", Data::F32(out)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(a: Vec<f32>, b: Vec<f32>, c: Vec<f32>, n: usize) -> Inputs {
        Inputs {
            size: n,
            seed: 0,
            arrays: Arrays::new()
                .with("a", Data::F32(a))
                .with("b", Data::F32(b))
                .with("c", Data::F32(c)),
        }
    }

    #[test]
    fn two_by_two_by_hand() {
        // A B = [[1*5+2*7, 1*6+2*8], [3*5+4*7, 3*6+4*8]] = [[19, 22], [43, 50]].
        let i = inputs(
            vec![1.0, 2.0, 3.0, 4.0],
            vec![5.0, 6.0, 7.0, 8.0],
            vec![4.0, 0.0, -4.0, 8.0],
            2,
        );
        let want = [
            1.5 * 19.0 - 3.0,
            1.5 * 22.0,
            1.5 * 43.0 + 3.0,
            1.5 * 50.0 - 6.0,
        ];
        for w in [&GemmNaive as &dyn Workload, &GemmTiled] {
            assert_eq!(w.reference(&i).unwrap().arrays.f32s("c").unwrap(), &want);
        }
    }

    #[test]
    fn zero_padding_does_not_change_the_product() {
        let i = GemmNaive.generate(19, 3).unwrap();
        let naive = GemmNaive.reference(&i).unwrap();
        let tiled = GemmTiled.reference(&i).unwrap();
        assert_eq!(naive.arrays, tiled.arrays);
    }
}

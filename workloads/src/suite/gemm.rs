//! Single-precision GEMM, naive and shared-memory tiled.

use gpu::KernelArg as A;
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, grid2, int, ptr, Session};
use crate::suite::Bundled;

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

const OUTPUTS: &[OutputSpec] = &[OutputSpec::exact(
    "c",
    DType::F32,
    "explicit fmaf chain in a fixed k order, mirrored with f32::mul_add",
)];

/// GEMM, naive (`Gemm<false>`) or tiled (`Gemm<true>`): one host driver and one
/// reference, the tiled kernel's zero-padded k loop the only difference.
pub(crate) struct Gemm<const TILED: bool>;

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

impl<const T: bool> Bundled for Gemm<T> {
    const META: &'static Meta = if T { &TILED } else { &NAIVE };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let nn = size * size;
        Arrays::new()
            .with("a", Data::F32(r.f32_vec(nn, -1.0, 1.0)))
            .with("b", Data::F32(r.f32_vec(nn, -1.0, 1.0)))
            .with("c", Data::F32(r.f32_vec(nn, -1.0, 1.0)))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let n = inputs.size;
        let (a, b, c) = matrices(inputs)?;
        let da = s.upload(a)?;
        let db = s.upload(b)?;
        let dc = s.upload(c)?;
        let g = blocks(n, TILE);
        s.launch(
            Self::META.kernels[0],
            grid2(g, g, TILE as u32, TILE as u32),
            &[
                ptr(da),
                ptr(db),
                ptr(dc),
                int(n),
                int(n),
                int(n),
                A::F32(ALPHA),
                A::F32(BETA),
            ],
        )?;
        let out = s.read::<f32>(dc, n * n)?;
        Ok(Arrays::new().with("c", Data::F32(out)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let (a, b, c) = matrices(inputs)?;
        let n = inputs.size;
        let k_padded = if T { n.div_ceil(TILE) * TILE } else { n };
        let out = gemm_reference(a, b, c, n, k_padded);
        Ok(Arrays::new().with("c", Data::F32(out)))
    }
}

type Matrices<'a> = (&'a [f32], &'a [f32], &'a [f32]);

fn matrices(inputs: &Inputs) -> Result<Matrices<'_>, InputError> {
    let nn = inputs.size * inputs.size;
    let a = inputs.arrays.f32s_of("a", nn)?;
    let b = inputs.arrays.f32s_of("b", nn)?;
    let c = inputs.arrays.f32s_of("c", nn)?;
    Ok((a, b, c))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::test_inputs;
    use crate::workload::Workload;

    fn inputs(a: Vec<f32>, b: Vec<f32>, c: Vec<f32>, n: usize) -> Inputs {
        test_inputs(
            n,
            Arrays::new()
                .with("a", Data::F32(a))
                .with("b", Data::F32(b))
                .with("c", Data::F32(c)),
        )
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
        let naive = Gemm::<false>.reference_arrays(&i).unwrap();
        let tiled = Gemm::<true>.reference_arrays(&i).unwrap();
        assert_eq!(naive.f32s("c").unwrap(), &want);
        assert_eq!(tiled.f32s("c").unwrap(), &want);
    }

    #[test]
    fn zero_padding_does_not_change_the_product() {
        let i = Gemm::<false>.generate(19, 3).unwrap();
        let naive = Gemm::<false>.reference_arrays(&i).unwrap();
        let tiled = Gemm::<true>.reference_arrays(&i).unwrap();
        assert_eq!(naive, tiled);
    }
}

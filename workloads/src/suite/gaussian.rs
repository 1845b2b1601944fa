//! Gaussian elimination (Rodinia's Fan1/Fan2).

use gpu::LaunchConfig;
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, grid2, int, ptr, Session};
use crate::suite::Bundled;

const FAN1_BLOCK: usize = 256;
const FAN2_TILE: usize = 16;

pub(crate) struct Gaussian;

const EXACT: &str = "one IEEE division or fmaf per update, in the order of the steps";

impl Bundled for Gaussian {
    const META: &'static Meta = &Meta {
        name: "gaussian",
        kind: Kind::DenseLinearAlgebra,
        description: "Gaussian elimination of A x = b without pivoting: per step a multiplier \
                      kernel and a 2-D trailing-update kernel, 2 (n - 1) launches",
        paper_analogue: "gaussian",
        kernels: &["gauss_fan1", "gauss_fan2"],
        size: SizeSpec {
            meaning: "matrix dimension n",
            default: 40,
            gpu: 2048,
            min: 1,
            max: 8192,
            multiple_of: 1,
        },
        stresses: &[Class::Fp32, Class::Load, Class::Store, Class::Control],
        outputs: &[
            OutputSpec::exact("a", DType::F32, EXACT),
            OutputSpec::exact("b", DType::F32, EXACT),
            OutputSpec::exact("m", DType::F32, EXACT),
        ],
        source: include_str!("../../kernels/gaussian.cu"),
        ptx: include_str!("../../ptx/gaussian.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let (a, b) = dominant_system(size, r);
        Arrays::new()
            .with("a", Data::F32(a))
            .with("b", Data::F32(b))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let (a, b) = system(inputs)?;
        let n = inputs.size;
        let da = s.upload(a)?;
        let db = s.upload(b)?;
        let dm = s.zeroed::<f32>(n * n)?;
        for t in 0..n.saturating_sub(1) {
            let rows = n - 1 - t;
            s.launch(
                "gauss_fan1",
                LaunchConfig::linear(blocks(rows, FAN1_BLOCK), FAN1_BLOCK as u32),
                &[ptr(da), ptr(dm), int(n), int(t)],
            )?;
            let cfg = grid2(
                blocks(n - t, FAN2_TILE),
                blocks(rows, FAN2_TILE),
                FAN2_TILE as u32,
                FAN2_TILE as u32,
            );
            s.launch(
                "gauss_fan2",
                cfg,
                &[ptr(da), ptr(db), ptr(dm), int(n), int(t)],
            )?;
        }
        let a = s.read::<f32>(da, n * n)?;
        let b = s.read::<f32>(db, n)?;
        let m = s.read::<f32>(dm, n * n)?;
        Ok(Arrays::new()
            .with("a", Data::F32(a))
            .with("b", Data::F32(b))
            .with("m", Data::F32(m)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let (a, b) = system(inputs)?;
        let n = inputs.size;
        let (mut a, mut b) = (a.to_vec(), b.to_vec());
        let mut m = vec![0.0f32; n * n];
        for t in 0..n.saturating_sub(1) {
            for row in t + 1..n {
                m[row * n + t] = a[row * n + t] / a[t * n + t];
            }
            for row in t + 1..n {
                let mult = m[row * n + t];
                for col in t..n {
                    a[row * n + col] = (-mult).mul_add(a[t * n + col], a[row * n + col]);
                }
                b[row] = (-mult).mul_add(b[t], b[row]);
            }
        }
        Ok(Arrays::new()
            .with("a", Data::F32(a))
            .with("b", Data::F32(b))
            .with("m", Data::F32(m)))
    }
}

/// A diagonally dominant `n x n` system (safe without pivoting) and its right-hand side.
pub(crate) fn dominant_system(n: usize, r: &mut Rng) -> (Vec<f32>, Vec<f32>) {
    let mut a = r.f32_vec(n * n, -1.0, 1.0);
    for i in 0..n {
        a[i * n + i] = n as f32 + r.f32_in(1.0, 2.0);
    }
    let b = r.f32_vec(n, -1.0, 1.0);
    (a, b)
}

fn system(inputs: &Inputs) -> Result<(&[f32], &[f32]), InputError> {
    let n = inputs.size;
    let a = inputs.arrays.f32s_of("a", n * n)?;
    let b = inputs.arrays.f32s_of("b", n)?;
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::test_inputs;
    use crate::workload::Workload;

    #[test]
    fn eliminates_a_two_by_two_system() {
        // [2 1; 4 5] x = [1; 2]: m = 2, row 1 becomes [0 3], b becomes [1; 0].
        let inputs = test_inputs(
            2,
            Arrays::new()
                .with("a", Data::F32(vec![2.0, 1.0, 4.0, 5.0]))
                .with("b", Data::F32(vec![1.0, 2.0])),
        );
        let out = Gaussian.reference_arrays(&inputs).unwrap();
        assert_eq!(out.f32s("a").unwrap(), &[2.0, 1.0, 0.0, 3.0]);
        assert_eq!(out.f32s("b").unwrap(), &[1.0, 0.0]);
        assert_eq!(out.f32s("m").unwrap(), &[0.0, 0.0, 2.0, 0.0]);
    }

    #[test]
    fn back_substitution_of_the_result_solves_the_system() {
        let inputs = Gaussian.generate(24, 5).unwrap();
        let (a0, b0) = system(&inputs).unwrap();
        let out = Gaussian.reference_arrays(&inputs).unwrap();
        let (u, y) = (out.f32s("a").unwrap(), out.f32s("b").unwrap());
        let n = 24;
        let mut x = vec![0.0f64; n];
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|j| f64::from(u[i * n + j]) * x[j]).sum();
            x[i] = (f64::from(y[i]) - s) / f64::from(u[i * n + i]);
        }
        for i in 0..n {
            let ax: f64 = (0..n).map(|j| f64::from(a0[i * n + j]) * x[j]).sum();
            assert!(
                (ax - f64::from(b0[i])).abs() < 1e-4,
                "row {i}: {ax} vs {}",
                b0[i]
            );
        }
    }
}

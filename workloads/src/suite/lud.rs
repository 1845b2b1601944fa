//! Blocked LU decomposition (Rodinia's diagonal / perimeter / internal kernels).

use gpu::LaunchConfig;
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{grid2, int, ptr, Session};
use crate::suite::gaussian::dominant_system;
use crate::suite::Bundled;

const BS: usize = 16;

pub(crate) struct Lud;

impl Bundled for Lud {
    const META: &'static Meta = &Meta {
        name: "lud",
        kind: Kind::DenseLinearAlgebra,
        description:
            "in-place blocked LU decomposition (16x16 tiles): per diagonal block a diagonal, \
                      a perimeter and an internal kernel with shared-memory tiles",
        paper_analogue: "lud",
        kernels: &["lud_diagonal", "lud_perimeter", "lud_internal"],
        size: SizeSpec {
            meaning: "matrix dimension n",
            default: 64,
            gpu: 2048,
            min: 16,
            max: 8192,
            multiple_of: 16,
        },
        stresses: &[Class::Fp32, Class::Barrier, Class::Load, Class::Store],
        outputs: &[OutputSpec::exact(
            "lu",
            DType::F32,
            "every element gets its divisions and fmaf updates in the order of the unblocked \
                  right-looking algorithm, which the reference runs",
        )],
        source: include_str!("../../kernels/lud.cu"),
        ptx: include_str!("../../ptx/lud.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let (a, _) = dominant_system(size, r);
        Arrays::new().with("a", Data::F32(a))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let a = matrix(inputs)?;
        let n = inputs.size;
        let tiles = n / BS;
        let da = s.upload(a)?;
        for d in 0..tiles {
            let args = [ptr(da), int(n), int(d * BS)];
            s.launch("lud_diagonal", LaunchConfig::linear(1, BS as u32), &args)?;
            let rest = (tiles - d - 1) as u32;
            if rest > 0 {
                s.launch(
                    "lud_perimeter",
                    LaunchConfig::linear(rest, 2 * BS as u32),
                    &args,
                )?;
                s.launch(
                    "lud_internal",
                    grid2(rest, rest, BS as u32, BS as u32),
                    &args,
                )?;
            }
        }
        let lu = s.read::<f32>(da, n * n)?;
        Ok(Arrays::new().with("lu", Data::F32(lu)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let n = inputs.size;
        let mut a = matrix(inputs)?.to_vec();
        for k in 0..n {
            for i in k + 1..n {
                let l = a[i * n + k] / a[k * n + k];
                a[i * n + k] = l;
                for j in k + 1..n {
                    a[i * n + j] = (-l).mul_add(a[k * n + j], a[i * n + j]);
                }
            }
        }
        Ok(Arrays::new().with("lu", Data::F32(a)))
    }
}

fn matrix(inputs: &Inputs) -> Result<&[f32], InputError> {
    Lud::META.size.check(Lud::META.name, inputs.size)?;
    inputs.arrays.f32s_of("a", inputs.size * inputs.size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    #[test]
    fn l_times_u_gives_back_a() {
        let n = 32;
        let inputs = Lud.generate(n, 2).unwrap();
        let a = matrix(&inputs).unwrap();
        let out = Lud.reference_arrays(&inputs).unwrap();
        let lu = out.f32s("lu").unwrap();
        for i in 0..n {
            for j in 0..n {
                let mut s = 0.0f64;
                for k in 0..=i.min(j) {
                    let l = if k == i {
                        1.0
                    } else {
                        f64::from(lu[i * n + k])
                    };
                    s += l * f64::from(lu[k * n + j]);
                }
                assert!((s - f64::from(a[i * n + j])).abs() < 1e-4, "({i},{j}): {s}");
            }
        }
    }

    #[test]
    fn rejects_sizes_that_are_not_tile_multiples() {
        assert!(matches!(
            Lud.generate(40, 0),
            Err(InputError::Size { size: 40, .. })
        ));
    }
}

//! Blocked LU decomposition (Rodinia's diagonal / perimeter / internal kernels).

use gpu::{Device, KernelArg as A, LaunchConfig, ModuleHandle};
use ptx::Class;

use crate::compare::Tolerance;
use crate::data::{check_len, Arrays, DType, Data, Inputs, Outputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::session::{grid2, int, Session};
use crate::suite::gaussian::dominant_system;
use crate::workload::Workload;

const BS: usize = 16;

pub(crate) struct Lud;

static META: Meta = Meta {
    name: "lud",
    kind: Kind::DenseLinearAlgebra,
    description: "in-place blocked LU decomposition (16x16 tiles): per diagonal block a diagonal, \
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
    outputs: &[OutputSpec {
        name: "lu",
        dtype: DType::F32,
        tolerance: Tolerance::Exact,
        why: "every element gets its divisions and fmaf updates in the order of the unblocked \
              right-looking algorithm, which the reference runs",
    }],
    source: include_str!("../../kernels/lud.cu"),
    ptx: include_str!("../../ptx/lud.ptx"),
};

impl Workload for Lud {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn generate(&self, size: usize, seed: u64) -> Result<Inputs, InputError> {
        META.size.check(META.name, size)?;
        let (a, _) = dominant_system(size, seed);
        Ok(Inputs {
            size,
            seed,
            arrays: Arrays::new().with("a", Data::F32(a)),
        })
    }

    fn run(
        &self,
        dev: &mut dyn Device,
        module: ModuleHandle,
        inputs: &Inputs,
    ) -> Result<Outputs, RunError> {
        let a = matrix(inputs)?;
        let n = inputs.size;
        let tiles = n / BS;
        let mut s = Session::new(dev, module);
        let da = s.upload(a)?;
        for d in 0..tiles {
            let args = [A::Ptr(da.ptr), int(n), int(d * BS)];
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
        Ok(s.finish(Arrays::new().with("lu", Data::F32(lu))))
    }

    fn reference(&self, inputs: &Inputs) -> Result<Outputs, InputError> {
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
        Ok(Outputs::from_arrays(Arrays::new().with("lu", Data::F32(a))))
    }
}

fn matrix(inputs: &Inputs) -> Result<&[f32], InputError> {
    META.size.check(META.name, inputs.size)?;
    let a = inputs.arrays.f32s("a")?;
    check_len("a", a, inputs.size * inputs.size)?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l_times_u_gives_back_a() {
        let n = 32;
        let inputs = Lud.generate(n, 2).unwrap();
        let a = matrix(&inputs).unwrap();
        let out = Lud.reference(&inputs).unwrap();
        let lu = out.arrays.f32s("lu").unwrap();
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

//! Vector addition.

use gpu::{Device, KernelArg as A, LaunchConfig, ModuleHandle};
use ptx::Class;

use crate::compare::Tolerance;
use crate::data::{check_len, Arrays, DType, Data, Inputs, Outputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, int, Session};
use crate::workload::Workload;

const BLOCK: usize = 256;
const MAX_GRID: usize = 1024;

pub(crate) struct VecAdd;

static META: Meta = Meta {
    name: "vecadd",
    kind: Kind::Streaming,
    description: "c = a + b over n floats, grid-stride loop",
    paper_analogue: "vector add",
    kernels: &["vecadd"],
    size: SizeSpec {
        meaning: "vector length n",
        default: 16_384,
        gpu: 1 << 24,
        min: 1,
        max: 1 << 26,
        multiple_of: 1,
    },
    stresses: &[Class::Load, Class::Store, Class::Fp32, Class::IntAlu],
    outputs: &[OutputSpec {
        name: "c",
        dtype: DType::F32,
        tolerance: Tolerance::Exact,
        why: "one IEEE add per element",
    }],
    source: include_str!("../../kernels/vecadd.cu"),
    ptx: include_str!("../../ptx/vecadd.ptx"),
};

impl Workload for VecAdd {
    fn meta(&self) -> &'static Meta {
        &META
    }

    fn generate(&self, size: usize, seed: u64) -> Result<Inputs, InputError> {
        META.size.check(META.name, size)?;
        let mut r = Rng::new(seed, 0);
        let a = r.f32_vec(size, -1.0, 1.0);
        let b = r.f32_vec(size, -1.0, 1.0);
        let arrays = Arrays::new()
            .with("a", Data::F32(a))
            .with("b", Data::F32(b));
        Ok(Inputs { size, seed, arrays })
    }

    fn run(
        &self,
        dev: &mut dyn Device,
        module: ModuleHandle,
        inputs: &Inputs,
    ) -> Result<Outputs, RunError> {
        let (a, b, n) = args(inputs)?;
        let mut s = Session::new(dev, module);
        let da = s.upload(a)?;
        let db = s.upload(b)?;
        let dc = s.zeroed::<f32>(n)?;
        let grid = blocks(n, BLOCK).min(MAX_GRID as u32);
        s.launch(
            "vecadd",
            LaunchConfig::linear(grid, BLOCK as u32),
            &[A::Ptr(da.ptr), A::Ptr(db.ptr), A::Ptr(dc.ptr), int(n)],
        )?;
        let c = s.read::<f32>(dc, n)?;
        Ok(s.finish(Arrays::new().with("c", Data::F32(c))))
    }

    fn reference(&self, inputs: &Inputs) -> Result<Outputs, InputError> {
        let (a, b, _) = args(inputs)?;
        let c = a.iter().zip(b).map(|(x, y)| x + y).collect();
        Ok(Outputs::from_arrays(Arrays::new().with("c", Data::F32(c))))
    }
}

fn args(inputs: &Inputs) -> Result<(&[f32], &[f32], usize), InputError> {
    let n = inputs.size;
    let a = inputs.arrays.f32s("a")?;
    let b = inputs.arrays.f32s("b")?;
    check_len("a", a, n)?;
    check_len("b", b, n)?;
    Ok((a, b, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_adds() {
        let inputs = Inputs {
            size: 3,
            seed: 0,
            arrays: Arrays::new()
                .with("a", Data::F32(vec![1.0, -2.5, 0.1]))
                .with("b", Data::F32(vec![2.0, 2.5, 0.2])),
        };
        let out = VecAdd.reference(&inputs).unwrap();
        assert_eq!(out.arrays.f32s("c").unwrap(), &[3.0, 0.0, 0.1f32 + 0.2f32]);
    }
}

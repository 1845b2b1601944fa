//! Vector addition.

use gpu::LaunchConfig;
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, int, ptr, Session};
use crate::suite::Bundled;

const BLOCK: usize = 256;
const MAX_GRID: usize = 1024;

pub(crate) struct VecAdd;

impl Bundled for VecAdd {
    const META: &'static Meta = &Meta {
        name: "vecadd",
        kind: Kind::Streaming,
        description: "c = a + b over n floats, grid-stride loop",
        paper_analogue: "vector add",
        kernels: &["vecadd"],
        size: SizeSpec::elements("vector length n", 16_384),
        stresses: &[Class::Load, Class::Store, Class::Fp32, Class::IntAlu],
        outputs: &[OutputSpec::exact(
            "c",
            DType::F32,
            "one IEEE add per element",
        )],
        source: include_str!("../../kernels/vecadd.cu"),
        ptx: include_str!("../../ptx/vecadd.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let a = r.f32_vec(size, -1.0, 1.0);
        let b = r.f32_vec(size, -1.0, 1.0);
        Arrays::new()
            .with("a", Data::F32(a))
            .with("b", Data::F32(b))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let (a, b, n) = args(inputs)?;
        let da = s.upload(a)?;
        let db = s.upload(b)?;
        let dc = s.zeroed::<f32>(n)?;
        let grid = blocks(n, BLOCK).min(MAX_GRID as u32);
        s.launch(
            "vecadd",
            LaunchConfig::linear(grid, BLOCK as u32),
            &[ptr(da), ptr(db), ptr(dc), int(n)],
        )?;
        let c = s.read::<f32>(dc, n)?;
        Ok(Arrays::new().with("c", Data::F32(c)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let (a, b, _) = args(inputs)?;
        let c = a.iter().zip(b).map(|(x, y)| x + y).collect();
        Ok(Arrays::new().with("c", Data::F32(c)))
    }
}

fn args(inputs: &Inputs) -> Result<(&[f32], &[f32], usize), InputError> {
    let n = inputs.size;
    let a = inputs.arrays.f32s_of("a", n)?;
    let b = inputs.arrays.f32s_of("b", n)?;
    Ok((a, b, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::test_inputs;

    #[test]
    fn reference_adds() {
        let inputs = test_inputs(
            3,
            Arrays::new()
                .with("a", Data::F32(vec![1.0, -2.5, 0.1]))
                .with("b", Data::F32(vec![2.0, 2.5, 0.2])),
        );
        let out = VecAdd.reference_arrays(&inputs).unwrap();
        assert_eq!(out.f32s("c").unwrap(), &[3.0, 0.0, 0.1f32 + 0.2f32]);
    }
}

//! HotSpot thermal stencil.

use gpu::KernelArg as A;
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, grid2, int, ptr, Session};
use crate::suite::Bundled;

const TB: usize = 16;
/// Time steps (one launch each).
const STEPS: usize = 8;
/// Step over heat capacity, and the inverse thermal resistances (north-south, east-west,
/// vertical); all exact binary fractions, stable: 0.5 (2 (0.125 + 0.125) + 0.25) < 1.
const STEP_DIV_CAP: f32 = 0.5;
const RX_INV: f32 = 0.125;
const RY_INV: f32 = 0.125;
const RZ_INV: f32 = 0.25;
const AMBIENT: f32 = 300.0;

pub(crate) struct Hotspot;

impl Bundled for Hotspot {
    const META: &'static Meta = &Meta {
        name: "hotspot",
        kind: Kind::Stencil,
        description: "8 explicit steps of a 5-point thermal stencil on an n x n grid with power \
                      input: 16x16 shared-memory tiles with halo loads by edge threads, \
                      replicated borders, ping-pong buffers",
        paper_analogue: "hotspot",
        kernels: &["hotspot_step"],
        size: SizeSpec {
            meaning: "grid side n (n x n cells)",
            default: 48,
            gpu: 4096,
            min: 1,
            max: 16_384,
            multiple_of: 1,
        },
        stresses: &[Class::Fp32, Class::Load, Class::Barrier, Class::Control],
        outputs: &[OutputSpec::exact(
            "temp",
            DType::F32,
            "the update is written as explicit fmaf and plain add/sub, mirrored in the reference",
        )],
        source: include_str!("../../kernels/hotspot.cu"),
        ptx: include_str!("../../ptx/hotspot.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let temp = r.f32_vec(size * size, 320.0, 340.0);
        // A few hot units on a low background.
        let mut power = r.f32_vec(size * size, 0.0, 0.5);
        for _ in 0..4 {
            let (cx, cy) = (r.below(size as u32) as usize, r.below(size as u32) as usize);
            for y in cy.saturating_sub(3)..(cy + 3).min(size) {
                for x in cx.saturating_sub(3)..(cx + 3).min(size) {
                    power[y * size + x] += 4.0;
                }
            }
        }
        Arrays::new()
            .with("temp", Data::F32(temp))
            .with("power", Data::F32(power))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let (temp, power) = grids(inputs)?;
        let n = inputs.size;
        let mut src = s.upload(temp)?;
        let mut dst = s.zeroed::<f32>(n * n)?;
        let dp = s.upload(power)?;
        let g = blocks(n, TB);
        for _ in 0..STEPS {
            s.launch(
                "hotspot_step",
                grid2(g, g, TB as u32, TB as u32),
                &[
                    ptr(src),
                    ptr(dp),
                    ptr(dst),
                    int(n),
                    int(n),
                    A::F32(STEP_DIV_CAP),
                    A::F32(RX_INV),
                    A::F32(RY_INV),
                    A::F32(RZ_INV),
                    A::F32(AMBIENT),
                ],
            )?;
            std::mem::swap(&mut src, &mut dst);
        }
        let out = s.read::<f32>(src, n * n)?;
        Ok(Arrays::new().with("temp", Data::F32(out)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let (temp, power) = grids(inputs)?;
        let n = inputs.size;
        let mut t = temp.to_vec();
        let mut next = vec![0.0f32; n * n];
        for _ in 0..STEPS {
            for r in 0..n {
                for c in 0..n {
                    let at = |rr: usize, cc: usize| t[rr * n + cc];
                    let center = at(r, c);
                    let north = at(r.saturating_sub(1), c);
                    let south = at((r + 1).min(n - 1), c);
                    let west = at(r, c.saturating_sub(1));
                    let east = at(r, (c + 1).min(n - 1));
                    let mut sum = (-2.0f32)
                        .mul_add(center, north + south)
                        .mul_add(RY_INV, power[r * n + c]);
                    sum = (-2.0f32).mul_add(center, east + west).mul_add(RX_INV, sum);
                    sum = (AMBIENT - center).mul_add(RZ_INV, sum);
                    next[r * n + c] = STEP_DIV_CAP.mul_add(sum, center);
                }
            }
            std::mem::swap(&mut t, &mut next);
        }
        Ok(Arrays::new().with("temp", Data::F32(t)))
    }
}

fn grids(inputs: &Inputs) -> Result<(&[f32], &[f32]), InputError> {
    let nn = inputs.size * inputs.size;
    let temp = inputs.arrays.f32s_of("temp", nn)?;
    let power = inputs.arrays.f32s_of("power", nn)?;
    Ok((temp, power))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::test_inputs;

    #[test]
    fn uniform_grid_relaxes_toward_ambient_plus_power() {
        // Uniform temperature and power: the stencil terms vanish, so each step moves T by
        // 0.5 * (p + 0.25 (300 - T)); the fixed point is T = 300 + 4 p.
        let n = 3;
        let inputs = test_inputs(
            n,
            Arrays::new()
                .with("temp", Data::F32(vec![310.0; n * n]))
                .with("power", Data::F32(vec![1.0; n * n])),
        );
        let out = Hotspot.reference_arrays(&inputs).unwrap();
        let mut want = 310.0f32;
        for _ in 0..STEPS {
            want += 0.5 * (1.0 + 0.25 * (300.0 - want));
        }
        for &t in out.f32s("temp").unwrap() {
            assert!((t - want).abs() < 1e-3, "{t} vs {want}");
        }
        assert!(want < 310.0 && want > 304.0);
    }
}

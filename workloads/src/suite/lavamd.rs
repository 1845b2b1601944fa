//! LavaMD-like particle interactions in double precision.

use gpu::{KernelArg as A, LaunchConfig};
use ptx::Class;

use crate::compare::Tolerance;
use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{int, ptr, Session};
use crate::suite::Bundled;

/// Particles per box.
const PAR: usize = 20;
const THREADS: u32 = 32;
/// `2 alpha^2` with `alpha = 0.5`.
const A2: f64 = 0.5;

pub(crate) struct LavaMd;

impl Bundled for LavaMd {
    const META: &'static Meta = &Meta {
        name: "lavamd",
        kind: Kind::NBody,
        description: "potential and force on each particle from the particles of its own and \
                      up to 26 neighbouring boxes (dim^3 boxes of 20), double precision with \
                      exp(), neighbour boxes staged in shared memory",
        paper_analogue: "lava",
        kernels: &["lavamd_forces"],
        size: SizeSpec {
            meaning: "boxes per dimension dim (dim^3 boxes of 20 particles)",
            default: 2,
            gpu: 24,
            min: 1,
            max: 64,
            multiple_of: 1,
        },
        stresses: &[Class::Fp64, Class::Load, Class::Barrier, Class::Control],
        outputs: &[OutputSpec {
            name: "forces",
            dtype: DType::F64,
            tolerance: Tolerance::Close {
                abs: 1e-10,
                rel: 1e-9,
            },
            why: "CUDA's exp(double) is accurate to about 1 ulp, not correctly rounded, so it can \
                  differ from the host's exp; the summation order is mirrored, so only those ulps \
                  accumulate (<< 1e-12 here)",
        }],
        source: include_str!("../../kernels/lavamd.cu"),
        ptx: include_str!("../../ptx/lavamd.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let boxes = size * size * size;
        let mut pos = Vec::with_capacity(boxes * PAR * 3);
        for b in 0..boxes {
            let corner = [b % size, (b / size) % size, b / (size * size)];
            for _ in 0..PAR {
                for c in corner {
                    pos.push(c as f64 + r.unit_f64());
                }
            }
        }
        let charge = (0..boxes * PAR).map(|_| 0.1 + 0.9 * r.unit_f64()).collect();
        Arrays::new()
            .with("pos", Data::F64(pos))
            .with("charge", Data::F64(charge))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let (pos, charge) = particles(inputs)?;
        let dim = inputs.size;
        let boxes = dim * dim * dim;
        let dp = s.upload(pos)?;
        let dq = s.upload(charge)?;
        let df = s.zeroed::<f64>(boxes * PAR * 4)?;
        s.launch(
            "lavamd_forces",
            LaunchConfig::linear(boxes as u32, THREADS),
            &[ptr(dp), ptr(dq), ptr(df), int(dim), A::F64(A2)],
        )?;
        let forces = s.read::<f64>(df, boxes * PAR * 4)?;
        Ok(Arrays::new().with("forces", Data::F64(forces)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let (pos, charge) = particles(inputs)?;
        let dim = inputs.size as i64;
        let boxes = (dim * dim * dim) as usize;
        let mut forces = vec![0.0f64; boxes * PAR * 4];
        for b in 0..boxes as i64 {
            let (bx, by, bz) = (b % dim, (b / dim) % dim, b / (dim * dim));
            for p in 0..PAR {
                let me = b as usize * PAR + p;
                let (xi, yi, zi) = (pos[me * 3], pos[me * 3 + 1], pos[me * 3 + 2]);
                let (mut fpot, mut fx, mut fy, mut fz) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
                for nb in 0..27 {
                    let (nx, ny, nz) = (bx + nb % 3 - 1, by + (nb / 3) % 3 - 1, bz + nb / 9 - 1);
                    if nx < 0 || ny < 0 || nz < 0 || nx >= dim || ny >= dim || nz >= dim {
                        continue;
                    }
                    let first = (((nz * dim + ny) * dim + nx) as usize) * PAR;
                    for j in first..first + PAR {
                        let dx = xi - pos[j * 3];
                        let dy = yi - pos[j * 3 + 1];
                        let dz = zi - pos[j * 3 + 2];
                        let r2 = dx.mul_add(dx, dy.mul_add(dy, dz * dz));
                        let vij = (-(A2 * r2)).exp();
                        let fs = 2.0 * vij;
                        let q = charge[j];
                        fpot = q.mul_add(vij, fpot);
                        fx = q.mul_add(fs * dx, fx);
                        fy = q.mul_add(fs * dy, fy);
                        fz = q.mul_add(fs * dz, fz);
                    }
                }
                forces[me * 4..me * 4 + 4].copy_from_slice(&[fpot, fx, fy, fz]);
            }
        }
        Ok(Arrays::new().with("forces", Data::F64(forces)))
    }
}

fn particles(inputs: &Inputs) -> Result<(&[f64], &[f64]), InputError> {
    let n = inputs.size.pow(3) * PAR;
    let pos = inputs.arrays.f64s_of("pos", n * 3)?;
    let charge = inputs.arrays.f64s_of("charge", n)?;
    Ok((pos, charge))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    #[test]
    fn forces_are_antisymmetric_for_equal_charges() {
        // One box: with all charges equal, the pairwise forces cancel (Newton's third
        // law), and a particle's self-term contributes q to its potential and 0 force.
        let mut inputs = LavaMd.generate(1, 3).unwrap();
        inputs.arrays.insert("charge", Data::F64(vec![0.5; PAR]));
        let out = LavaMd.reference_arrays(&inputs).unwrap();
        let f = out.f64s("forces").unwrap();
        for c in 1..4 {
            let total: f64 = (0..PAR).map(|p| f[p * 4 + c]).sum();
            assert!(total.abs() < 1e-12, "component {c}: {total}");
        }
        assert!((0..PAR).all(|p| f[p * 4] > 0.5 && f[p * 4] <= 0.5 * PAR as f64));
    }
}

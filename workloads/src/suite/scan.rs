//! Exclusive prefix sum (Blelloch), multi-level.

use gpu::{Buffer, GpuError, LaunchConfig};
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, int, ptr, Session};
use crate::suite::Bundled;

const THREADS: usize = 256;
const ELEMS: usize = 2 * THREADS;

pub(crate) struct Scan;

impl Bundled for Scan {
    const META: &'static Meta = &Meta {
        name: "scan",
        kind: Kind::Reduction,
        description:
            "exclusive prefix sum of n u32 (wrapping): per-block Blelloch up/down-sweep in \
                      shared memory, block totals scanned recursively, offsets added back",
        paper_analogue: "accl / quicksort building block",
        kernels: &["scan_blocks", "scan_add_offsets"],
        size: SizeSpec::elements("number of elements n", 20_000),
        stresses: &[Class::IntAlu, Class::Barrier, Class::Load, Class::Store],
        outputs: &[OutputSpec::exact(
            "out",
            DType::U32,
            "integer (wrapping) additions are exact in any order",
        )],
        source: include_str!("../../kernels/scan.cu"),
        ptx: include_str!("../../ptx/scan.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let x = (0..size).map(|_| r.below(1024)).collect();
        Arrays::new().with("x", Data::U32(x))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let x = input(inputs)?;
        let dx = s.upload(x)?;
        let dout = s.zeroed::<u32>(x.len())?;
        scan_level(s, dx, dout, x.len())?;
        let out = s.read::<u32>(dout, x.len())?;
        Ok(Arrays::new().with("out", Data::U32(out)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let x = input(inputs)?;
        let mut acc = 0u32;
        let out = x
            .iter()
            .map(|&v| {
                let before = acc;
                acc = acc.wrapping_add(v);
                before
            })
            .collect();
        Ok(Arrays::new().with("out", Data::U32(out)))
    }
}

/// Exclusive scan of `n` elements of `input` into `output`, recursing on block totals.
fn scan_level(
    s: &mut Session<'_>,
    input: Buffer,
    output: Buffer,
    n: usize,
) -> Result<(), GpuError> {
    let nb = blocks(n, ELEMS);
    let sums = s.zeroed::<u32>(nb as usize)?;
    let cfg = LaunchConfig::linear(nb, THREADS as u32);
    s.launch(
        "scan_blocks",
        cfg,
        &[ptr(input), ptr(output), ptr(sums), int(n)],
    )?;
    if nb > 1 {
        let offsets = s.zeroed::<u32>(nb as usize)?;
        scan_level(s, sums, offsets, nb as usize)?;
        s.launch(
            "scan_add_offsets",
            cfg,
            &[ptr(output), ptr(offsets), int(n)],
        )?;
    }
    Ok(())
}

fn input(inputs: &Inputs) -> Result<&[u32], InputError> {
    inputs.arrays.u32s_of("x", inputs.size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::test_inputs;

    #[test]
    fn exclusive_and_wrapping() {
        let x = vec![3, 1, u32::MAX, 2];
        let inputs = test_inputs(4, Arrays::new().with("x", Data::U32(x)));
        let out = Scan.reference_arrays(&inputs).unwrap();
        assert_eq!(out.u32s("out").unwrap(), &[0, 3, 4, 3]);
    }
}

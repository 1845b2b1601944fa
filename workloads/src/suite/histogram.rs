//! 256-bin histogram with shared and global atomics.

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
const BINS: usize = 256;

pub(crate) struct Histogram;

impl Bundled for Histogram {
    const META: &'static Meta = &Meta {
        name: "histogram",
        kind: Kind::Atomics,
        description:
            "256-bin histogram of 4n bytes: per-block shared-memory histogram with shared \
                      atomics, merged with global atomics",
        paper_analogue: "accl (atomics)",
        kernels: &["histogram256"],
        size: SizeSpec::elements("number of 32-bit words n (4 bytes each)", 16_384),
        stresses: &[Class::Atomic, Class::IntAlu, Class::Barrier, Class::Load],
        outputs: &[OutputSpec::exact(
            "hist",
            DType::U32,
            "integer atomic adds commute: the counts do not depend on their order",
        )],
        source: include_str!("../../kernels/histogram.cu"),
        ptx: include_str!("../../ptx/histogram.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        // Bell-shaped bytes around 128: the middle bins see heavy atomic contention.
        let mut byte = || (128.0 + 32.0 * r.normalish()).clamp(0.0, 255.0) as u32;
        let words = (0..size)
            .map(|_| byte() | byte() << 8 | byte() << 16 | byte() << 24)
            .collect();
        Arrays::new().with("words", Data::U32(words))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let words = input(inputs)?;
        let dw = s.upload(words)?;
        let dh = s.zeroed::<u32>(BINS)?;
        let grid = blocks(words.len(), BLOCK).min(MAX_GRID as u32);
        s.launch(
            "histogram256",
            LaunchConfig::linear(grid, BLOCK as u32),
            &[ptr(dw), ptr(dh), int(words.len())],
        )?;
        let hist = s.read::<u32>(dh, BINS)?;
        Ok(Arrays::new().with("hist", Data::U32(hist)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let words = input(inputs)?;
        let mut hist = vec![0u32; BINS];
        for w in words {
            for b in w.to_le_bytes() {
                hist[b as usize] += 1;
            }
        }
        Ok(Arrays::new().with("hist", Data::U32(hist)))
    }
}

fn input(inputs: &Inputs) -> Result<&[u32], InputError> {
    inputs.arrays.u32s_of("words", inputs.size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::test_inputs;

    #[test]
    fn counts_every_byte() {
        let inputs = test_inputs(
            2,
            Arrays::new().with("words", Data::U32(vec![0x0102_0301, 0xff00_0001])),
        );
        let out = Histogram.reference_arrays(&inputs).unwrap();
        let h = out.u32s("hist").unwrap();
        assert_eq!((h[0], h[1], h[2], h[3], h[255]), (2, 3, 1, 1, 1));
        assert_eq!(h.iter().sum::<u32>(), 8);
    }
}

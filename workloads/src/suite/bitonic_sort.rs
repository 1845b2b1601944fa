//! Bitonic sort with shared-memory and global stages.

use gpu::LaunchConfig;
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, int, ptr, Session};
use crate::suite::Bundled;

const CHUNK: usize = 1024;
const GLOBAL_BLOCK: usize = 256;

pub(crate) struct BitonicSort;

impl Bundled for BitonicSort {
    const META: &'static Meta = &Meta {
        name: "bitonic_sort",
        kind: Kind::Sort,
        description: "bitonic sort of n u32 keys (padded to a power of two with u32::MAX): \
                      shared-memory stages for partner distances below 1024, one launch per \
                      larger stage",
        paper_analogue: "mergesort",
        kernels: &[
            "bitonic_sort_shared",
            "bitonic_merge_global",
            "bitonic_merge_shared",
        ],
        size: SizeSpec::elements("number of keys n", 2048),
        stresses: &[Class::Compare, Class::IntAlu, Class::Barrier, Class::Load],
        outputs: &[OutputSpec::exact(
            "keys",
            DType::U32,
            "integer keys: the sorted sequence is unique",
        )],
        source: include_str!("../../kernels/bitonic_sort.cu"),
        ptx: include_str!("../../ptx/bitonic_sort.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        // Keys from a range of 4n values: some duplicates.
        let range = (4 * size).min(u32::MAX as usize) as u32;
        let keys = (0..size).map(|_| r.below(range)).collect();
        Arrays::new().with("keys", Data::U32(keys))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let keys = input(inputs)?;
        let n = keys.len();
        let padded = n.next_power_of_two().max(2);
        let mut data = keys.to_vec();
        data.resize(padded, u32::MAX);
        let dk = s.upload(&data)?;
        let chunk = padded.min(CHUNK);
        s.launch(
            "bitonic_sort_shared",
            LaunchConfig::linear((padded / chunk) as u32, (chunk / 2) as u32),
            &[ptr(dk), int(padded)],
        )?;
        let mut k = 2 * CHUNK;
        while k <= padded {
            let mut j = k / 2;
            while j >= CHUNK {
                s.launch(
                    "bitonic_merge_global",
                    LaunchConfig::linear(blocks(padded / 2, GLOBAL_BLOCK), GLOBAL_BLOCK as u32),
                    &[ptr(dk), int(padded), int(k), int(j)],
                )?;
                j /= 2;
            }
            s.launch(
                "bitonic_merge_shared",
                LaunchConfig::linear((padded / CHUNK) as u32, (CHUNK / 2) as u32),
                &[ptr(dk), int(k)],
            )?;
            k *= 2;
        }
        let sorted = s.read::<u32>(dk, n)?;
        Ok(Arrays::new().with("keys", Data::U32(sorted)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let mut keys = input(inputs)?.to_vec();
        keys.sort_unstable();
        Ok(Arrays::new().with("keys", Data::U32(keys)))
    }
}

fn input(inputs: &Inputs) -> Result<&[u32], InputError> {
    inputs.arrays.u32s_of("keys", inputs.size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::test_inputs;

    #[test]
    fn reference_sorts() {
        let inputs = test_inputs(
            5,
            Arrays::new().with("keys", Data::U32(vec![5, 1, 4, 1, 0])),
        );
        let out = BitonicSort.reference_arrays(&inputs).unwrap();
        assert_eq!(out.u32s("keys").unwrap(), &[0, 1, 1, 4, 5]);
    }
}

//! Host-driven GPU quicksort: partition passes, then small-segment insertion sorts.

use gpu::LaunchConfig;
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, int, ptr, Session};
use crate::suite::Bundled;

const THREADS: usize = 128;
const CHUNK: usize = 1024;
/// Segments of at most this many keys are finished by insertion sort.
const SMALL: usize = 96;
const SMALL_BLOCK: usize = 64;

pub(crate) struct Quicksort;

#[derive(Clone, Copy)]
struct Segment {
    start: usize,
    len: usize,
}

impl Bundled for Quicksort {
    const META: &'static Meta = &Meta {
        name: "quicksort",
        kind: Kind::Sort,
        description: "quicksort of n u32 keys: each pass partitions every open segment around \
                      a median-of-three pivot (ballot/popc counts, one global atomicAdd per \
                      block and side, warp-aggregated shared atomics for slots), the host splits \
                      segments from the counts it reads back, segments of <= 96 keys get a \
                      one-thread insertion sort",
        paper_analogue: "quicksort",
        kernels: &["qs_partition", "qs_writeback", "qs_small_sort"],
        size: SizeSpec::elements("number of keys n", 2048),
        stresses: &[Class::Warp, Class::Atomic, Class::Control, Class::Compare],
        outputs: &[OutputSpec::exact(
            "keys",
            DType::U32,
            "integer keys: the sorted sequence is unique, whatever order the atomics place \
             keys within a partition",
        )],
        source: include_str!("../../kernels/quicksort.cu"),
        ptx: include_str!("../../ptx/quicksort.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        // Keys from a range of n values: duplicates exercise the "equal to pivot" path.
        let keys = (0..size).map(|_| r.below(size as u32)).collect();
        Arrays::new().with("keys", Data::U32(keys))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let keys = input(inputs)?;
        let n = keys.len();
        let dk = s.upload(keys)?;
        let dtmp = s.zeroed::<u32>(n)?;
        let mut open = Vec::new();
        let mut small = Vec::new();
        classify(Segment { start: 0, len: n }, &mut open, &mut small);
        let mut passes = 0;
        while !open.is_empty() {
            // Every pass shrinks every open segment by at least its pivot.
            passes += 1;
            if passes > n {
                return Err(RunError::HostLoopLimit {
                    workload: Self::META.name,
                    what: "partition passes",
                    limit: n,
                });
            }
            let starts: Vec<i32> = open.iter().map(|g| g.start as i32).collect();
            let lens: Vec<i32> = open.iter().map(|g| g.len as i32).collect();
            let mut blk_seg = Vec::new();
            let mut blk_first = Vec::new();
            for (i, g) in open.iter().enumerate() {
                for first in (0..g.len).step_by(CHUNK) {
                    blk_seg.push(i as i32);
                    blk_first.push(first as i32);
                }
            }
            let d_start = s.upload(&starts)?;
            let d_len = s.upload(&lens)?;
            let d_lt = s.zeroed::<u32>(open.len())?;
            let d_gt = s.zeroed::<u32>(open.len())?;
            let d_pivot = s.zeroed::<u32>(open.len())?;
            let d_blk_seg = s.upload(&blk_seg)?;
            let d_blk_first = s.upload(&blk_first)?;
            let cfg = LaunchConfig::linear(blk_seg.len() as u32, THREADS as u32);
            let mut args = vec![ptr(dk), ptr(dtmp), ptr(d_start), ptr(d_len)];
            args.extend([
                ptr(d_lt),
                ptr(d_gt),
                ptr(d_pivot),
                ptr(d_blk_seg),
                ptr(d_blk_first),
            ]);
            s.launch("qs_partition", cfg, &args)?;
            s.launch("qs_writeback", cfg, &args)?;
            let lt = s.read::<u32>(d_lt, open.len())?;
            let gt = s.read::<u32>(d_gt, open.len())?;
            let mut next = Vec::new();
            for (i, g) in open.iter().enumerate() {
                let (l, h) = (lt[i] as usize, gt[i] as usize);
                // The pivot is one of the segment's keys, so at least one key equals it.
                if l + h >= g.len {
                    return Err(RunError::BadControlValue {
                        workload: Self::META.name,
                        what: "keys below plus above the pivot",
                        value: (l + h) as u64,
                    });
                }
                classify(
                    Segment {
                        start: g.start,
                        len: l,
                    },
                    &mut next,
                    &mut small,
                );
                classify(
                    Segment {
                        start: g.start + g.len - h,
                        len: h,
                    },
                    &mut next,
                    &mut small,
                );
            }
            open = next;
        }
        if !small.is_empty() {
            let starts: Vec<i32> = small.iter().map(|g| g.start as i32).collect();
            let lens: Vec<i32> = small.iter().map(|g| g.len as i32).collect();
            let d_start = s.upload(&starts)?;
            let d_len = s.upload(&lens)?;
            s.launch(
                "qs_small_sort",
                LaunchConfig::linear(blocks(small.len(), SMALL_BLOCK), SMALL_BLOCK as u32),
                &[ptr(dk), ptr(d_start), ptr(d_len), int(small.len())],
            )?;
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

/// Files a segment: more partitioning, an insertion sort, or nothing (0 or 1 keys).
fn classify(g: Segment, open: &mut Vec<Segment>, small: &mut Vec<Segment>) {
    if g.len > SMALL {
        open.push(g);
    } else if g.len > 1 {
        small.push(g);
    }
}

fn input(inputs: &Inputs) -> Result<&[u32], InputError> {
    inputs.arrays.u32s_of("keys", inputs.size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    #[test]
    fn segments_are_filed_by_length() {
        let (mut open, mut small) = (Vec::new(), Vec::new());
        for len in [0, 1, 2, SMALL, SMALL + 1] {
            classify(Segment { start: 0, len }, &mut open, &mut small);
        }
        assert_eq!(open.iter().map(|g| g.len).collect::<Vec<_>>(), [SMALL + 1]);
        assert_eq!(small.iter().map(|g| g.len).collect::<Vec<_>>(), [2, SMALL]);
    }

    #[test]
    fn reference_sorts_with_duplicates() {
        let inputs = Quicksort.generate(100, 1).unwrap();
        let out = Quicksort.reference_arrays(&inputs).unwrap();
        let k = out.u32s("keys").unwrap();
        assert!(k.windows(2).all(|w| w[0] <= w[1]));
        assert!(k.windows(2).any(|w| w[0] == w[1]));
    }
}

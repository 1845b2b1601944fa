//! Frontier-based breadth-first search.

use gpu::LaunchConfig;
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{blocks, int, ptr, Session};
use crate::suite::Bundled;

const BLOCK: usize = 256;
const MAX_DEGREE: u32 = 14;
const SOURCE: usize = 0;

pub(crate) struct Bfs;

impl Bundled for Bfs {
    const META: &'static Meta = &Meta {
        name: "bfs",
        kind: Kind::Graph,
        description: "level-synchronous BFS over a random CSR graph with a frontier queue: \
                      one launch per level, atomicCAS to claim vertices, atomicAdd to enqueue, \
                      host loop until the frontier is empty",
        paper_analogue: "bfs",
        kernels: &["bfs_init", "bfs_expand"],
        size: SizeSpec {
            meaning: "number of vertices n (out-degrees 1..=14)",
            default: 2048,
            gpu: 1 << 22,
            min: 1,
            max: 1 << 24,
            multiple_of: 1,
        },
        stresses: &[Class::Control, Class::Atomic, Class::Load, Class::Compare],
        outputs: &[
            OutputSpec::exact(
                "dist",
                DType::I32,
                "BFS levels are unique whatever order the atomics claim vertices in",
            ),
            OutputSpec::exact(
                "levels",
                DType::U32,
                "number of expand launches, an integer",
            ),
        ],
        source: include_str!("../../kernels/bfs.cu"),
        ptx: include_str!("../../ptx/bfs.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let n = size as u32;
        let mut row_ptr = Vec::with_capacity(size + 1);
        let mut cols = Vec::new();
        row_ptr.push(0i32);
        for u in 0..n {
            let degree = 1 + r.below(MAX_DEGREE);
            for _ in 0..degree {
                // Half the edges stay near u (long chains, many levels), half go anywhere.
                let v = if r.below(2) == 0 {
                    (u + 1 + r.below(8)) % n
                } else {
                    r.below(n)
                };
                cols.push(v as i32);
            }
            row_ptr.push(cols.len() as i32);
        }
        Arrays::new()
            .with("row_ptr", Data::I32(row_ptr))
            .with("cols", Data::I32(cols))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let (row_ptr, cols) = graph(inputs)?;
        let n = inputs.size;
        let d_row = s.upload(row_ptr)?;
        let d_cols = s.upload(cols)?;
        let d_dist = s.zeroed::<i32>(n)?;
        let mut frontier = s.zeroed::<i32>(n)?;
        let mut next = s.zeroed::<i32>(n)?;
        let d_len = s.zeroed::<u32>(1)?;
        s.launch(
            "bfs_init",
            LaunchConfig::linear(blocks(n, BLOCK), BLOCK as u32),
            &[ptr(d_dist), ptr(frontier), int(n), int(SOURCE)],
        )?;
        let mut len = 1usize;
        let mut level = 0usize;
        while len > 0 {
            // A correct run has at most n non-empty levels.
            if level >= n {
                return Err(RunError::HostLoopLimit {
                    workload: Self::META.name,
                    what: "BFS levels",
                    limit: n,
                });
            }
            s.write(d_len, &[0u32])?;
            s.launch(
                "bfs_expand",
                LaunchConfig::linear(blocks(len, BLOCK), BLOCK as u32),
                &[
                    ptr(d_row),
                    ptr(d_cols),
                    ptr(frontier),
                    int(len),
                    ptr(next),
                    ptr(d_len),
                    ptr(d_dist),
                    int(level),
                ],
            )?;
            let next_len = s.read::<u32>(d_len, 1)?[0];
            // Every vertex is enqueued at most once over the whole search.
            if next_len as usize > n {
                return Err(RunError::BadControlValue {
                    workload: Self::META.name,
                    what: "next frontier length",
                    value: u64::from(next_len),
                });
            }
            len = next_len as usize;
            std::mem::swap(&mut frontier, &mut next);
            level += 1;
        }
        let dist = s.read::<i32>(d_dist, n)?;
        Ok(Arrays::new()
            .with("dist", Data::I32(dist))
            .with("levels", Data::U32(vec![level as u32])))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let (row_ptr, cols) = graph(inputs)?;
        let n = inputs.size;
        let mut dist = vec![-1i32; n];
        dist[SOURCE] = 0;
        let mut frontier = vec![SOURCE];
        let mut levels = 0u32;
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for &u in &frontier {
                for &v in &cols[row_ptr[u] as usize..row_ptr[u + 1] as usize] {
                    if dist[v as usize] < 0 {
                        dist[v as usize] = levels as i32 + 1;
                        next.push(v as usize);
                    }
                }
            }
            frontier = next;
            levels += 1;
        }
        Ok(Arrays::new()
            .with("dist", Data::I32(dist))
            .with("levels", Data::U32(vec![levels])))
    }
}

fn graph(inputs: &Inputs) -> Result<(&[i32], &[i32]), InputError> {
    let n = inputs.size;
    let row_ptr = inputs.arrays.i32s_of("row_ptr", n + 1)?;
    let cols = inputs.arrays.i32s_of("cols", row_ptr[n].max(0) as usize)?;
    if row_ptr[0] != 0 || row_ptr.windows(2).any(|w| w[0] > w[1]) {
        return Err(InputError::Invalid {
            name: "row_ptr".into(),
            reason: "not non-decreasing from 0",
        });
    }
    if cols.iter().any(|&v| v < 0 || v as usize >= n) {
        return Err(InputError::Invalid {
            name: "cols".into(),
            reason: "vertex out of range",
        });
    }
    Ok((row_ptr, cols))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::test_inputs;
    use crate::workload::Workload;

    #[test]
    fn levels_of_a_small_graph() {
        // 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 0; vertex 4 is unreachable (4 -> 0).
        let inputs = test_inputs(
            5,
            Arrays::new()
                .with("row_ptr", Data::I32(vec![0, 2, 3, 4, 5, 6]))
                .with("cols", Data::I32(vec![1, 2, 3, 3, 0, 0])),
        );
        let out = Bfs.reference_arrays(&inputs).unwrap();
        assert_eq!(out.i32s("dist").unwrap(), &[0, 1, 1, 2, -1]);
        assert_eq!(out.u32s("levels").unwrap(), &[3]);
    }

    #[test]
    fn generated_graph_is_deep_enough_to_need_many_launches() {
        let inputs = Bfs.generate(2048, 9).unwrap();
        let out = Bfs.reference_arrays(&inputs).unwrap();
        assert!(out.u32s("levels").unwrap()[0] >= 5);
    }
}

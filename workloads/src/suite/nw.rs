//! Needleman-Wunsch global alignment over tile anti-diagonals.

use gpu::{KernelArg as A, LaunchConfig};
use ptx::Class;

use crate::data::{Arrays, DType, Data, Inputs};
use crate::error::{InputError, RunError};
use crate::meta::{Kind, Meta, OutputSpec, SizeSpec};
use crate::rng::Rng;
use crate::session::{int, ptr, Session};
use crate::suite::Bundled;

const BS: usize = 16;
const ALPHABET: usize = 24;
const PENALTY: i32 = 10;

pub(crate) struct Nw;

impl Bundled for Nw {
    const META: &'static Meta = &Meta {
        name: "nw",
        kind: Kind::DynamicProgramming,
        description:
            "Needleman-Wunsch alignment of two length-n sequences: 16x16 tiles along tile \
                      anti-diagonals (2 n/16 - 1 launches), cell anti-diagonals inside a tile with \
                      barriers and a growing then shrinking set of active lanes",
        paper_analogue: "nw",
        kernels: &["nw_upper", "nw_lower"],
        size: SizeSpec {
            meaning: "sequence length n",
            default: 160,
            gpu: 8192,
            min: 16,
            max: 16_384,
            multiple_of: 16,
        },
        stresses: &[Class::IntAlu, Class::Barrier, Class::Control, Class::Load],
        outputs: &[OutputSpec::exact(
            "score",
            DType::I32,
            "integer max/add recurrence",
        )],
        source: include_str!("../../kernels/nw.cu"),
        ptx: include_str!("../../ptx/nw.ptx"),
    };

    fn input_arrays(&self, size: usize, r: &mut Rng) -> Arrays {
        let mut seq = |n| {
            (0..n)
                .map(|_| r.below(ALPHABET as u32) as i32)
                .collect::<Vec<_>>()
        };
        let (seq1, seq2) = (seq(size), seq(size));
        // A symmetric BLOSUM-like substitution matrix: matches score 4..=11, mismatches -4..=4.
        let mut r = r.stream(1);
        let mut sub = vec![0i32; ALPHABET * ALPHABET];
        for i in 0..ALPHABET {
            for j in 0..=i {
                let v = if i == j {
                    4 + r.below(8) as i32
                } else {
                    r.below(9) as i32 - 4
                };
                sub[i * ALPHABET + j] = v;
                sub[j * ALPHABET + i] = v;
            }
        }
        Arrays::new()
            .with("seq1", Data::I32(seq1))
            .with("seq2", Data::I32(seq2))
            .with("sub", Data::I32(sub))
    }

    fn drive(&self, s: &mut Session<'_>, inputs: &Inputs) -> Result<Arrays, RunError> {
        let (seq1, seq2, sub) = sequences(inputs)?;
        let n = inputs.size;
        let tiles = n / BS;
        let d_score = s.upload(&initial_score(n))?;
        let d_seq1 = s.upload(seq1)?;
        let d_seq2 = s.upload(seq2)?;
        let d_sub = s.upload(sub)?;
        let args = |diag: usize| {
            [
                ptr(d_score),
                ptr(d_seq1),
                ptr(d_seq2),
                ptr(d_sub),
                int(n),
                int(diag),
                A::I32(PENALTY),
            ]
        };
        for diag in 0..tiles {
            let cfg = LaunchConfig::linear(diag as u32 + 1, BS as u32);
            s.launch("nw_upper", cfg, &args(diag))?;
        }
        for diag in 1..tiles {
            let cfg = LaunchConfig::linear((tiles - diag) as u32, BS as u32);
            s.launch("nw_lower", cfg, &args(diag))?;
        }
        let score = s.read::<i32>(d_score, (n + 1) * (n + 1))?;
        Ok(Arrays::new().with("score", Data::I32(score)))
    }

    fn reference_arrays(&self, inputs: &Inputs) -> Result<Arrays, InputError> {
        let (seq1, seq2, sub) = sequences(inputs)?;
        let n = inputs.size;
        let w = n + 1;
        let mut score = initial_score(n);
        for i in 1..=n {
            for j in 1..=n {
                let m = sub[seq1[i - 1] as usize * ALPHABET + seq2[j - 1] as usize];
                score[i * w + j] = (score[(i - 1) * w + j - 1] + m)
                    .max(score[(i - 1) * w + j] - PENALTY)
                    .max(score[i * w + j - 1] - PENALTY);
            }
        }
        Ok(Arrays::new().with("score", Data::I32(score)))
    }
}

/// The `(n + 1)^2` score matrix with its gap-penalty borders, as the host prepares it.
fn initial_score(n: usize) -> Vec<i32> {
    let w = n + 1;
    let mut score = vec![0i32; w * w];
    for i in 0..w {
        score[i * w] = -(i as i32) * PENALTY;
        score[i] = -(i as i32) * PENALTY;
    }
    score
}

type Sequences<'a> = (&'a [i32], &'a [i32], &'a [i32]);

fn sequences(inputs: &Inputs) -> Result<Sequences<'_>, InputError> {
    Nw::META.size.check(Nw::META.name, inputs.size)?;
    let seq1 = inputs.arrays.i32s_of("seq1", inputs.size)?;
    let seq2 = inputs.arrays.i32s_of("seq2", inputs.size)?;
    let sub = inputs.arrays.i32s_of("sub", ALPHABET * ALPHABET)?;
    for (name, s) in [("seq1", seq1), ("seq2", seq2)] {
        if s.iter().any(|&c| c < 0 || c as usize >= ALPHABET) {
            return Err(InputError::Invalid {
                name: name.into(),
                reason: "residue code out of range",
            });
        }
    }
    Ok((seq1, seq2, sub))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    #[test]
    fn identical_sequences_score_the_diagonal() {
        // With matches worth more than two gaps, aligning a sequence with itself takes the
        // diagonal: the final score is the sum of the match scores.
        let mut inputs = Nw.generate(16, 4).unwrap();
        let seq1 = inputs.arrays.i32s("seq1").unwrap().to_vec();
        inputs.arrays.insert("seq2", Data::I32(seq1.clone()));
        let sub = inputs.arrays.i32s("sub").unwrap().to_vec();
        let out = Nw.reference_arrays(&inputs).unwrap();
        let score = out.i32s("score").unwrap();
        let want: i32 = seq1
            .iter()
            .map(|&c| sub[c as usize * ALPHABET + c as usize])
            .sum();
        assert_eq!(score[17 * 17 - 1], want);
        assert_eq!(score[16], -160);
        assert_eq!(score[16 * 17], -160);
    }
}

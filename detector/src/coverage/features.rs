//! What a failing check's findings look like, in a few words a fault dictionary can
//! count: which kernels and record words disagreed, in how many lanes, and how kernels
//! failed. Stored with every coverage result (the `features` of a
//! [`reports::CoverageRecord`]).

use reports::check::{Evidence, Finding};

/// The features of `findings`, sorted, each once:
///
/// - `word:KERNEL/WORD`: the first disagreeing word of a finding (any SM, slot, lane);
/// - `lanes:KERNEL:1|some|all`: how many lanes of a warp disagreed in that kernel;
/// - `wrong:KERNEL/WORD`: any word that disagreed in a finding (its `disagreed` list);
/// - `wlanes:KERNEL/WORD:1|some|all`: in how many lanes of a warp that word disagreed;
/// - `xor:KERNEL/WORD:zero|neg|bit|small|other`: how its value differed in its lowest
///   lane — nothing written (`zero`), the top bit differs (`neg`: a value below zero
///   or a huge one, e.g. an identity read as another's), one bit (`bit`), a small
///   difference (`small`, below 64: an index off by a little), or anything else;
/// - `error:KERNEL:hang|trap|address|other`: how a kernel failed;
/// - `sms:1|some`: whether the findings name one SM or several.
pub fn features(findings: &[Finding]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut sms: Vec<u32> = Vec::new();
    for f in findings {
        match &f.evidence {
            Evidence::Signature {
                kernel,
                word,
                lanes,
                sm,
                disagreed,
                ..
            } => {
                out.push(format!("word:{kernel}/{word}"));
                out.push(format!("lanes:{kernel}:{}", how_many(*lanes)));
                for d in disagreed {
                    let w = &d.word;
                    out.push(format!("wrong:{kernel}/{w}"));
                    out.push(format!("wlanes:{kernel}/{w}:{}", how_many(d.lanes)));
                    out.push(format!(
                        "xor:{kernel}/{w}:{}",
                        xor_class(d.expected, d.actual)
                    ));
                }
                sms.push(*sm);
            }
            Evidence::KernelError {
                kernel, error, sm, ..
            } => {
                out.push(format!("error:{kernel}:{}", error_class(error)));
                sms.extend(sm);
            }
            Evidence::Rule { .. } => {}
        }
    }
    sms.sort_unstable();
    sms.dedup();
    match sms.len() {
        0 => {}
        1 => out.push("sms:1".into()),
        _ => out.push("sms:some".into()),
    }
    out.sort();
    out.dedup();
    out
}

/// `1`, `some` or `all` lanes of a warp.
fn how_many(lanes: u32) -> &'static str {
    match lanes.count_ones() {
        1 => "1",
        32 => "all",
        _ => "some",
    }
}

/// How `actual` differs from `expected`: `zero` (nothing written), `neg` (the top bit
/// differs), `bit` (one bit), `small` (below 64) or `other`.
fn xor_class(expected: u32, actual: u32) -> &'static str {
    let x = expected ^ actual;
    if actual == 0 {
        "zero"
    } else if x >= 1 << 31 {
        "neg"
    } else if x.count_ones() == 1 {
        "bit"
    } else if x < 64 {
        "small"
    } else {
        "other"
    }
}

/// `hang`, `trap` (illegal instruction, trap), `address` (illegal or misaligned
/// address) or `other`, from a device error's text.
fn error_class(error: &str) -> &'static str {
    let e = error.to_ascii_lowercase();
    if e.contains("hang") || e.contains("budget") || e.contains("deadlock") {
        "hang"
    } else if e.contains("illegal instruction") || e.contains("trap") {
        "trap"
    } else if e.contains("address") {
        "address"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reports::check::{Severity, WordDisagreement};

    fn sig(kernel: &str, word: &str, sm: u32, lanes: u32) -> Finding {
        Finding {
            severity: Severity::Faulty,
            evidence: Evidence::Signature {
                unit: "decode".into(),
                kernel: kernel.into(),
                sm,
                sp: 0,
                warp_slot: 0,
                lanes,
                word: word.into(),
                expected: 1,
                actual: 2,
                words: 1,
                majority: None,
                disagreed: Vec::new(),
            },
        }
    }

    #[test]
    fn findings_become_sorted_distinct_features() {
        let err = Finding {
            severity: Severity::Faulty,
            evidence: Evidence::KernelError {
                unit: "memory".into(),
                kernel: "sig_mem".into(),
                sm: Some(3),
                error: "illegal instruction at SM 3".into(),
            },
        };
        let f = features(&[
            sig("sig_alu", "alu.add", 3, 0x1),
            sig("sig_alu", "alu.add", 3, 0xffff_ffff),
            sig("sig_alu", "alu.mul", 3, 0x6),
            err,
        ]);
        assert_eq!(
            f,
            [
                "error:sig_mem:trap",
                "lanes:sig_alu:1",
                "lanes:sig_alu:all",
                "lanes:sig_alu:some",
                "sms:1",
                "word:sig_alu/alu.add",
                "word:sig_alu/alu.mul",
            ]
        );
        assert_eq!(
            features(&[sig("k", "w", 1, 1), sig("k", "w", 2, 1)])
                .last()
                .unwrap(),
            "word:k/w"
        );
        assert!(
            features(&[sig("k", "w", 1, 1), sig("k", "w", 2, 1)]).contains(&"sms:some".to_string())
        );
        assert_eq!(
            error_class("the kernel hung: instruction budget of 10 ran out"),
            "hang"
        );
        assert_eq!(error_class("misaligned address"), "address");
        assert_eq!(
            [
                xor_class(5, 0),
                xor_class(5, 5 | 1 << 31),
                xor_class(5, 4),
                xor_class(5, 2),
                xor_class(5, 5 ^ 0x300)
            ],
            ["zero", "neg", "bit", "small", "other"]
        );
    }

    #[test]
    fn every_disagreeing_word_brings_its_lanes_and_how_it_differed() {
        let mut f = sig("sig_ids", "tid.y", 3, 0xff);
        if let Evidence::Signature { disagreed, .. } = &mut f.evidence {
            *disagreed = vec![
                WordDisagreement {
                    word: "tid.y".into(),
                    lanes: 0xff,
                    expected: 1,
                    actual: 0x11,
                },
                WordDisagreement {
                    word: "ctaid.x".into(),
                    lanes: u32::MAX,
                    expected: 7,
                    actual: 0,
                },
            ];
        }
        let got = features(&[f]);
        for want in [
            "wrong:sig_ids/tid.y",
            "wlanes:sig_ids/tid.y:some",
            "xor:sig_ids/tid.y:bit",
            "wrong:sig_ids/ctaid.x",
            "wlanes:sig_ids/ctaid.x:all",
            "xor:sig_ids/ctaid.x:zero",
        ] {
            assert!(got.iter().any(|g| g == want), "{want} missing from {got:?}");
        }
        assert_eq!(error_class("launch failed"), "other");
    }
}

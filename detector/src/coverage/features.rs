//! What a failing check's findings look like, in a few words a fault dictionary can
//! count: which kernels and record words disagreed, in how many lanes, and how kernels
//! failed. Stored with every coverage result (the `features` of a
//! [`reports::CoverageRecord`]).

use reports::check::{Evidence, Finding};

/// The features of `findings`, sorted, each once:
///
/// - `word:KERNEL/WORD`: a signature word of a kernel disagreed (any SM, slot, lane);
/// - `lanes:KERNEL:1|some|all`: how many lanes of a warp disagreed in that kernel;
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
                ..
            } => {
                out.push(format!("word:{kernel}/{word}"));
                let n = match lanes.count_ones() {
                    1 => "1",
                    32 => "all",
                    _ => "some",
                };
                out.push(format!("lanes:{kernel}:{n}"));
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
    use reports::check::Severity;

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
        assert_eq!(error_class("launch failed"), "other");
    }
}

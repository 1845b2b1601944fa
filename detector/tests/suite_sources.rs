//! `sig_src` tells apart faults the other kernels show alike (issue 17, diagnosis): a
//! flipped parameter or constant-bank word (`ims`) shows in those words only, with the record in place
//! and in the faulty lanes only; a wrong register (`ira`) in its register chain only; a
//! flipped immediate or offset (`iio`) never leaves the record in place with the
//! parameter words alone wrong; thread ids corrupted in a subset of lanes (`iat`) break
//! the lane-uniformity words that the same fault on every lane (`iaw`) keeps.

mod suite_support;

use detector::SuiteRun;
use injector::FaultSpec;
use reports::check::Evidence;
use std::collections::BTreeSet;
use suite_support::check_faulty;

/// Per `sig_src` finding: its words and their lanes; and whether `sig_src` stopped.
fn src_findings(run: &SuiteRun) -> (Vec<Vec<(String, u32)>>, bool) {
    let mut words = Vec::new();
    let mut error = false;
    for f in &run.findings {
        match &f.evidence {
            Evidence::Signature {
                kernel, disagreed, ..
            } if kernel == "sig_src" => {
                words.push(
                    disagreed
                        .iter()
                        .map(|d| (d.word.clone(), d.lanes))
                        .collect(),
                );
            }
            Evidence::KernelError { kernel, .. } if kernel == "sig_src" => error = true,
            _ => {}
        }
    }
    (words, error)
}

fn run(spec: &str) -> (Vec<Vec<(String, u32)>>, bool) {
    let spec = FaultSpec::parse(spec).unwrap();
    let run = check_faulty("sim", &spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    assert!(!run.findings.is_empty(), "{spec} escaped");
    src_findings(&run)
}

fn names(found: &[Vec<(String, u32)>]) -> BTreeSet<String> {
    found.iter().flatten().map(|(w, _)| w.clone()).collect()
}

#[test]
fn a_flipped_parameter_shows_in_the_parameter_words_of_its_lanes_only() {
    for (mask, words) in [
        ("0x10", &["param.u32", "param.lo", "const"][..]),
        ("0x200000000", &["param.hi"][..]),
    ] {
        let (found, error) = run(&format!("ims:sm=1,sp=0,warps=0x1,lanes=0x5,mask={mask}"));
        assert!(!error && !found.is_empty(), "mask {mask}: {found:?}");
        let want: BTreeSet<String> = words.iter().map(|w| w.to_string()).collect();
        assert_eq!(names(&found), want, "mask {mask}");
        for (_, lanes) in found.iter().flatten() {
            assert_eq!(*lanes, 0x5, "mask {mask}: {found:?}");
        }
    }
}

#[test]
fn a_wrong_register_shows_in_the_register_chain_with_the_record_in_place() {
    for field in 0..4 {
        for bit in 0..2 {
            let (found, error) = run(&format!(
                "ira:sm=1,sp=1,warps=0x3,lanes=0xffffffff,field={field},bit={bit}"
            ));
            let words = names(&found);
            assert!(!error, "field {field} bit {bit}");
            assert!(
                !words.is_empty() && words.iter().all(|w| w.starts_with("reg.")),
                "field {field} bit {bit}: {words:?}"
            );
        }
    }
}

#[test]
fn a_flipped_immediate_displaces_the_record_or_stops_the_kernel() {
    for mask in ["0x1", "0x10", "0x100", "0x10000", "0x80000000"] {
        let (found, error) = run(&format!(
            "iio:sm=1,sp=2,warps=0x1,lanes=0xffffffff,mask={mask}"
        ));
        let words = names(&found);
        assert!(
            error || words.contains("ident") || words.contains("address"),
            "mask {mask}: {words:?}"
        );
    }
}

#[test]
fn thread_ids_wrong_in_some_lanes_break_the_lane_uniformity_that_all_lanes_keep() {
    for (dim, mask) in [("y", "0x1"), ("y", "0x2"), ("z", "0x4"), ("x", "0x8")] {
        let common = format!("sm=1,sp=3,warps=0x1,dim={dim},mask={mask},pol=xor");
        let (iat, _) = run(&format!("iat:{common},lanes=0x00ff00f0"));
        let (iaw, _) = run(&format!("iaw:{common},lanes=0xffffffff"));
        let uniformity = ["tid.yz.ballot", "tid.x.set"];
        assert!(
            uniformity.iter().any(|w| names(&iat).contains(*w)),
            "iat {dim} {mask}: {iat:?}"
        );
        assert!(
            uniformity.iter().all(|w| !names(&iaw).contains(*w)),
            "iaw {dim} {mask}: {iaw:?}"
        );
    }
}

//! Must-show test (c), short fuzzing in the test suite: byte- and token-level mutations
//! of real PTX (the corpus and the fixtures) never make the parser panic or hang; every
//! error lies inside the input; and whatever still parses prints to a fixed point.
//! (The long-running fuzzer is the cargo-fuzz target in `fuzz/`.)

mod common;

use proptest::prelude::*;
use std::sync::OnceLock;

fn sources() -> &'static [String] {
    static S: OnceLock<Vec<String>> = OnceLock::new();
    S.get_or_init(|| {
        let root = common::workspace();
        let mut v = Vec::new();
        for d in [
            "tests/corpus/zluda",
            "ptx/tests/fixtures/nvrtc",
            "ptx/tests/fixtures/clang",
        ] {
            for f in common::ptx_files(&root.join(d)) {
                v.push(std::fs::read_to_string(f).unwrap());
            }
        }
        v
    })
}

/// Characters that matter to the grammar, plus a few that start no token.
const INTERESTING: &[u8] = b"{}()[];:,.@!%<>+-|=_\"/*\n\t 0xfdU#~\\";

#[derive(Debug, Clone)]
enum Mutation {
    Delete {
        at: usize,
        len: usize,
    },
    Insert {
        at: usize,
        byte: u8,
    },
    Replace {
        at: usize,
        byte: u8,
    },
    /// Copy a slice of the input to another place (token-ish duplication).
    Splice {
        from: usize,
        len: usize,
        to: usize,
    },
    /// Cut the input short.
    Truncate {
        at: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![prop::sample::select(INTERESTING.to_vec()), any::<u8>()];
    prop_oneof![
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (any::<usize>(), byte.clone()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (any::<usize>(), byte).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
        (any::<usize>(), 1usize..80, any::<usize>()).prop_map(|(from, len, to)| Mutation::Splice {
            from,
            len,
            to
        }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(src: &mut Vec<u8>, m: &Mutation) {
    let n = src.len().max(1);
    match *m {
        Mutation::Delete { at, len } => {
            let a = at % n;
            let b = (a + len).min(src.len());
            src.drain(a.min(src.len())..b);
        }
        Mutation::Insert { at, byte } => src.insert(at % (src.len() + 1), byte),
        Mutation::Replace { at, byte } => {
            if !src.is_empty() {
                src[at % n] = byte;
            }
        }
        Mutation::Splice { from, len, to } => {
            let a = from % n;
            let b = (a + len).min(src.len());
            let piece = src[a.min(src.len())..b].to_vec();
            let t = to % (src.len() + 1);
            src.splice(t..t, piece);
        }
        Mutation::Truncate { at } => src.truncate(at % n),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_ptx_never_panics_and_round_trips(
        file in any::<prop::sample::Index>(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let srcs = sources();
        let mut bytes = srcs[file.index(srcs.len())].as_bytes().to_vec();
        for m in &muts {
            apply(&mut bytes, m);
        }
        let text = String::from_utf8_lossy(&bytes);
        let (module, errors) = ptx::parse_recovering(&text);
        let lines = text.lines().count() as u32 + 1;
        for e in &errors {
            prop_assert!(e.line >= 1 && e.line <= lines, "error outside the input: {e}");
            prop_assert!(e.col >= 1, "column 0: {e}");
            prop_assert!(!e.message.is_empty());
        }
        if errors.is_empty() {
            let printed = ptx::print(&module);
            let again = ptx::parse(&printed);
            prop_assert!(again.is_ok(), "printed form does not parse: {:?}\n{printed}", again.err());
            let printed2 = ptx::print(&again.unwrap());
            prop_assert!(printed2 == printed, "{}", common::first_difference(&printed, &printed2));
        }
    }
}

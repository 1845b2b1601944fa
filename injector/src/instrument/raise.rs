//! What a module must be to be instrumented, and what the pass raises.
//!
//! The instrumentation uses `activemask` (PTX ISA 6.2) and `vote.sync` with the
//! independent thread scheduling of sm_70. Older PTX — `.version 3.2` / `.target sm_52`,
//! as cudarc and Rust-CUDA emit — is raised to that minimum: every instruction of older
//! ISA versions keeps its meaning there, except `shfl` and `vote` without `.sync`, which
//! PTX ISA 6.4 and later refuses on sm_70 (the raise leaves the version at 6.2 for them,
//! and refuses a newer version that targets an older GPU and uses them). A module of
//! 32-bit addresses cannot be instrumented at all.

use super::{InstrumentError, COUNT_SYMBOL, DESC_SYMBOL};
use ptx::{Item, Module, Opcode};

/// The PTX ISA version the instrumentation needs.
const MIN_VERSION: (u32, u32) = (6, 2);
/// The GPU generation it needs (`sm_70`).
const MIN_SM: u32 = 70;
/// Why, in words.
const WHY: &str = "the instrumentation uses activemask and vote.sync";

/// The number of an `sm_NN` target word (`sm_90a` → 90).
fn sm_number(word: &str) -> Option<u32> {
    word.strip_prefix("sm_")?
        .trim_end_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .ok()
}

/// Checks that `m` can be instrumented and raises its `.version` and `.target` to the
/// minimum the instrumentation needs; says what it raised, in one sentence.
pub(super) fn raise(m: &mut Module) -> Result<Option<String>, InstrumentError> {
    let address_size = m.items.iter().find_map(|i| match i {
        Item::AddressSize(n) => Some(*n),
        _ => None,
    });
    if address_size != Some(64) {
        let what = match address_size {
            Some(n) => format!("the module uses `.address_size {n}`"),
            None => "the module has no `.address_size` (so 32-bit addresses)".into(),
        };
        return Err(InstrumentError::Unsupported {
            why: format!(
                "{what}, and the instrumentation reaches its fault descriptor and activation \
                 counter through 64-bit addresses: only `.address_size 64` modules can be \
                 instrumented"
            ),
        });
    }
    for g in m.globals() {
        for d in &g.names {
            if d.name == DESC_SYMBOL || d.name == COUNT_SYMBOL {
                return Err(InstrumentError::NameClash {
                    name: d.name.to_string(),
                });
            }
        }
    }
    let version = m.version();
    let target = m.target().map(str::to_string);
    let old_sm = target
        .as_deref()
        .and_then(sm_number)
        .filter(|&n| n < MIN_SM);
    if let (Some(sm), Some(v)) = (old_sm, version.filter(|&v| v >= (6, 4))) {
        if let Some(op) = unsynchronised_warp_op(m) {
            return Err(InstrumentError::Unsupported {
                why: format!(
                    "the module targets sm_{sm} and uses `{op}` without `.sync`, which PTX ISA \
                     {}.{} does not allow on sm_{MIN_SM}, the oldest target where {WHY}",
                    v.0, v.1
                ),
            });
        }
    }
    let mut raised = Vec::new();
    for item in &mut m.items {
        match item {
            Item::Version { major, minor } if (*major, *minor) < MIN_VERSION => {
                raised.push(format!(
                    ".version {major}.{minor} → {}.{}",
                    MIN_VERSION.0, MIN_VERSION.1
                ));
                (*major, *minor) = MIN_VERSION;
            }
            Item::Target(words) if old_sm.is_some() => {
                if let Some(w) = words.first_mut() {
                    let new = format!("sm_{MIN_SM}");
                    raised.push(format!(".target {w} → {new}"));
                    *w = new.into();
                }
            }
            _ => {}
        }
    }
    Ok((!raised.is_empty()).then(|| format!("raised {}: {WHY}", raised.join(" and "))))
}

/// The first `shfl` or `vote` without `.sync` in `m`, if any.
fn unsynchronised_warp_op(m: &Module) -> Option<String> {
    m.functions()
        .filter_map(|f| f.body.as_deref())
        .flat_map(|b| ptx::flatten(b).insts)
        .find(|i| matches!(i.opcode, Opcode::Shfl | Opcode::Vote) && !i.has_modifier("sync"))
        .map(|i| i.opcode.name().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(head: &str, body: &str) -> Module {
        ptx::parse(&format!(
            "{head}\n.visible .entry k()\n{{\n.reg .b32 %r<3>;\n{body}\nret;\n}}\n"
        ))
        .unwrap()
    }

    #[test]
    fn old_versions_and_targets_are_raised_and_said() {
        let mut m = module(".version 3.2\n.target sm_52\n.address_size 64", "");
        assert_eq!(
            raise(&mut m).unwrap().as_deref(),
            Some(
                "raised .version 3.2 → 6.2 and .target sm_52 → sm_70: the instrumentation \
                 uses activemask and vote.sync"
            )
        );
        assert_eq!((m.version(), m.target()), (Some((6, 2)), Some("sm_70")));
        let mut m = module(".version 7.0\n.target sm_60, debug\n.address_size 64", "");
        assert_eq!(
            raise(&mut m).unwrap().as_deref(),
            Some("raised .target sm_60 → sm_70: the instrumentation uses activemask and vote.sync")
        );
        assert!(ptx::print(&m).contains(".target sm_70, debug"));
        let mut m = module(".version 8.0\n.target sm_80\n.address_size 64", "");
        assert_eq!(raise(&mut m).unwrap(), None);
    }

    #[test]
    fn what_cannot_be_instrumented_says_why() {
        let mut m = module(".version 8.0\n.target sm_80\n.address_size 32", "");
        let e = raise(&mut m).unwrap_err().to_string();
        assert!(e.contains("`.address_size 32`"), "{e}");
        assert!(e.contains("only `.address_size 64` modules"), "{e}");
        let mut m = module(
            ".version 7.0\n.target sm_60\n.address_size 64",
            "shfl.down.b32 %r1, %r2, 1, 31;",
        );
        let e = raise(&mut m).unwrap_err().to_string();
        assert!(e.contains("uses `shfl` without `.sync`"), "{e}");
        // the same instruction in PTX 6.2 or older is raised (6.2 allows it on sm_70)
        let mut m = module(
            ".version 5.0\n.target sm_60\n.address_size 64",
            "shfl.down.b32 %r1, %r2, 1, 31;",
        );
        assert!(raise(&mut m).unwrap().is_some());
    }
}

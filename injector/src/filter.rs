//! Which sites a campaign draws its faults from, and how it weights them: instruction
//! groups (`--groups`), kernels (`--kernel`) and static or dynamic weighting
//! (`--site-weight`), as one plan parameter, [`SiteSelection`].
//!
//! ```text
//!   profiled sites of (subject, model) ──► keep: kernel matches ∧ group matches ──► draw
//!                                           (wdrop: kernel only)          static: uniform
//!                                                                          dynamic: ∝ thread-instructions
//! ```
//!
//! A permanent fault has no single instruction: it acts wherever its model's code runs in
//! the selected lanes of the selected warps (every read of `%tid.x` for `iat`, every
//! instruction of one opcode group for `fu`/`ioc`/`ir`). The selection restricts the
//! site a fault is *drawn at*, and so its SM, warp slots, lanes and the parameters taken
//! from the site (dimension, value width, opcode group, variant, space). For `fu`,
//! `ioc` and `ir`, whose fault is one opcode group, and an opcode group lies in one
//! instruction group, that confines the fault to the selected groups; for the other
//! models it selects where the fault is placed, while the fault stays permanent (a
//! kernel outside the selection that runs on the faulty warp slots sees it too, as it
//! would on hardware). `docs/campaigns.md` has the table per model.

use crate::groups::{group_of, InstGroup};
use crate::instrument::Site;
use crate::model::Model;
use crate::sample::SiteProfile;
use ptx::{FunctionKind, Module, Operand};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How sites are weighted when a fault's site is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteWeight {
    /// Every exercised site equally likely (`static`, the default).
    #[default]
    Static,
    /// A site with probability proportional to the thread-instructions the profiled run
    /// executed at it (`dynamic`): NVBitFI's draw of one dynamic thread-level
    /// instruction, so hot sites (loop bodies) get most faults.
    Dynamic,
}

impl SiteWeight {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            SiteWeight::Static => "static",
            SiteWeight::Dynamic => "dynamic",
        }
    }

    fn is_static(&self) -> bool {
        *self == SiteWeight::Static
    }
}

/// The site selection of a campaign: a plan parameter, stored in the configuration,
/// hashed into the plan hash and shown in every report's header. The default (every
/// group, every kernel, static weight) is absent from the stored configuration, so
/// campaigns from before it read, hash and draw unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteSelection {
    /// Instruction groups whose instructions faults are drawn at; empty: every group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<InstGroup>,
    /// Kernel names or globs (`*`, `?`) whose sites (and the sites of the device
    /// functions they call) faults are drawn at; empty: every kernel.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kernels: Vec<String>,
    /// How sites are weighted.
    #[serde(default, skip_serializing_if = "SiteWeight::is_static")]
    pub weight: SiteWeight,
    /// A cell left without a site by the groups or kernels is planned with no
    /// injection and a note, instead of being an error (`--allow-empty-cells`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_empty: bool,
}

impl SiteSelection {
    /// Whether this is the default selection (every site, static weight).
    pub fn is_default(&self) -> bool {
        *self == SiteSelection::default()
    }

    /// Whether groups or kernels restrict the sites.
    pub fn filters(&self) -> bool {
        !self.groups.is_empty() || !self.kernels.is_empty()
    }

    fn groups_text(&self) -> String {
        names(self.groups.iter())
    }
}

fn names<T: fmt::Display>(it: impl Iterator<Item = T>) -> String {
    it.map(|g| g.to_string()).collect::<Vec<_>>().join(",")
}

impl fmt::Display for SiteSelection {
    /// `groups FP32,LD; kernels bfs_*; dynamic weight`, or `every site, static weight`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.groups.is_empty() {
            parts.push(format!("groups {}", self.groups_text()));
        }
        if !self.kernels.is_empty() {
            parts.push(format!("kernels {}", self.kernels.join(",")));
        }
        if parts.is_empty() {
            parts.push("every site".into());
        }
        parts.push(format!("{} weight", self.weight.name()));
        if self.allow_empty {
            parts.push("empty cells allowed".into());
        }
        f.write_str(&parts.join("; "))
    }
}

/// Why a selection cannot be applied to a subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectionError {
    /// No kernel of the subject matches `--kernel`.
    #[error("--kernel {wanted}: `{subject}` has no such kernel (its kernels: {known})")]
    Kernel {
        /// The subject.
        subject: String,
        /// The names or globs given.
        wanted: String,
        /// The subject's kernels.
        known: String,
    },
    /// No site of the model is left in the subject after the selection.
    #[error("{flag}: `{subject}` has no {model} site in {selection} (its {model} sites are in: {present}); --allow-empty-cells plans such cells with no injection")]
    Empty {
        /// The flag that emptied the cell (`--groups`, `--kernel`).
        flag: &'static str,
        /// The subject.
        subject: String,
        /// The model.
        model: Model,
        /// What was selected (`groups FP64`, `kernels k1`).
        selection: String,
        /// Where the model's sites are (groups, or kernels).
        present: String,
    },
}

/// `name` matches `pattern`: equal, or a glob where `*` is any run of characters and
/// `?` any one.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|k| go(rest, &n[k..])),
            Some((&c, rest)) => n
                .split_first()
                .is_some_and(|(&d, nrest)| (c == '?' || c == d) && go(rest, nrest)),
        }
    }
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    go(&p, &n)
}

/// The kernels (`.entry` functions with a body) of a module, in source order.
pub fn kernels_of(module: &Module) -> Vec<String> {
    module
        .functions()
        .filter(|f| f.kind == FunctionKind::Entry && f.body.is_some())
        .map(|f| f.name.to_string())
        .collect()
}

/// For every function with a body, the kernels that reach it through calls (a kernel
/// reaches itself).
pub fn callers(module: &Module) -> BTreeMap<String, BTreeSet<String>> {
    let defined: BTreeSet<&str> = module
        .functions()
        .filter(|f| f.body.is_some())
        .map(|f| f.name.as_str())
        .collect();
    let calls: BTreeMap<&str, Vec<&str>> = module
        .functions()
        .filter_map(|f| Some((f.name.as_str(), f.body.as_ref()?)))
        .map(|(name, body)| {
            let mut callees = Vec::new();
            for i in ptx::flatten(body).insts {
                if i.opcode != ptx::Opcode::Call {
                    continue;
                }
                for o in &i.operands {
                    if let Operand::Name { name, .. } = o {
                        if let Some(&d) = defined.get(name.as_str()) {
                            callees.push(d);
                        }
                    }
                }
            }
            (name, callees)
        })
        .collect();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for k in kernels_of(module) {
        let mut stack = vec![k.as_str()];
        let mut seen = BTreeSet::new();
        while let Some(f) = stack.pop() {
            if !seen.insert(f) {
                continue;
            }
            out.entry(f.to_string()).or_default().insert(k.clone());
            stack.extend(calls.get(f).into_iter().flatten().copied());
        }
    }
    out
}

/// The kernel label of faults not tied to a site ([`kernel_of_site`]).
pub const ALL_KERNELS: &str = "(all kernels)";

/// The kernel a fault drawn at `site` of `model` belongs to in a per-kernel breakdown:
/// the site's kernel, or the kernels that call the device function holding it (joined
/// by `,`); [`ALL_KERNELS`] for `wdrop`, whose fault is not tied to a site (its warps
/// never run, in every kernel; its one site per kernel only places it).
pub fn kernel_of_site(
    model: Model,
    site: &Site,
    callers: &BTreeMap<String, BTreeSet<String>>,
) -> String {
    if model == Model::Wdrop {
        return ALL_KERNELS.into();
    }
    match callers.get(&site.function) {
        Some(ks) if !ks.is_empty() => names(ks.iter()),
        _ => site.function.clone(),
    }
}

/// The base group of every site of `sites`, from the module the sites were found in.
fn site_groups(module: &Module, sites: &[&Site]) -> Vec<Option<InstGroup>> {
    let mut flat = BTreeMap::new();
    for f in module.functions() {
        if let Some(body) = &f.body {
            flat.insert(f.name.as_str(), ptx::flatten(body).insts);
        }
    }
    sites
        .iter()
        .map(|s| {
            let inst = flat.get(s.function.as_str())?.get(s.index)?;
            Some(group_of(inst))
        })
        .collect()
}

/// Restricts `profile` (of `subject`, whose module is `module`) to the sites `sel`
/// selects. The group filter does not apply to `wdrop`, whose one site per kernel
/// stands for the whole warp. An error when no kernel of the subject matches, or when
/// sites of the model existed and none is left — unless `sel.allow_empty`, which
/// returns the empty profile (the plan notes why).
pub fn restrict(
    sel: &SiteSelection,
    subject: &str,
    module: &Module,
    mut profile: SiteProfile,
) -> Result<SiteProfile, SelectionError> {
    if !sel.filters() {
        return Ok(profile);
    }
    let model = profile.model;
    let callers = callers(module);
    if !sel.kernels.is_empty() {
        let kernels = kernels_of(module);
        let any = kernels
            .iter()
            .any(|k| sel.kernels.iter().any(|p| glob_match(p, k)));
        if !any && !sel.allow_empty {
            return Err(SelectionError::Kernel {
                subject: subject.into(),
                wanted: sel.kernels.join(","),
                known: kernels.join(", "),
            });
        }
    }
    let in_kernels = |s: &Site| {
        sel.kernels.is_empty()
            || callers
                .get(&s.function)
                .into_iter()
                .flatten()
                .chain(std::iter::once(&s.function))
                .any(|k| sel.kernels.iter().any(|p| glob_match(p, k)))
    };
    let before: Vec<&Site> = profile.sites.iter().map(|s| &s.site).collect();
    let groups = site_groups(module, &before);
    let use_groups = !sel.groups.is_empty() && model != Model::Wdrop;
    let keep: Vec<bool> = before
        .iter()
        .zip(&groups)
        .map(|(s, g)| {
            in_kernels(s)
                && (!use_groups || g.is_some_and(|g| sel.groups.iter().any(|w| w.contains(g))))
        })
        .collect();
    if !before.is_empty() && !keep.iter().any(|&k| k) && !sel.allow_empty {
        let by_kernel = before.iter().any(|s| in_kernels(s));
        return Err(if !by_kernel {
            let present: BTreeSet<String> = before
                .iter()
                .flat_map(|s| {
                    callers
                        .get(&s.function)
                        .cloned()
                        .unwrap_or_else(|| BTreeSet::from([s.function.clone()]))
                })
                .collect();
            SelectionError::Empty {
                flag: "--kernel",
                subject: subject.into(),
                model,
                selection: format!("kernels {}", sel.kernels.join(",")),
                present: names(present.iter()),
            }
        } else {
            // the groups of the model's sites in the selected kernels
            let present: BTreeSet<InstGroup> = before
                .iter()
                .zip(&groups)
                .filter(|(s, _)| in_kernels(s))
                .filter_map(|(_, g)| *g)
                .collect();
            SelectionError::Empty {
                flag: "--groups",
                subject: subject.into(),
                model,
                selection: format!("groups {}", sel.groups_text()),
                present: names(present.iter()),
            }
        });
    }
    let mut k = keep.into_iter();
    profile.sites.retain(|_| k.next().unwrap_or(false));
    Ok(profile)
}

/// Parses `--groups`: comma-separated NVBitFI group names, in either case; duplicates
/// dropped.
pub fn parse_groups(text: &str) -> Result<Vec<InstGroup>, crate::groups::GroupError> {
    let mut out = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let g: InstGroup = name.parse()?;
        if !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        assert!(glob_match("bfs_expand", "bfs_expand"));
        assert!(glob_match("bfs_*", "bfs_expand"));
        assert!(glob_match("*", "k"));
        assert!(glob_match("m?p_*", "mlp_loss_mean"));
        assert!(!glob_match("bfs", "bfs_expand"));
        assert!(!glob_match("bfs_?", "bfs_expand"));
        assert!(!glob_match("*x", "bfs_expand"));
    }

    #[test]
    fn selections_print_and_store_only_what_differs_from_the_default() {
        let d = SiteSelection::default();
        assert_eq!(d.to_string(), "every site; static weight");
        assert_eq!(serde_json::to_string(&d).unwrap(), "{}");
        let s = SiteSelection {
            groups: parse_groups("fp32, LD,fp32").unwrap(),
            kernels: vec!["bfs_*".into()],
            weight: SiteWeight::Dynamic,
            allow_empty: true,
        };
        assert_eq!(
            s.to_string(),
            "groups FP32,LD; kernels bfs_*; dynamic weight; empty cells allowed"
        );
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"groups":["FP32","LD"],"kernels":["bfs_*"],"weight":"dynamic","allow_empty":true}"#
        );
        assert_eq!(serde_json::from_str::<SiteSelection>(&json).unwrap(), s);
        assert!(parse_groups("FP32,FP16").is_err());
    }

    const CALLS: &str = ".version 8.8\n.target sm_80\n.address_size 64\n\
        .func (.reg .f32 r) helper(.reg .f32 a)\n{\nadd.f32 r, a, a;\nret;\n}\n\
        .func leaf()\n{\nret;\n}\n\
        .visible .entry ka(.param .u64 p)\n{\n.reg .f32 %f<3>;\nmov.f32 %f1, 0f3F800000;\ncall (%f2), helper, (%f1);\nret;\n}\n\
        .visible .entry kb()\n{\nret;\n}\n";

    #[test]
    fn device_functions_belong_to_the_kernels_that_call_them() {
        let m = ptx::parse(CALLS).unwrap();
        assert_eq!(kernels_of(&m), ["ka", "kb"]);
        let c = callers(&m);
        assert_eq!(c["helper"], BTreeSet::from(["ka".to_string()]));
        assert_eq!(c["kb"], BTreeSet::from(["kb".to_string()]));
        assert!(!c.contains_key("leaf"), "no kernel calls leaf");
    }
}

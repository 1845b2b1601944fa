//! Campaign subjects: what an injection runs.
//!
//! The campaign engine (plan, run, judge, store, resume, shards, merge) and single
//! injections ([`crate::Target`]) know the program they inject into only through the
//! [`Subject`] trait: one PTX module, a host program that runs it on any device with a
//! module handle the caller loaded (the PTX itself or an instrumented copy), and a
//! judgement of a run against the fault-free one. Implementations:
//!
//! - [`WorkloadSubject`]: a bundled workload with its seeded inputs of one size;
//! - [`KernelSubject`](crate::KernelSubject): any kernel described by a TOML manifest;
//! - higher crates add their own (the health check's signature suite) without touching
//!   this crate or the workloads crate, and register them with a
//!   [`SubjectSource`] so stored campaigns can be resumed.
//!
//! A subject is built once per campaign (inputs generated, code compiled) and shared by
//! every worker thread.

use gpu::{Device, ModuleHandle};
use reports::Outcome;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use workloads::{Comparison, Inputs, Outputs, RunError, Tolerance, Verdict, Workload};

/// What identifies a subject in a campaign store: its kind, its name (unique within a
/// campaign: the store's key) and a digest of everything its results depend on, so a
/// changed subject cannot be resumed into an old plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectRef {
    /// `workload`, `kernel`, or a kind a higher crate registers.
    pub kind: String,
    /// The name results are stored under.
    pub name: String,
    /// Where it was loaded from (a manifest path), when it came from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Hex SHA-256 of what the results depend on (code, inputs, comparison).
    pub digest: String,
}

/// A program a campaign can run, check and inject into.
pub trait Subject: Send + Sync {
    /// Kind, name, source and digest.
    fn id(&self) -> &SubjectRef;

    /// The subject's (uninstrumented) PTX module.
    fn ptx(&self) -> &str;

    /// The problem size, where the subject has one (bundled workloads).
    fn size(&self) -> Option<usize> {
        None
    }

    /// Runs the host program: uploads the inputs, launches the kernels of `module` in
    /// order and reads the outputs back. Frees what it allocated, also on error.
    fn run(&self, dev: &mut dyn Device, module: ModuleHandle) -> Result<Outputs, RunError>;

    /// Checks a fault-free run against the subject's own reference (a bundled
    /// workload's CPU reference, a manifest's reference files) within its documented
    /// tolerance; `None` when it has none, `Some(Err)` when the reference cannot be
    /// computed.
    fn check_reference(&self, got: &Outputs) -> Option<Result<Comparison, String>> {
        let _ = got;
        None
    }

    /// Compares two outputs within the subject's documented tolerance (bit for bit
    /// unless it has one): a run on one device with a run on another.
    fn compare_reference(&self, reference: &Outputs, got: &Outputs) -> Comparison {
        self.compare_golden(reference, got)
    }

    /// Compares a run with the fault-free (golden) run of the same code on the same
    /// device; bit for bit unless the subject defines a tolerance.
    fn compare_golden(&self, golden: &Outputs, got: &Outputs) -> Comparison {
        workloads::compare_arrays(&golden.arrays, &got.arrays, |_| Tolerance::Exact)
    }

    /// The detector a coverage campaign measures, when the subject is one (the health
    /// check's signature suite, `detector` crate); `None` for programs.
    fn probe(&self) -> Option<&dyn CoverageProbe> {
        None
    }

    /// The outcome of a run that completed: not activated (the counter read 0 and the
    /// outputs agree), masked (agree), or an SDC with its magnitude.
    fn judge(
        &self,
        golden: &Outputs,
        got: &Outputs,
        activations: Option<u64>,
        slow: bool,
    ) -> Outcome {
        let cmp = self.compare_golden(golden, got);
        if cmp.verdict == Verdict::Different {
            Outcome::Sdc {
                magnitude: cmp.magnitude,
            }
        } else if activations == Some(0) {
            Outcome::NotActivated
        } else {
            Outcome::Masked { slow }
        }
    }
}

/// A detector measured by a coverage campaign: what it makes of one faulty GPU.
pub trait CoverageProbe: Send + Sync {
    /// Runs the detector on `device` of `platform`, a virtual GPU that carries `row`'s
    /// fault and schedules with `scheduling_seed` ([`crate::faulty_gpu`]), and says what
    /// it found (and what the baseline `config` names made of it). `Err` when the detector could not be run at all (not an escape: the row
    /// stays pending).
    fn probe(
        &self,
        platform: &gpu::Platform,
        device: &gpu::DeviceSpec,
        row: &crate::PlanRow,
        scheduling_seed: u64,
        config: &crate::CampaignConfig,
    ) -> Result<reports::CoverageRecord, String>;
}

/// Hex SHA-256 of `parts`, each length-prefixed (so `["ab","c"]` and `["a","bc"]`
/// differ).
pub fn digest_of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A bundled workload with its generated inputs of one size.
pub struct WorkloadSubject {
    workload: &'static dyn Workload,
    inputs: Inputs,
    size: usize,
    id: SubjectRef,
}

impl WorkloadSubject {
    /// The workload called `name` with inputs of `size` (its default when `None`) from
    /// `input_seed`.
    pub fn new(
        name: &str,
        size: Option<usize>,
        input_seed: u64,
    ) -> Result<WorkloadSubject, SubjectError> {
        let workload = workloads::by_name(name).ok_or_else(|| SubjectError::UnknownWorkload {
            name: name.to_string(),
            known: workload_names().join(", "),
        })?;
        WorkloadSubject::of(workload, size, input_seed)
    }

    /// `workload` with inputs of `size` (its default when `None`) from `input_seed`.
    pub fn of(
        workload: &'static dyn Workload,
        size: Option<usize>,
        input_seed: u64,
    ) -> Result<WorkloadSubject, SubjectError> {
        let meta = workload.meta();
        let size = size.unwrap_or(meta.size.default);
        let inputs = workload
            .generate(size, input_seed)
            .map_err(|e| SubjectError::Inputs {
                name: meta.name.to_string(),
                detail: e.to_string(),
            })?;
        let id = SubjectRef {
            kind: WORKLOAD_KIND.into(),
            name: meta.name.to_string(),
            source: None,
            // size and input seed are part of the campaign's configuration (and its plan
            // hash); the digest stands for the code
            digest: digest_of([workload.ptx().as_bytes()]),
        };
        Ok(WorkloadSubject {
            workload,
            inputs,
            size,
            id,
        })
    }

    /// The workload.
    pub fn workload(&self) -> &'static dyn Workload {
        self.workload
    }

    /// The generated inputs.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }
}

/// The references (for a [`crate::CampaignConfig`]) of the bundled workloads `names`,
/// with inputs built as `options` says.
pub fn workload_refs<S: AsRef<str>>(
    names: &[S],
    options: &SubjectOptions,
) -> Result<Vec<SubjectRef>, SubjectError> {
    names
        .iter()
        .map(|n| {
            WorkloadSubject::new(n.as_ref(), options.size, options.input_seed).map(|w| w.id.clone())
        })
        .collect()
}

/// The names of the bundled workloads, in registry order.
pub fn workload_names() -> Vec<&'static str> {
    workloads::all().iter().map(|w| w.meta().name).collect()
}

/// The kind of [`WorkloadSubject`]s.
pub const WORKLOAD_KIND: &str = "workload";

impl Subject for WorkloadSubject {
    fn id(&self) -> &SubjectRef {
        &self.id
    }
    fn ptx(&self) -> &str {
        self.workload.ptx()
    }
    fn size(&self) -> Option<usize> {
        Some(self.size)
    }
    fn run(&self, dev: &mut dyn Device, module: ModuleHandle) -> Result<Outputs, RunError> {
        self.workload.run(dev, module, &self.inputs)
    }
    fn check_reference(&self, got: &Outputs) -> Option<Result<Comparison, String>> {
        Some(
            self.workload
                .reference(&self.inputs)
                .map(|r| self.workload.compare(&r, got))
                .map_err(|e| e.to_string()),
        )
    }
    fn compare_reference(&self, reference: &Outputs, got: &Outputs) -> Comparison {
        self.workload.compare(reference, got)
    }
    fn compare_golden(&self, golden: &Outputs, got: &Outputs) -> Comparison {
        self.workload.compare_golden(golden, got)
    }
}

/// Why a subject could not be built or found again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubjectError {
    /// No bundled workload has this name.
    #[error("unknown workload `{name}` (known: {known})")]
    UnknownWorkload {
        /// The name given.
        name: String,
        /// The known names.
        known: String,
    },
    /// The inputs could not be generated.
    #[error("inputs of `{name}`: {detail}")]
    Inputs {
        /// The subject.
        name: String,
        /// Why.
        detail: String,
    },
    /// No registered source builds subjects of this kind.
    #[error(
        "subject `{name}` is of kind `{kind}`, which this program cannot open (it knows: {known})"
    )]
    UnknownKind {
        /// The kind.
        kind: String,
        /// The subject.
        name: String,
        /// The kinds it knows.
        known: String,
    },
    /// The subject changed since the campaign was planned.
    #[error("{what} changed since the campaign was planned (digest {planned} in the store, {now} now); plan a new campaign, or restore it")]
    Changed {
        /// The subject, and its file where it has one.
        what: String,
        /// The stored digest.
        planned: String,
        /// The digest now.
        now: String,
    },
    /// Any other reason (a manifest that does not load, code that does not compile).
    #[error("{0}")]
    Other(String),
}

/// Builds the subjects of stored campaigns again (for `campaign run`/`resume` and the
/// planner): one function per kind. [`SubjectSource::standard`] knows bundled
/// workloads and kernel manifests; a higher crate [`register`](SubjectSource::register)s
/// its own kinds.
#[derive(Clone)]
pub struct SubjectSource {
    kinds: Vec<(String, Arc<SubjectOpener>)>,
}

/// Opens a subject of one kind from its stored reference and the campaign's
/// configuration (size and input seed of workloads).
pub type SubjectOpener =
    dyn Fn(&SubjectRef, &SubjectOptions) -> Result<Arc<dyn Subject>, SubjectError> + Send + Sync;

/// What a campaign's configuration says about how to build its subjects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SubjectOptions {
    /// Problem size of bundled workloads (`None`: each one's default).
    pub size: Option<usize>,
    /// Seed of the bundled workloads' generated inputs.
    pub input_seed: u64,
}

impl std::fmt::Debug for SubjectSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.kinds.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Default for SubjectSource {
    fn default() -> Self {
        SubjectSource::standard()
    }
}

impl SubjectSource {
    /// Bundled workloads and kernel manifests.
    pub fn standard() -> SubjectSource {
        let mut s = SubjectSource { kinds: Vec::new() };
        s.register(WORKLOAD_KIND, |r, o| {
            let w = WorkloadSubject::new(&r.name, o.size, o.input_seed)?;
            Ok(Arc::new(w) as Arc<dyn Subject>)
        });
        s.register(crate::kernel::KERNEL_KIND, crate::kernel::open);
        s
    }

    /// Adds (or replaces) the opener of `kind`.
    pub fn register(
        &mut self,
        kind: &str,
        open: impl Fn(&SubjectRef, &SubjectOptions) -> Result<Arc<dyn Subject>, SubjectError>
            + Send
            + Sync
            + 'static,
    ) {
        self.kinds.retain(|(k, _)| k != kind);
        self.kinds.push((kind.to_string(), Arc::new(open)));
    }

    /// Builds a new subject of `kind` from a name (bundled workloads) or a file
    /// (`source`), for a campaign being planned or a single run.
    pub fn build(
        &self,
        kind: &str,
        name: &str,
        source: Option<&str>,
        options: &SubjectOptions,
    ) -> Result<Arc<dyn Subject>, SubjectError> {
        let r = SubjectRef {
            kind: kind.to_string(),
            name: name.to_string(),
            source: source.map(str::to_string),
            digest: String::new(),
        };
        self.opener(&r)?(&r, options)
    }

    fn opener(&self, r: &SubjectRef) -> Result<&SubjectOpener, SubjectError> {
        self.kinds
            .iter()
            .find(|(k, _)| *k == r.kind)
            .map(|(_, open)| open.as_ref())
            .ok_or_else(|| SubjectError::UnknownKind {
                kind: r.kind.clone(),
                name: r.name.clone(),
                known: self
                    .kinds
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Builds the subject `r` refers to and checks that it is the one planned (same
    /// digest).
    pub fn open(
        &self,
        r: &SubjectRef,
        options: &SubjectOptions,
    ) -> Result<Arc<dyn Subject>, SubjectError> {
        let open = self.opener(r)?;
        let s = open(r, options)?;
        let now = &s.id().digest;
        if *now != r.digest {
            return Err(SubjectError::Changed {
                what: match &r.source {
                    Some(src) => format!("{} `{}` ({src})", r.kind, r.name),
                    None => format!("{} `{}`", r.kind, r.name),
                },
                planned: r.digest.clone(),
                now: now.clone(),
            });
        }
        Ok(s)
    }
}

//! The JSON documents the `gpufault` commands print with `--json`: one type per
//! document, each field documented here, so the CLI, the tests and any other reader share
//! one definition (design.md §2.8). The campaign report ([`crate::CampaignReport`]) and
//! the run records ([`crate::RunRecord`]) have their own modules; `gpufault devices
//! --json` prints `gpu::Enumeration`, documented in the `gpu` crate that measures it.
//!
//! | command | document |
//! |---|---|
//! | `gpufault run WORKLOAD --json` | [`PlainReport`] (with `--against`: its [`Against`]) |
//! | `gpufault run WORKLOAD --fault SPEC --json` | [`FaultReport`] |
//! | `gpufault sim run … --json` | [`SimRun`], [`SimFault`], [`SimDiagnostic`] |
//! | `gpufault ptx stats FILE --json` | [`StatsReport`], [`FunctionStats`], [`ParamStats`] |
//! | `gpufault models --json` | an array of [`ModelDoc`] |
//! | `gpufault workloads --json` | an array of [`WorkloadDoc`] |
//! | `gpufault campaign status FILE --json` | [`CampaignStatus`], [`SessionStatus`] |
//!
//! Every type serializes its fields in declaration order and reads back with
//! `serde_json::from_str`. Names from a fixed vocabulary (a verdict, a workload name, an
//! instruction class) are `&'a str`: the CLI writes them from its tables without copying,
//! and a reader borrows them from the JSON text (they never need escaping). Prose is
//! `Cow<'a, str>` and anything else is owned.
//!
//! ```
//! use reports::output::PlainReport;
//! let text = r#"{"workload":"vecadd","device":"sim","size":16384,"seed":1,"launches":1,
//!     "instructions":524288,"elapsed_ms":3.5,"verdict":"identical","magnitude":null,
//!     "error":null,"against":null}"#;
//! let r: PlainReport = serde_json::from_str(text).unwrap();
//! assert_eq!((r.workload, r.verdict), ("vecadd", "identical"));
//! ```

use crate::outcome::{Outcome, SdcMagnitude};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// `gpufault run WORKLOAD --json` (no `--fault`): one run of a workload checked against
/// its CPU reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlainReport<'a> {
    /// The workload's name (`gpufault workloads`).
    pub workload: &'a str,
    /// The device that ran it, as opened (`sim`, `sim:h100`, `cuda:0`).
    pub device: String,
    /// The problem size (the workload's meaning: see `gpufault workloads`).
    pub size: usize,
    /// The seed of the generated inputs.
    pub seed: u64,
    /// Kernel launches made (0 when the run failed before the first).
    pub launches: u32,
    /// Thread-instructions executed (virtual GPU only; `null` on real GPUs or when the
    /// run failed).
    pub instructions: Option<u64>,
    /// Wall time of the run (launches and read-back), milliseconds.
    pub elapsed_ms: f64,
    /// The outputs against the CPU reference: `"identical"` (bit for bit),
    /// `"within_tolerance"` (within the workload's documented tolerance), `"different"`,
    /// or `"error"` (the run failed: see `error`).
    pub verdict: &'a str,
    /// How far the outputs are from the reference when the verdict is `"different"`;
    /// `null` otherwise.
    pub magnitude: Option<SdcMagnitude>,
    /// The device's or the workload's error text when the run failed.
    pub error: Option<String>,
    /// The comparison with a second device (`--against`); `null` without it.
    #[serde(borrow)]
    pub against: Option<Against<'a>>,
}

/// The comparison of a [`PlainReport`]'s outputs with those of a second device
/// (`gpufault run --against DEVICE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Against<'a> {
    /// The second device, as opened.
    pub device: String,
    /// `"identical"` (bit for bit), `"within_tolerance"`, `"different"`, or `"error"`
    /// (the run on the second device failed).
    pub verdict: &'a str,
    /// The bit differences when the outputs are not identical; `null` otherwise.
    pub magnitude: Option<SdcMagnitude>,
    /// The second device's error text when its run failed.
    pub error: Option<String>,
}

/// `gpufault run WORKLOAD --fault SPEC --json`: one fault injection and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultReport<'a> {
    /// The workload's name.
    pub workload: &'a str,
    /// The device that ran it, as opened.
    pub device: String,
    /// The problem size.
    pub size: usize,
    /// The seed of the generated inputs.
    pub seed: u64,
    /// The injected fault in the injector's compact spec syntax.
    pub fault: String,
    /// What the injection did (design.md §4; `docs/report-format.md`).
    pub outcome: Outcome,
    /// The faulty run's outputs against the golden run's: `"identical"`, `"different"`,
    /// or `"no_output"` (the run crashed or hung).
    pub comparator: &'a str,
    /// The activation counter read back (corrupted warp-instructions); `null` when it
    /// could not be read after an error.
    pub activations: Option<u64>,
    /// Thread-instructions of the fault-free golden run (virtual GPU only).
    pub golden_instructions: Option<u64>,
    /// Thread-instructions of the faulty run (virtual GPU only).
    pub instructions: Option<u64>,
    /// Wall time of the faulty run, milliseconds.
    pub elapsed_ms: f64,
    /// The device's error text, when there was one.
    pub error: Option<String>,
}

/// `gpufault sim run … --json`: one kernel launch on the virtual GPU.
///
/// The fields are in alphabetical order, the order the command has always printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimRun {
    /// Block dimensions in threads (x, y, z).
    pub block: [u32; 3],
    /// The instruction budget in thread-instructions (a launch that needs more is a
    /// hang).
    pub budget: u64,
    /// Co-resident CTAs per SM used to place the CTAs.
    pub ctas_per_sm: u32,
    /// Instructions of the module that could not be decoded; they fault only if
    /// executed.
    pub diagnostics: Vec<SimDiagnostic>,
    /// The files `--dump` wrote, in argument order.
    pub dumped: Vec<String>,
    /// Dynamic shared memory per CTA, bytes.
    pub dynamic_shared: u32,
    /// The fault that stopped the launch; `null` when it completed.
    pub fault: Option<SimFault>,
    /// Grid dimensions in CTAs (x, y, z).
    pub grid: [u32; 3],
    /// The launched kernel (`.entry`).
    pub kernel: String,
    /// `"completed"` or `"faulted"`.
    pub outcome: String,
    /// The GPU profile name (`sim`, `sim:a100`, `sim:h100`).
    pub profile: String,
    /// Thread-instructions executed (one per active lane per warp-instruction; see
    /// `sim::LaunchReport`).
    pub thread_instructions: u64,
    /// Warp-instructions executed.
    pub warp_instructions: u64,
}

/// The fault of a [`SimRun`] (fields in alphabetical order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimFault {
    /// The faulting address as a hex string (`"0x100001140"`); address faults only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// `%ctaid` of the faulting thread.
    pub cta: [u32; 3],
    /// The function executing the faulting instruction.
    pub function: String,
    /// Whether the fault is a hang (`barrier_deadlock`, `budget_exceeded`).
    pub hang: bool,
    /// `illegal_address`, `misaligned_address`, `illegal_instruction`, `trap`,
    /// `call_stack_overflow`, `barrier_deadlock` or `budget_exceeded`.
    pub kind: String,
    /// `%laneid` of the faulting thread.
    pub lane: u32,
    /// Source line of the faulting instruction (0 if none).
    pub line: u32,
    /// The full human-readable description.
    pub message: String,
    /// Index of the instruction in the module's flat instruction list.
    pub pc: u32,
    /// Access size in bytes; address faults only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    /// `%smid` of the faulting warp.
    pub sm: u32,
    /// The address space (`global`, `shared`, `local`, …); address faults only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<String>,
    /// `%tid` of the faulting thread (the lowest faulting lane).
    pub thread: [u32; 3],
    /// `%warpid` (the warp slot on the SM).
    pub warp_slot: u32,
}

/// An instruction of a [`SimRun`]'s module that could not be decoded (fields in
/// alphabetical order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimDiagnostic {
    /// The function it is in (absent when only the message is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Its 1-based source line (absent when only the message is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What is unsupported or invalid.
    pub message: String,
}

/// `gpufault ptx stats FILE --json`: per-function statistics of a PTX file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatsReport<'a> {
    /// The file as given on the command line.
    pub file: String,
    /// `.version` as `"major.minor"`, if present.
    pub version: Option<String>,
    /// The first `.target` word (e.g. `"sm_80"`), if present.
    pub target: Option<String>,
    /// One entry per function *definition* (kernels and device functions with a body),
    /// in source order.
    #[serde(borrow)]
    pub functions: Vec<FunctionStats<'a>>,
}

/// Statistics of one function in a [`StatsReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionStats<'a> {
    /// The function name as in the PTX (mangled for C++).
    pub name: String,
    /// `"entry"` for a kernel, `"func"` for a device function.
    pub kind: &'a str,
    /// Parameters in order.
    pub params: Vec<ParamStats>,
    /// Return parameters of a `.func`, in order (empty for kernels).
    pub returns: Vec<ParamStats>,
    /// Declared registers by type name (`"b32"`, `"pred"`, …), ranges expanded, nested
    /// blocks and `.reg` parameters included; a `.v4` register counts 4.
    pub registers: BTreeMap<String, u64>,
    /// Number of instructions (all nested blocks, flattened).
    pub instructions: usize,
    /// Instructions by class name (`"int_alu"`, `"fp32"`, `"load"`, … — see
    /// `ptx::Class::name`); classes with no instruction are left out.
    #[serde(borrow)]
    pub by_class: BTreeMap<&'a str, usize>,
    /// Number of basic blocks; `null` when the control-flow graph cannot be built (an
    /// undefined label).
    pub basic_blocks: Option<usize>,
}

/// One parameter in [`FunctionStats`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamStats {
    /// Its name.
    pub name: String,
    /// The declaration as PTX (`".param .u64 .ptr .global .align 16 a"`).
    pub decl: String,
    /// Its size in bytes: type size × vector width × array elements.
    pub bytes: u64,
}

/// One fault model in `gpufault models --json` (design.md §3, `docs/fault-models.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelDoc<'a> {
    /// The model's id (`iat`, `iaw`, … `brx`), as in fault specs.
    pub id: &'a str,
    /// The hardware unit it models (and the paper's class).
    #[serde(borrow)]
    pub unit: Cow<'a, str>,
    /// The precise PTX-level definition.
    #[serde(borrow)]
    pub definition: Cow<'a, str>,
    /// Whether the model always corrupts all 32 lanes of the selected warps (the lane
    /// mask is ignored).
    pub all_lanes: bool,
    /// The model's own parameters (besides the common sm, sp, warps and lanes), in
    /// spec order.
    #[serde(borrow)]
    pub parameters: Vec<ParamDoc<'a>>,
    /// How campaigns draw the model's faults under the `faithful` sampling rules
    /// (NVBitPERfi's choices), as `key=rule` items (`mask=blockdim,pol=stuck,…`).
    #[serde(default)]
    pub sampling_faithful: String,
    /// The same under the `v1` rules (gpufault's single-bit choices).
    #[serde(default)]
    pub sampling_v1: String,
    /// The keys `--sampling-rule MODEL.KEY=VALUE` takes for the model.
    #[serde(default)]
    pub sampling_keys: Vec<String>,
}

/// One parameter of a [`ModelDoc`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamDoc<'a> {
    /// Its key in a fault spec (`mask`, `pol`, `op`, …).
    pub name: &'a str,
    /// Its values, in words.
    #[serde(borrow)]
    pub range: Cow<'a, str>,
}

/// One workload in `gpufault workloads --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadDoc<'a> {
    /// Its name, as `gpufault run` takes it.
    pub name: &'a str,
    /// Its kind of program, lower-case (`streaming`, `denselinearalgebra`, …).
    pub kind: String,
    /// What it computes, in one line.
    #[serde(borrow)]
    pub description: Cow<'a, str>,
    /// Its kernels (`.entry` names), in launch order.
    #[serde(borrow)]
    pub kernels: Vec<&'a str>,
    /// What its size means and its default sizes.
    #[serde(borrow)]
    pub size: SizeDoc<'a>,
    /// The instruction classes it exercises most (`ptx::Class` names).
    #[serde(borrow)]
    pub stresses: Vec<&'a str>,
    /// Its outputs and how each is compared with the reference.
    pub outputs: Vec<OutputDoc>,
}

/// The problem size of a [`WorkloadDoc`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeDoc<'a> {
    /// What the size counts (`vector length n`).
    #[serde(borrow)]
    pub meaning: Cow<'a, str>,
    /// The default size (small: quick on the virtual GPU).
    pub default: usize,
    /// The size used on real GPUs.
    pub gpu: usize,
}

/// One output of a [`WorkloadDoc`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputDoc {
    /// The output buffer's name.
    pub name: String,
    /// How it is compared with the CPU reference (`Exact`, or a tolerance in Rust
    /// debug notation).
    pub tolerance: String,
}

/// `gpufault campaign status FILE --json`: how far a campaign store is.
///
/// The fields are in alphabetical order, the order the command has always printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignStatus {
    /// Planned injections (of the store's shard, if it is one) that have a result.
    pub done: u64,
    /// The plan's hash (SHA-256, hex): equal for stores of one campaign.
    pub plan_hash: String,
    /// Planned injections (of the store's shard, if it is one).
    pub planned: u64,
    /// The sessions that ran the store, oldest first.
    pub sessions: Vec<SessionStatus>,
    /// The store's shard as `"I/N"`, or `null` for a whole campaign.
    pub shard: Option<String>,
    /// The store's path as given on the command line.
    pub store: String,
}

/// One session of a [`CampaignStatus`]: one `campaign run` or `resume` (fields in
/// alphabetical order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// Results it committed.
    pub completed: u64,
    /// The device as selected (`sim`, `cuda:0`).
    pub device: String,
    /// The device's product name.
    pub device_name: String,
    /// End time (RFC 3339 UTC) when it ended normally, else `null`.
    pub finished: Option<String>,
    /// The host it ran on.
    pub host: String,
    /// Its number in the store (1, 2, …).
    pub id: i64,
    /// Worker threads.
    pub jobs: u32,
    /// Its process id.
    pub pid: u32,
    /// Start time, RFC 3339 UTC.
    pub started: String,
    /// `running` (or killed), `finished`, `interrupted`, `incomplete`, `failed` or
    /// `stale` (found dead by a later session).
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_report_reads_back_and_borrows_its_names() {
        let r = FaultReport {
            workload: "bfs",
            device: "sim".into(),
            size: 64,
            seed: 1,
            fault: "wdrop:sm=0,sp=0,warps=0x1".into(),
            outcome: Outcome::Masked { slow: false },
            comparator: "identical",
            activations: Some(3),
            golden_instructions: Some(100),
            instructions: Some(90),
            elapsed_ms: 1.25,
            error: None,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            text.starts_with(r#"{"workload":"bfs","device":"sim","size":64,"seed":1,"fault""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<FaultReport>(&text).unwrap(), r);
    }

    /// Prints `t` as a `serde_json::Value` would (keys sorted at every level): the
    /// order `sim run` and `campaign status` have always printed, from `json!` maps.
    fn prints_like_a_value<T: Serialize>(t: &T) -> String {
        let text = serde_json::to_string(t).unwrap();
        let value = serde_json::to_value(t).unwrap();
        assert_eq!(text, serde_json::to_string(&value).unwrap());
        text
    }

    #[test]
    fn sim_and_status_fields_print_in_alphabetical_order() {
        let fault = SimFault {
            addr: Some("0x10".into()),
            cta: [0; 3],
            function: "k".into(),
            hang: false,
            kind: "illegal_address".into(),
            lane: 0,
            line: 3,
            message: "m".into(),
            pc: 1,
            size: Some(4),
            sm: 0,
            space: Some("global".into()),
            thread: [0; 3],
            warp_slot: 0,
        };
        let run = SimRun {
            block: [32, 1, 1],
            budget: 10,
            ctas_per_sm: 1,
            diagnostics: vec![
                SimDiagnostic {
                    function: Some("k".into()),
                    line: Some(7),
                    message: "unsupported".into(),
                },
                SimDiagnostic {
                    function: None,
                    line: None,
                    message: "only a message".into(),
                },
            ],
            dumped: vec!["out/arg0.bin".into()],
            dynamic_shared: 0,
            fault: Some(fault.clone()),
            grid: [1, 1, 1],
            kernel: "k".into(),
            outcome: "faulted".into(),
            profile: "sim".into(),
            thread_instructions: 5,
            warp_instructions: 1,
        };
        let text = prints_like_a_value(&run);
        assert!(text.contains(r#"{"message":"only a message"}"#), "{text}");
        assert_eq!(serde_json::from_str::<SimRun>(&text).unwrap(), run);
        // Optional fields are left out, not `null`.
        let hang = SimFault {
            addr: None,
            size: None,
            space: None,
            ..fault
        };
        let text = prints_like_a_value(&hang);
        assert!(
            !text.contains(r#""addr""#) && !text.contains(r#""space""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<SimFault>(&text).unwrap(), hang);
        let status = CampaignStatus {
            done: 1,
            plan_hash: "ab".into(),
            planned: 2,
            sessions: vec![SessionStatus {
                completed: 1,
                device: "sim".into(),
                device_name: "gpufault virtual GPU (sim)".into(),
                finished: None,
                host: "h".into(),
                id: 1,
                jobs: 2,
                pid: 7,
                started: "2026-01-01T00:00:00Z".into(),
                status: "interrupted".into(),
            }],
            shard: Some("0/2".into()),
            store: "c.db".into(),
        };
        let text = prints_like_a_value(&status);
        assert_eq!(
            serde_json::from_str::<CampaignStatus>(&text).unwrap(),
            status
        );
    }

    #[test]
    fn models_with_escaped_prose_read_back() {
        let m = ModelDoc {
            id: "iat",
            unit: "warp scheduler".into(),
            definition: "a \"quoted\" definition".into(),
            all_lanes: false,
            parameters: vec![ParamDoc {
                name: "mask",
                range: "a mask".into(),
            }],
            sampling_faithful: "mask=blockdim".into(),
            sampling_v1: "mask=bit:0..10".into(),
            sampling_keys: vec!["mask".into()],
        };
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<ModelDoc>(&text).unwrap(), m);
    }
}

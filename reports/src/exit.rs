//! Exit codes of every `gpufault` command — a documented API, defined here once and
//! explained per command in `docs/exit-codes.md` (a test keeps the two in step).
//!
//! Seven schemes, one per kind of process, each an enum whose variants are the codes:
//!
//! - [`Exit`]: every command but the health check (success, found a problem, usage or
//!   environment error, SIGINT, SIGTERM).
//! - [`CheckExit`]: the health check's verdict (`gpufault check`). A check that could not
//!   run is never 0; nor is a usage error of `check`, which is documented apart.
//! - [`WorkerExit`]: the hidden `gpufault __worker` process, read by its parent only.
//! - [`GuardExit`]: the training guard (`gpufault guard`), read by a scheduler: did the
//!   job complete, or should it be requeued.
//! - [`TrainExit`]: the data-parallel training job (`gpufault train`), read by the guard.
//! - [`SlurmExit`]: the Slurm hooks (`gpufault slurm prolog|epilog|healthcheck`), read
//!   by slurmd, which only tells 0 from the rest.
//! - [`NpdExit`]: the node-problem-detector plugin (`gpufault npd`), read by NPD's custom
//!   plugin monitor: 0 OK, 1 NonOK, anything else Unknown.
//!
//! ```
//! use reports::exit::{CheckExit, Exit};
//! assert_eq!(Exit::Interrupted.code(), 128 + 2);
//! assert_eq!(CheckExit::Unknown.code(), 3);
//! let _: std::process::ExitCode = Exit::Usage.into();
//! ```

use std::process::ExitCode;

/// One table of codes: the enum (`#[repr(u8)]`, each variant's value its code), `ALL`,
/// `code`, `meaning` (the words that open the code's row in `docs/exit-codes.md`) and
/// the conversion into [`ExitCode`].
macro_rules! codes {
    ($(#[$doc:meta])* $name:ident {
        $($(#[$vdoc:meta])* $variant:ident = $code:literal, $meaning:literal;)*
    }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $code,)*
        }

        impl $name {
            /// Every code, in increasing order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The numeric code.
            pub const fn code(self) -> u8 {
                self as u8
            }

            /// What the code means, in the words that open its row of
            /// `docs/exit-codes.md`.
            pub const fn meaning(self) -> &'static str {
                match self {
                    $($name::$variant => $meaning,)*
                }
            }
        }

        impl From<$name> for ExitCode {
            fn from(e: $name) -> ExitCode {
                ExitCode::from(e.code())
            }
        }
    };
}

codes! {
    /// The exit code of every `gpufault` command but the health check.
    Exit {
        /// The command did what was asked and found nothing wrong.
        Success = 0, "success";
        /// The command ran and found a problem: PTX with errors, a kernel fault, a
        /// workload whose output differs from its reference, injections that could not
        /// run.
        FoundProblem = 1, "the command ran and found a problem";
        /// A usage or environment error kept the command from running: a bad flag, an
        /// unreadable file, an unknown device or workload (clap's own parse errors exit
        /// with 2 as well).
        Usage = 2, "usage or environment error";
        /// Stopped by SIGINT (Ctrl-C) where the work can be continued: 128 + 2, as
        /// shells report it.
        Interrupted = 130, "stopped by Ctrl-C (SIGINT)";
        /// Stopped by SIGTERM: 128 + 15, as shells report it.
        Terminated = 143, "stopped by SIGTERM";
    }
}

codes! {
    /// The exit code of the health check (`gpufault check`): its verdict on the GPUs it
    /// checked. Its usage errors exit [`CheckExit::Unknown`] (the check did not run), not
    /// [`Exit::Usage`], which would read as degraded.
    CheckExit {
        /// Every GPU checked passed every test and health rule.
        Healthy = 0, "healthy";
        /// A GPU failed a test (a wrong signature) or a fatal health rule: do not use it.
        Faulty = 1, "faulty";
        /// A GPU passed the tests but a health rule warns (e.g. a PCIe link below its
        /// maximum): usable, to be looked at.
        Degraded = 2, "degraded";
        /// The check could not run or could not finish (no driver, a device that cannot
        /// be opened, a timeout): nothing is known, and that is never reported as
        /// healthy.
        Unknown = 3, "unknown";
    }
}

codes! {
    /// The exit status of a worker process (`gpufault __worker`, `gpu::serve_worker`),
    /// read by the parent that started it.
    WorkerExit {
        /// The parent closed the request channel.
        Done = 0, "its parent closed the request channel";
        /// The worker's device could not be opened.
        Unavailable = 3, "its device could not be opened";
        /// The request or response stream broke.
        Protocol = 4, "the request stream broke";
    }
}

codes! {
    /// The exit code of the training guard (`gpufault guard -- CMD…`). The guard judges
    /// the job by its completion marker (its progress file saying `done`), never by the
    /// exit code of the command or launcher it started.
    GuardExit {
        /// The job wrote its completion marker (after any number of restarts within the
        /// budget).
        Completed = 0, "the job completed";
        /// The job ended without its completion marker and the restart budget is spent
        /// (or restarting cannot help: the command could not be started).
        JobFailed = 1, "the job did not complete";
        /// A usage or environment error kept the guard from starting the job: a bad
        /// flag, an unreadable node config or ledger.
        Usage = 2, "usage or environment error";
        /// Fewer usable GPUs than `--min-devices` (before the first start or after a
        /// quarantine): requeue the job on another node.
        TooFewDevices = 3, "too few healthy GPUs";
        /// The guard was stopped by SIGINT; it forwarded the signal, waited for the job
        /// to checkpoint and stop (then killed what was left).
        Interrupted = 130, "stopped by Ctrl-C (SIGINT)";
        /// The guard was stopped by SIGTERM (`scancel`, a pod's termination), forwarded
        /// as for SIGINT.
        Terminated = 143, "stopped by SIGTERM";
    }
}

codes! {
    /// The exit code of the data-parallel training job (`gpufault train`).
    TrainExit {
        /// Every step ran; the final checkpoint and the completion marker are written.
        Finished = 0, "training finished";
        /// A usage or environment error: a bad flag, a checkpoint of another run, an
        /// unknown device.
        Usage = 2, "usage or environment error";
        /// A device failed: a launch faulted, hung or could not run, or the devices'
        /// parameter replicas disagreed at a checkpoint; the last checkpoint stays.
        DeviceFailed = 3, "a device failed";
        /// The loss or a gradient is not finite; nothing of that step is kept.
        NonFinite = 4, "non-finite loss or gradients";
        /// The loss jumped beyond `--max-loss-jump` times its recent average; nothing of
        /// that step is kept.
        LossJump = 5, "the loss jumped";
        /// Stopped by SIGINT after writing a checkpoint of the last finished step.
        Interrupted = 130, "stopped by Ctrl-C (SIGINT)";
        /// Stopped by SIGTERM (the guard asking it to checkpoint) after writing a
        /// checkpoint of the last finished step.
        Terminated = 143, "stopped by SIGTERM";
    }
}

codes! {
    /// The exit code of the Slurm hooks (`gpufault slurm prolog|epilog|healthcheck`).
    /// slurmd only tells 0 from the rest: a prolog that exits non-zero has its job
    /// requeued and its node drained (a drain gpufault wrote first keeps its reason), an
    /// epilog that exits non-zero has its node drained; a health check's code is only
    /// logged. The codes above 0 say why, for people reading slurmd's log.
    SlurmExit {
        /// The job's GPUs passed (healthy or degraded), or it has none; for the health
        /// check: no GPU of the node is quarantined or fails a telemetry rule.
        Ok = 0, "the node may run jobs";
        /// A GPU is faulty or quarantined: the node is drained with a `gpufault:` reason
        /// (or was drained already), the GPU recorded in the quarantine ledger.
        Drained = 1, "a GPU is faulty or quarantined";
        /// A usage or environment error: a bad flag or configuration file, a GPU index
        /// the configuration does not have, a damaged ledger, `scontrol` failing.
        Usage = 2, "usage or environment error";
        /// The check could not run or finish (a device that cannot be opened, a
        /// timeout): gpufault does not drain for it; Slurm drains the node with its own
        /// reason (`Prolog error`, `Epilog error`).
        Unknown = 3, "the check could not run";
    }
}

codes! {
    /// The exit code of the node-problem-detector custom plugin (`gpufault npd`). NPD's
    /// custom plugin monitor reads 0 as OK (its condition False), 1 as NonOK (the
    /// condition True, the plugin's line its message) and any other code as Unknown; a
    /// usage error (clap's own included) exits 2 as well, so NPD never reads a typo as a
    /// healthy node.
    NpdExit {
        /// No GPU of the node is quarantined or fails a telemetry rule of severity faulty
        /// (degraded ones pass), and every GPU could be inspected.
        Ok = 0, "no problem";
        /// A GPU of the node is quarantined in the ledger or fails a telemetry rule of
        /// severity faulty: the line names it.
        Problem = 1, "a GPU is quarantined or faulty";
        /// It could not tell: a GPU that cannot be inspected, a damaged or unreadable
        /// ledger, a usage error.
        Unknown = 2, "unknown";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows `| code | meaning … |` of the Markdown table under `heading` (the first
    /// table after it), as (code, meaning).
    fn table(doc: &str, heading: &str) -> Vec<(u8, String)> {
        let start = doc
            .find(heading)
            .unwrap_or_else(|| panic!("docs/exit-codes.md has no `{heading}`"));
        let mut rows = Vec::new();
        let mut in_table = false;
        for line in doc[start..].lines().skip(1) {
            let line = line.trim();
            if !line.starts_with('|') {
                if in_table {
                    break;
                }
                continue;
            }
            in_table = true;
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let Ok(code) = cells[0].parse::<u8>() else {
                continue; // the header and the |---| line
            };
            rows.push((code, cells[1].to_string()));
        }
        rows
    }

    /// Checks that `rows` lists exactly `codes`, in order, each meaning opening with the
    /// code's words.
    fn agree(rows: &[(u8, String)], codes: &[(u8, &str)]) {
        let got: Vec<u8> = rows.iter().map(|r| r.0).collect();
        let want: Vec<u8> = codes.iter().map(|c| c.0).collect();
        assert_eq!(got, want, "codes of the table in docs/exit-codes.md");
        for ((code, text), (_, meaning)) in rows.iter().zip(codes) {
            assert!(
                text.starts_with(meaning),
                "docs/exit-codes.md, code {code}: `{text}` does not open with `{meaning}`"
            );
        }
    }

    #[test]
    fn the_documented_tables_agree_with_the_codes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/exit-codes.md");
        let doc = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        agree(
            &table(&doc, "# Exit codes"),
            &Exit::ALL
                .iter()
                .map(|e| (e.code(), e.meaning()))
                .collect::<Vec<_>>(),
        );
        agree(
            &table(&doc, "## The health check"),
            &CheckExit::ALL
                .iter()
                .map(|e| (e.code(), e.meaning()))
                .collect::<Vec<_>>(),
        );
        agree(
            &table(&doc, "## The training guard"),
            &GuardExit::ALL
                .iter()
                .map(|e| (e.code(), e.meaning()))
                .collect::<Vec<_>>(),
        );
        agree(
            &table(&doc, "## The training job"),
            &TrainExit::ALL
                .iter()
                .map(|e| (e.code(), e.meaning()))
                .collect::<Vec<_>>(),
        );
        agree(
            &table(&doc, "## The Slurm hooks"),
            &SlurmExit::ALL
                .iter()
                .map(|e| (e.code(), e.meaning()))
                .collect::<Vec<_>>(),
        );
        agree(
            &table(&doc, "## The node-problem-detector plugin"),
            &NpdExit::ALL
                .iter()
                .map(|e| (e.code(), e.meaning()))
                .collect::<Vec<_>>(),
        );
        agree(
            &table(&doc, "## The worker process"),
            &WorkerExit::ALL
                .iter()
                .map(|e| (e.code(), e.meaning()))
                .collect::<Vec<_>>(),
        );
    }

    #[test]
    fn the_parser_reads_a_table_and_stops_at_its_end() {
        let doc = "# T\n\ntext\n\n| code | meaning |\n|---|---|\n| 0 | ok, fine |\n| 7 | bad |\n\n| 9 | another table |\n";
        assert_eq!(
            table(doc, "# T"),
            [(0, "ok, fine".to_string()), (7, "bad".to_string())]
        );
        assert_eq!(ExitCode::from(Exit::Usage), ExitCode::from(2));
    }
}

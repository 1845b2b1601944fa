//! `gpufault workloads`: the CUDA workloads with their kernels and sizes.
//!
//! Exit codes: 0. JSON output (`--json`): an array of `reports::output::WorkloadDoc`,
//! documented field by field there.

use clap::Args;
use reports::output::{OutputDoc, SizeDoc, WorkloadDoc};
use std::process::ExitCode;

/// Arguments of `gpufault workloads`.
#[derive(Args)]
pub struct WorkloadsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn docs() -> Vec<WorkloadDoc<'static>> {
    workloads::all()
        .iter()
        .map(|w| {
            let m = w.meta();
            WorkloadDoc {
                name: m.name,
                kind: format!("{:?}", m.kind).to_lowercase(),
                description: m.description.into(),
                kernels: m.kernels.to_vec(),
                size: SizeDoc {
                    meaning: m.size.meaning.into(),
                    default: m.size.default,
                    gpu: m.size.gpu,
                },
                stresses: m.stresses.iter().map(|c| c.name()).collect(),
                outputs: m
                    .outputs
                    .iter()
                    .map(|o| OutputDoc {
                        name: o.name.to_string(),
                        tolerance: format!("{:?}", o.tolerance),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Runs `gpufault workloads`.
pub fn run(args: WorkloadsArgs) -> anyhow::Result<ExitCode> {
    super::print_json_or_text(args.json, &docs(), |out, docs| {
        writeln!(
            out,
            "{:<14} {:>8} {:>9}  {:<44} KERNELS",
            "WORKLOAD", "DEFAULT", "GPU SIZE", "SIZE MEANS"
        )?;
        for d in docs {
            writeln!(
                out,
                "{:<14} {:>8} {:>9}  {:<44} {}",
                d.name,
                d.size.default,
                d.size.gpu,
                d.size.meaning,
                d.kernels.join(", ")
            )?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_every_workload() {
        let d = super::docs();
        assert!(d.len() >= 16);
        assert!(d
            .iter()
            .all(|w| !w.kernels.is_empty() && w.size.default > 0));
    }
}

//! `gpufault workloads`: the CUDA workloads with their kernels and sizes.
//!
//! Exit codes: 0. JSON output (`--json`): an array of objects `{ "name", "kind",
//! "description", "kernels", "size": { "meaning", "default", "gpu" }, "stresses",
//! "outputs": [{ "name", "tolerance" }] }`.

use clap::Args;
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `gpufault workloads`.
#[derive(Args)]
pub struct WorkloadsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct SizeDoc {
    meaning: &'static str,
    default: usize,
    gpu: usize,
}

#[derive(Serialize)]
struct OutputDoc {
    name: String,
    tolerance: String,
}

#[derive(Serialize)]
struct WorkloadDoc {
    name: &'static str,
    kind: String,
    description: &'static str,
    kernels: Vec<&'static str>,
    size: SizeDoc,
    stresses: Vec<&'static str>,
    outputs: Vec<OutputDoc>,
}

fn docs() -> Vec<WorkloadDoc> {
    workloads::all()
        .iter()
        .map(|w| {
            let m = w.meta();
            WorkloadDoc {
                name: m.name,
                kind: format!("{:?}", m.kind).to_lowercase(),
                description: m.description,
                kernels: m.kernels.to_vec(),
                size: SizeDoc {
                    meaning: m.size.meaning,
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
    let docs = docs();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &docs)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<14} {:>8} {:>9}  {:<44} KERNELS",
        "WORKLOAD", "DEFAULT", "GPU SIZE", "SIZE MEANS"
    )?;
    for d in &docs {
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
    Ok(ExitCode::SUCCESS)
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

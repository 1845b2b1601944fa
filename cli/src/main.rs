//! `gpufault`: the command-line face of the toolkit. A thin `main`: clap parses into
//! plain argument structs, each subcommand module turns them into a validated
//! configuration and calls the library crates. Exit codes are documented in
//! `docs/exit-codes.md`.

use clap::{Parser, Subcommand};
use reports::exit::Exit;
use std::process::ExitCode;

mod cmd;

/// GPU permanent-fault injection and detection.
#[derive(Parser)]
#[command(name = "gpufault", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read, print, validate and inspect PTX.
    #[command(subcommand)]
    Ptx(cmd::ptx::PtxCommand),
    /// Run kernels on the virtual GPU.
    #[command(subcommand)]
    Sim(cmd::sim::SimCommand),
    /// List the CUDA workloads.
    Workloads(cmd::workloads::WorkloadsArgs),
    /// Run a workload and check it against its CPU reference, or inject one fault.
    Run(cmd::run::RunArgs),
    /// List the fault models with their definitions and parameters.
    Models(cmd::models::ModelsArgs),
    /// Fault campaigns: plan, run, resume, merge (or plan and run in one go).
    Campaign(Box<cmd::campaign::CampaignArgs>),
    /// Report the outcome statistics of a campaign store.
    Report(cmd::report::ReportArgs),
    /// List GPUs (CUDA devices, then virtual GPUs) with identity and telemetry.
    Devices(cmd::devices::DevicesArgs),
    /// Health-check GPUs: signature kernels on every SM and NVML rules (exit 0 healthy, 1 faulty, 2 degraded, 3 unknown).
    Check(cmd::check::CheckArgs),
    /// Measure the health check's coverage: faults per model on faulty virtual GPUs, detected or escaped (a campaign store; `report` renders it).
    Coverage(cmd::coverage::CoverageArgs),
    /// The quarantine ledger of GPUs kept out of jobs: list, add, release (after a clean check).
    Quarantine(cmd::quarantine::QuarantineArgs),
    /// Run a training job with only healthy GPUs; quarantine a GPU that turns faulty and restart the job from its checkpoint on the rest.
    Guard(cmd::guard::GuardArgs),
    /// Slurm hooks: prolog, epilog and health-check programs that drain nodes with faulty or quarantined GPUs (and undrain what they drained).
    Slurm(cmd::slurm::SlurmArgs),
    /// node-problem-detector custom plugin: the passive check of the node's GPUs (ledger and telemetry), one line on stdout (exit 0 ok, 1 problem, 2 unknown).
    Npd(cmd::k8s::NpdArgs),
    /// Kubernetes: taint advice (the node taint and DRA DeviceTaintRules) for the node's quarantined GPUs.
    K8s(cmd::k8s::K8sArgs),
    /// Data-parallel training of an MLP on N devices with checkpoints (the job the guard's tests guard).
    Train(cmd::train::TrainArgs),
    /// Serve one device to a parent process over stdin/stdout (internal).
    #[command(name = "__worker", hide = true)]
    Worker(cmd::worker::WorkerArgs),
}

fn main() -> ExitCode {
    cmd::set_signal_dispositions();
    cmd::keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cmd::check::parse_error(e),
    };
    let result = match cli.command {
        Command::Ptx(c) => cmd::ptx::run(c),
        Command::Sim(c) => cmd::sim::run(c),
        Command::Devices(a) => cmd::devices::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Workloads(a) => cmd::workloads::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Models(a) => cmd::models::run(a),
        Command::Worker(a) => cmd::worker::run(a),
        Command::Campaign(a) => cmd::campaign::run(*a),
        Command::Report(a) => cmd::report::run(a),
        Command::Coverage(a) => cmd::coverage::run(a),
        Command::Quarantine(a) => cmd::quarantine::run(a),
        Command::Guard(a) => cmd::guard::run(a),
        Command::Slurm(a) => cmd::slurm::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Npd(a) => cmd::k8s::npd(a),
        Command::K8s(a) => cmd::k8s::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gpufault: error: {e:#}");
            Exit::Usage.into()
        }
    }
}

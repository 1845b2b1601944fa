//! `gpufault coverage`: the measured coverage of the health check (issue 17,
//! `docs/coverage.md`).
//!
//! `gpufault coverage --models all --faults N [--device sim:h100] [--seed S] [--jobs J]
//! [--shard I/N] [--baseline gpu-burn] --out F.db` plans N faults per model over the hardware of a virtual GPU
//! (SM, sub-partition, warp slot, lanes uniform; the model's parameters from a candidate
//! site of the signature suite), then runs the quick health check on a faulty virtual GPU
//! carrying each fault under its own scheduling seed, and stores detected / escaped and
//! what the check named, on the campaign engine: every result committed as it completes,
//! rerunning the same command (or `gpufault campaign resume F.db`) continues after any
//! interruption, kill -9 included, shards join with `gpufault campaign merge`, and
//! `gpufault report F.db` renders the coverage per model.
//!
//! Exit codes are those of `gpufault campaign` (`docs/exit-codes.md`): 0 every planned
//! fault (of the shard) has a result; 1 some could not run (they stay pending); 2 usage
//! or environment error; 130/143 stopped by a signal (resumable).

use anyhow::{bail, Context};
use clap::Args;
use gpu::DeviceSpec;
use injector::{CampaignKind, CampaignStore};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `gpufault coverage`.
#[derive(Args)]
pub struct CoverageArgs {
    /// Fault models, comma-separated, or `all` (see `gpufault models`).
    #[arg(long, value_name = "M,…")]
    models: String,
    /// Faults per model.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    faults: u64,
    /// The virtual GPU the faults are drawn over and checked on: sim, sim:a100, sim:h100.
    #[arg(long, default_value = "sim:h100")]
    device: String,
    /// Seed of every fault and scheduling seed drawn (report figures from a seed the
    /// suite was not developed on).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    seed: u64,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j', allow_negative_numbers = true)]
    jobs: Option<usize>,
    /// Run only shard I of N (the faults whose index in their model is I modulo N), each
    /// shard into its own --out; join them with `gpufault campaign merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// The coverage store (created, or continued when it holds the same campaign).
    #[arg(long, short = 'o', value_name = "FILE", default_value = "coverage.db")]
    out: PathBuf,
    /// Also run the method of today's health checks on each faulty GPU and record its
    /// verdicts: `gpu-burn` (repeated GEMMs compared with the first result on the same
    /// GPU, as gpu-burn and DCGM diag do, and with a CPU-computed product).
    #[arg(long, value_name = "NAME", value_parser = ["gpu-burn"])]
    baseline: Option<String>,
    /// Sync every commit to disk (survives a power loss; slower).
    #[arg(long)]
    full_sync: bool,
}

/// Runs `gpufault coverage`.
pub fn run(args: CoverageArgs) -> anyhow::Result<ExitCode> {
    let models = injector::parse_models(&args.models).context("--models")?;
    let device = match args.device.parse::<DeviceSpec>() {
        Ok(DeviceSpec::Sim(s))
            if s.count.is_none() && s.index.is_none() && s.scheduling_seed.is_none() =>
        {
            s
        }
        Ok(_) => bail!(
            "--device {}: coverage campaigns run on one virtual GPU profile (sim, sim:a100, sim:h100); each fault gets its own faulty GPU and scheduling seed",
            args.device
        ),
        Err(e) => bail!("--device {}: {e}", args.device),
    };
    let config = detector::coverage_config(
        models,
        args.faults,
        &device,
        args.seed,
        args.baseline.as_deref(),
    );
    config.validate()?;
    if args.out.exists() {
        let store = CampaignStore::open(&args.out)?;
        if store.meta().config.kind != CampaignKind::Coverage {
            bail!(
                "--out {}: holds an injection campaign, not a coverage campaign; choose another --out",
                args.out.display()
            );
        }
        if store.meta().config != config {
            bail!(
                "--out {}: already holds a different coverage campaign; choose another --out or run `gpufault campaign resume {}`",
                args.out.display(),
                args.out.display()
            );
        }
        eprintln!(
            "{}: same coverage campaign already planned; continuing it",
            args.out.display()
        );
    } else {
        CampaignStore::check_creatable(&args.out)?;
        let jobs = super::campaign::check_jobs(args.jobs)?;
        let plan = injector::plan_campaign(&config, &super::subjects::source(), jobs, &mut |_| {})?;
        CampaignStore::create(&args.out, &plan, Some(&super::campaign::command_line()))?;
        eprintln!(
            "{}: planned {} faults ({} per model, seed {}, drawn over the hardware of {})",
            args.out.display(),
            plan.rows.len(),
            args.faults,
            config.seed,
            config.device
        );
    }
    let flags = super::campaign::run_flags(args.jobs, args.shard, args.full_sync);
    let code = super::campaign::run_store(&args.out, &flags, None)?;
    if code == ExitCode::SUCCESS {
        super::report::print_table(&args.out)?;
    }
    Ok(code)
}

//! `gpufault report campaign.db`: the outcome statistics of a campaign store, rendered
//! by the `reports` crate (terminal table, JSON, CSV, Markdown, HTML), or its raw
//! records as JSON Lines.
//!
//! Exit codes: 0 the report was written (whatever the outcomes, also for a campaign
//! still in progress: its header says how many injections are done); 2 when the store
//! cannot be read, the format is unknown or the output file cannot be written.

use anyhow::Context;
use clap::Args;
use injector::CampaignStore;
use reports::Format;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `gpufault report`.
#[derive(Args)]
pub struct ReportArgs {
    /// The campaign store (`gpufault campaign plan/run`).
    store: PathBuf,
    /// table, wide, json, csv, md (markdown), html; or jsonl for the raw run records.
    #[arg(long, short = 'f', default_value = "table")]
    format: String,
    /// Write to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `gpufault report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let format = match args.format.as_str() {
        "jsonl" => None,
        f => Some(
            f.parse::<Format>()
                .map_err(|e| anyhow::anyhow!("--format: {e}, jsonl"))?,
        ),
    };
    let store = CampaignStore::open_read_only(&args.store)?;
    let results = store.results()?;
    let records: Vec<reports::RunRecord> = results.into_iter().map(|r| r.record).collect();
    let mut text = match format {
        None => reports::render_jsonl(&records),
        Some(f) => {
            let meta = store.campaign_meta()?;
            let report = reports::summarize(&meta, &records);
            let mut text = f.render(&report);
            if matches!(f, Format::Table | Format::Wide) {
                text.push_str(&footer(&store)?);
            }
            text
        }
    };
    if !text.ends_with('\n') && !text.is_empty() {
        text.push('\n');
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("-o {}", path.display()))?
        }
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the compact terminal table of `store` on stdout (the one-shot campaign's
/// closing output).
pub fn print_table(store: &std::path::Path) -> anyhow::Result<ExitCode> {
    run(ReportArgs {
        store: store.to_path_buf(),
        format: "table".into(),
        out: None,
    })
}

/// Lines under the terminal table: completion and the cells that got fewer injections
/// than asked (with why).
fn footer(store: &CampaignStore) -> anyhow::Result<String> {
    let (planned, done) = store.progress(store.meta().shard)?;
    let mut s = String::new();
    if done < planned {
        s.push_str(&format!(
            "\nin progress: {done} of {planned} planned injections have a result\n"
        ));
    }
    let short: Vec<_> = store
        .cells()?
        .into_iter()
        .filter(|c| c.note.is_some())
        .collect();
    if !short.is_empty() {
        s.push_str("\ncells with fewer injections than asked:\n");
        for c in short {
            s.push_str(&format!(
                "  {}/{}: {} planned: {}\n",
                c.subject,
                c.model,
                c.planned,
                c.note.unwrap_or_default()
            ));
        }
    }
    Ok(s)
}

//! `gpufault report campaign.db`: the outcome statistics of a campaign store, rendered
//! by the `reports` crate (terminal table, JSON, CSV, Markdown, HTML), or its raw
//! records as JSON Lines.
//!
//! Exit codes: 0 the report was written (whatever the outcomes, also for a campaign
//! still in progress: its header says how many injections are done); 2 when the store
//! cannot be read, the format is unknown or the output file cannot be written.
//!
//! `-o FILE` never destroys data: it refuses the campaign store itself (also through
//! another path, a symlink or a hard link: the same device and inode) and its journal
//! files, and any SQLite database; and the report goes to a temporary file beside FILE
//! that is renamed over it only once completely written, so a full disk leaves FILE as
//! it was.

use anyhow::{anyhow, bail, Context};
use clap::Args;
use injector::CampaignStore;
use reports::{Format, ReportError};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `gpufault report`.
#[derive(Args)]
pub struct ReportArgs {
    /// The campaign store (`gpufault campaign plan/run`).
    store: PathBuf,
    /// The output: table, wide, json, csv, markdown (or md) or html for the statistics;
    /// jsonl for the raw run records.
    #[arg(long, short = 'f', default_value = "table")]
    format: String,
    /// Write to FILE instead of standard output (all or nothing; never over the campaign
    /// store or any other SQLite database).
    #[arg(long, short = 'o', value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `gpufault report`.
pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let format = match args.format.as_str() {
        "jsonl" => None,
        f => Some(f.parse::<Format>().map_err(|e| match e {
            ReportError::UnknownFormat { name, known } => {
                anyhow!("--format: unknown report format `{name}` (known: {known}, jsonl)")
            }
            e => anyhow!("--format: {e}"),
        })?),
    };
    let store = CampaignStore::open_read_only(&args.store)?;
    let text = if store.meta().config.kind == injector::CampaignKind::Coverage {
        coverage_text(&store, format)?
    } else {
        campaign_text(&store, format)?
    };
    write_out(&args, text)
}

/// The report of a coverage store (`gpufault coverage`): table, JSON or HTML of the
/// coverage per model (each detection diagnosed with the bundled fault dictionary);
/// jsonl: one coverage record per line.
fn coverage_text(store: &CampaignStore, format: Option<Format>) -> anyhow::Result<String> {
    let mut records = store.coverage_records()?;
    // The diagnosis of each detection, from this build's fault dictionary.
    let dictionary = detector::FaultDictionary::bundled();
    for r in records.iter_mut().filter(|r| r.detected) {
        r.diagnosis = dictionary.diagnose(&r.features);
    }
    if format.is_none() {
        let mut out = String::new();
        for r in &records {
            out.push_str(&serde_json::to_string(r)?);
            out.push('\n');
        }
        return Ok(out);
    }
    let (planned, _) = store.progress(store.meta().shard)?;
    let report = reports::summarize_coverage(&store.campaign_meta()?, planned, &records);
    Ok(match format {
        Some(Format::Table | Format::Wide) => reports::render_coverage_table(&report),
        Some(Format::Json) => reports::render_coverage_json(&report),
        Some(Format::Html) => reports::render_coverage_html(&report),
        Some(f) => bail!(
            "--format {}: a coverage store renders as table, json, html or jsonl",
            f.name()
        ),
        None => unreachable!("jsonl handled above"),
    })
}

/// The report of an injection campaign store.
fn campaign_text(store: &CampaignStore, format: Option<Format>) -> anyhow::Result<String> {
    let results = store.results()?;
    let text = match format {
        None => {
            let records: Vec<reports::RunRecord> = results.into_iter().map(|r| r.record).collect();
            reports::render_jsonl(&records)
        }
        Some(f) => {
            let mut summarizer = reports::Summarizer::new(store.campaign_meta()?);
            for r in &results {
                summarizer.add_in_kernel(&r.record, r.kernel.as_deref());
            }
            let report = summarizer.finish();
            let mut text = f.render(&report);
            if matches!(f, Format::Table | Format::Wide) {
                text.push_str(&footer(store)?);
            }
            text
        }
    };
    Ok(text)
}

/// Writes the report to `-o FILE` (all or nothing) or standard output.
fn write_out(args: &ReportArgs, mut text: String) -> anyhow::Result<ExitCode> {
    if !text.ends_with('\n') && !text.is_empty() {
        text.push('\n');
    }
    match &args.out {
        Some(path) => {
            refuse_to_destroy(&args.store, path)?;
            shim::sys::write_atomic(path, text.as_bytes())
                .with_context(|| format!("-o {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Fails when writing a report to `out` would destroy data: `out` is the campaign
/// `store` itself or one of its journal files (compared by device and inode, so another
/// path, a symlink or a hard link to it is caught), or any SQLite database.
fn refuse_to_destroy(store: &Path, out: &Path) -> anyhow::Result<()> {
    let Ok(target) = fs::metadata(out) else {
        return Ok(()); // nothing there (or unreadable: the write will say why)
    };
    let same = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| (m.dev(), m.ino()) == (target.dev(), target.ino()))
    };
    let journals = ["-wal", "-shm", "-journal"].map(|suffix| {
        let mut p = store.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    });
    if same(store) {
        bail!(
            "-o {}: that is the campaign store {} itself; refusing to overwrite it with a report",
            out.display(),
            store.display()
        );
    }
    if let Some(j) = journals.iter().find(|j| same(j)) {
        bail!(
            "-o {}: that is {}, a journal of the campaign store; refusing to overwrite it",
            out.display(),
            j.display()
        );
    }
    if !target.is_file() {
        return Ok(()); // a device or a FIFO: opening it to look could block or consume
    }
    let mut head = [0u8; 16];
    let is_sqlite = fs::File::open(out)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == SQLITE_HEADER);
    if is_sqlite {
        bail!(
            "-o {}: that is an SQLite database (a campaign store?); refusing to overwrite it with a report",
            out.display()
        );
    }
    Ok(())
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

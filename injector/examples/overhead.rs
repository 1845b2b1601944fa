//! Instrumentation overhead: per workload and model, the thread-instructions an
//! instrumented module executes on the virtual GPU relative to the original, with the
//! fault descriptor disabled and with it armed on an SM the launch never uses, and
//! the registers per thread ptxas allocates (sm_80, default optimisation) for the
//! original and the instrumented kernels.
//!
//! ```text
//! cargo run --release -p gpufault-injector --example overhead -- [--json PATH] [--no-ptxas]
//! ```

use gpu::{Device, Platform};
use injector::{arm, instrument, FaultSpec, Model};
use ptx::ptxas::{Ptxas, PtxasOptions};
use serde::Serialize;
use std::path::PathBuf;

#[derive(Serialize)]
struct Row {
    workload: String,
    model: String,
    original_instructions: u64,
    disabled_instructions: u64,
    disabled_ratio: f64,
    armed_elsewhere_instructions: u64,
    armed_elsewhere_ratio: f64,
    registers_original: Option<u32>,
    registers_instrumented: Option<u32>,
    ptx_bytes_original: usize,
    ptx_bytes_instrumented: usize,
}

fn max_registers(ptxas: &Ptxas, text: &str) -> Option<u32> {
    let mut opts = PtxasOptions::new("sm_80");
    opts.verbose = true;
    opts.timeout = std::time::Duration::from_secs(600);
    let r = ptxas.check_str(text, &opts).ok()?;
    r.functions
        .iter()
        .filter(|f| f.entry)
        .filter_map(|f| f.registers)
        .max()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/bench/instrumentation.json"));
    let ptxas = if args.iter().any(|a| a == "--no-ptxas") {
        None
    } else {
        Some(ptx::ptxas::find_in_workspace()?)
    };
    let platform = Platform::new();
    let mut rows = Vec::new();
    println!(
        "{:<13} {:<6} {:>12} {:>9} {:>9} {:>6} {:>6}",
        "workload", "model", "orig instr", "disabled", "armed", "regs", "regs'"
    );
    for w in workloads::all() {
        let meta = w.meta();
        let inputs = w.generate(meta.size.default, 1)?;
        let module = ptx::parse(w.ptx()).map_err(|e| e.to_string())?;
        let mut dev = platform.open(&"sim".parse()?)?;
        let m = dev.load(w.ptx())?;
        let original = w
            .run(dev.as_mut(), m, &inputs)?
            .stats
            .instructions
            .unwrap_or(0);
        let regs_original = ptxas.as_ref().and_then(|p| max_registers(p, w.ptx()));
        for model in Model::ALL {
            let inst = instrument(&module, model)?;
            let text = inst.ptx();
            let mi = dev.load(&text)?;
            arm(dev.as_mut(), mi, None)?;
            let disabled = w
                .run(dev.as_mut(), mi, &inputs)?
                .stats
                .instructions
                .unwrap_or(0);
            // armed on SM 999, which no launch uses: every thread runs the whole check
            let elsewhere = FaultSpec::parse(&format!(
                "{}:sm=999,sp=0,warps=0x1,lanes=0x1{}",
                model,
                match model {
                    Model::Ir | Model::Fu => ",op=add.s32",
                    Model::Ioc => ",op=add.s32,subst=sub",
                    _ => "",
                }
            ))?;
            arm(dev.as_mut(), mi, Some(&elsewhere))?;
            let armed = w
                .run(dev.as_mut(), mi, &inputs)?
                .stats
                .instructions
                .unwrap_or(0);
            let regs = ptxas.as_ref().and_then(|p| max_registers(p, &text));
            let row = Row {
                workload: meta.name.to_string(),
                model: model.id().to_string(),
                original_instructions: original,
                disabled_instructions: disabled,
                disabled_ratio: disabled as f64 / original as f64,
                armed_elsewhere_instructions: armed,
                armed_elsewhere_ratio: armed as f64 / original as f64,
                registers_original: regs_original,
                registers_instrumented: regs,
                ptx_bytes_original: w.ptx().len(),
                ptx_bytes_instrumented: text.len(),
            };
            println!(
                "{:<13} {:<6} {:>12} {:>8.3}x {:>8.3}x {:>6} {:>6}",
                row.workload,
                row.model,
                row.original_instructions,
                row.disabled_ratio,
                row.armed_elsewhere_ratio,
                regs_original.map_or("-".into(), |r| r.to_string()),
                regs.map_or("-".into(), |r| r.to_string()),
            );
            rows.push(row);
        }
    }
    let worst = rows.iter().map(|r| r.disabled_ratio).fold(0.0, f64::max);
    let worst_armed = rows
        .iter()
        .map(|r| r.armed_elsewhere_ratio)
        .fold(0.0, f64::max);
    println!(
        "\nworst ratio: disabled {worst:.3}x, armed elsewhere {worst_armed:.3}x (goal <= 1.3x)"
    );
    if let Some(dir) = json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&json, serde_json::to_string_pretty(&rows)?)?;
    println!("wrote {}", json.display());
    Ok(())
}

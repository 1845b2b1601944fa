//! The suite's PTX, and the suite instrumented for every fault model (what a faulty
//! GPU and the coverage campaigns run), pass the real `ptxas` for sm_80 and sm_90; the
//! suite's own kernels fit 32 registers without spilling, so 2,048 threads per SM are
//! resident on an A100/H100 (64 K registers per SM) and fill every warp slot.

use detector::Suite;
use injector::{instrument, Model};
use ptx::ptxas::{Ptxas, PtxasOptions};

fn ptxas() -> Ptxas {
    ptx::ptxas::find_in_workspace().unwrap_or_else(|e| {
        panic!("ptxas not found ({e}): run scripts/install-tools.sh or set PTXAS")
    })
}

fn opts(gpu: &str) -> PtxasOptions {
    let mut o = PtxasOptions::new(gpu);
    o.verbose = true;
    o.timeout = std::time::Duration::from_secs(600);
    o
}

#[test]
fn the_suite_passes_ptxas_in_32_registers_without_spills() {
    let p = ptxas();
    for gpu in ["sm_80", "sm_90"] {
        let r = p.check_str(Suite.ptx(), &opts(gpu)).unwrap();
        assert!(r.verdict.accepted(), "{gpu}: {}", r.diagnostics);
        let mut kernels: Vec<&str> = Vec::new();
        for f in &r.functions {
            kernels.push(&f.name);
            let regs = f.registers.unwrap_or(0);
            assert!(regs <= 32, "{gpu} {}: {regs} registers", f.name);
            assert_eq!((f.spill_stores, f.spill_loads), (0, 0), "{gpu} {}", f.name);
        }
        kernels.sort();
        let mut want = Suite.kernels();
        want.sort();
        assert_eq!(kernels, want, "{gpu}");
    }
}

#[test]
fn the_suite_instrumented_for_every_model_passes_ptxas() {
    let p = ptxas();
    let module = ptx::parse(Suite.ptx()).unwrap();
    let jobs: Vec<(Model, &str)> = Model::ALL
        .iter()
        .flat_map(|&m| [(m, "sm_80"), (m, "sm_90")])
        .collect();
    let failures = std::sync::Mutex::new(Vec::new());
    let jobs = std::sync::Mutex::new(jobs);
    std::thread::scope(|s| {
        for _ in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            s.spawn(|| loop {
                let Some((model, gpu)) = jobs.lock().unwrap().pop() else {
                    break;
                };
                let inst = instrument(&module, model).unwrap();
                let mut o = PtxasOptions::new(gpu);
                o.opt_level = Some(0);
                o.timeout = std::time::Duration::from_secs(600);
                match p.check_str(&inst.ptx(), &o) {
                    Ok(r) if r.verdict.accepted() => {}
                    Ok(r) => failures
                        .lock()
                        .unwrap()
                        .push(format!("{model} {gpu}: {}", r.diagnostics)),
                    Err(e) => failures.lock().unwrap().push(format!("{model} {gpu}: {e}")),
                }
            });
        }
    });
    let f = failures.into_inner().unwrap();
    assert!(f.is_empty(), "{}", f.join("\n"));
}

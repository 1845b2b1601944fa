//! Every model instruments every workload into PTX that ptxas accepts for sm_80 and
//! sm_90 (validation at `--opt-level 0`, which checks the same PTX several times faster
//! than the default optimisation level).
use injector::{instrument, Model};
use ptx::ptxas::PtxasOptions;
use std::path::PathBuf;
use std::sync::Mutex;

fn workload_ptx() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../workloads/ptx");
    let mut v: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("workload PTX folder {} missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ptx"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    v.sort();
    assert!(
        v.len() >= 16,
        "expected at least 16 workloads, found {}",
        v.len()
    );
    v
}

#[test]
fn instrumented_workloads_pass_ptxas() {
    let ptxas = ptx::ptxas::find_in_workspace().unwrap_or_else(|e| {
        panic!("ptxas not found ({e}): run scripts/install-tools.sh or set PTXAS")
    });
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("instrumented");
    std::fs::create_dir_all(&out).unwrap();
    let mut jobs = Vec::new();
    for (name, src) in workload_ptx() {
        let module = ptx::parse(&src).unwrap();
        for model in Model::ALL {
            let inst = instrument(&module, model).unwrap_or_else(|e| panic!("{name}/{model}: {e}"));
            let file = out.join(format!("{name}.{model}.ptx"));
            std::fs::write(&file, inst.ptx()).unwrap();
            for gpu in ["sm_80", "sm_90"] {
                jobs.push((format!("{name}/{model}/{gpu}"), file.clone(), gpu));
            }
        }
    }
    let total = jobs.len();
    let jobs = Mutex::new(jobs);
    let failures = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let Some((what, file, gpu)) = jobs.lock().unwrap().pop() else {
                    break;
                };
                let mut opts = PtxasOptions::new(gpu);
                opts.opt_level = Some(0);
                // generous: CI machines are small and shared; a timeout is a failure
                opts.timeout = std::time::Duration::from_secs(600);
                match ptxas.check_file(&file, &opts) {
                    Ok(r) if r.verdict.accepted() => {}
                    Ok(r) => failures
                        .lock()
                        .unwrap()
                        .push(format!("{what}: {}\n{}", r.verdict, r.diagnostics)),
                    Err(e) => failures.lock().unwrap().push(format!("{what}: {e}")),
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} ptxas runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

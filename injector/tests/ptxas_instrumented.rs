//! Every model instruments every workload into PTX that ptxas accepts for sm_80 and
//! sm_90 (validation at `--opt-level 0`, which checks the same PTX several times faster
//! than the default optimisation level), and the small workloads into PTX that ptxas
//! also compiles at its default optimisation level (`-O3`, what the driver's JIT uses)
//! for sm_90. Legacy PTX (ISA 3.2 for sm_30) is raised to what the instrumentation needs,
//! and the raised, instrumented module passes ptxas too.
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

/// Writes every workload (of `only`, when given) instrumented for every model into
/// `dir`; returns (what, file) pairs.
fn instrumented(dir: &str, only: Option<&[&str]>) -> Vec<(String, PathBuf)> {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&out).unwrap();
    let mut files = Vec::new();
    let all = workload_ptx();
    let picked: Vec<_> = all
        .iter()
        .filter(|(n, _)| only.is_none_or(|o| o.contains(&n.as_str())))
        .collect();
    if let Some(o) = only {
        assert_eq!(picked.len(), o.len(), "workloads {o:?} not all found");
    }
    for (name, src) in picked {
        let module = ptx::parse(src).unwrap();
        for model in Model::EVERY {
            let inst = instrument(&module, model).unwrap_or_else(|e| panic!("{name}/{model}: {e}"));
            let file = out.join(format!("{name}.{model}.ptx"));
            std::fs::write(&file, inst.ptx()).unwrap();
            files.push((format!("{name}/{model}"), file));
        }
    }
    files
}

/// Runs ptxas on every job on all cores; fails listing every rejection.
fn check_all(jobs: Vec<(String, PathBuf, &'static str)>, opt_level: Option<u8>) {
    let ptxas = ptx::ptxas::find_in_workspace().unwrap_or_else(|e| {
        panic!("ptxas not found ({e}): run scripts/install-tools.sh or set PTXAS")
    });
    let total = jobs.len();
    assert!(total > 0, "no ptxas jobs");
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
                opts.opt_level = opt_level;
                // generous: CI machines are small and shared; a timeout is a failure
                opts.timeout = std::time::Duration::from_secs(600);
                match ptxas.check_file(&file, &opts) {
                    Ok(r) if r.verdict.accepted() => {}
                    Ok(r) => failures
                        .lock()
                        .unwrap()
                        .push(format!("{what}/{gpu}: {}\n{}", r.verdict, r.diagnostics)),
                    Err(e) => failures.lock().unwrap().push(format!("{what}/{gpu}: {e}")),
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

#[test]
fn instrumented_workloads_pass_ptxas() {
    let mut jobs = Vec::new();
    for (what, file) in instrumented("instrumented", None) {
        for gpu in ["sm_80", "sm_90"] {
            jobs.push((what.clone(), file.clone(), gpu));
        }
    }
    check_all(jobs, Some(0));
}

#[test]
fn small_instrumented_workloads_compile_at_the_default_optimisation_level() {
    let small = ["vecadd", "reduction", "gemm_tiled", "bfs"];
    let jobs = instrumented("instrumented-o3", Some(&small))
        .into_iter()
        .map(|(what, file)| (what, file, "sm_90"))
        .collect();
    check_all(jobs, None);
}

#[test]
fn legacy_ptx_is_raised_and_the_instrumented_module_passes_ptxas() {
    let src = include_str!("fixtures/legacy_ptx32.ptx");
    let module = ptx::parse(src).unwrap();
    assert_eq!(
        (module.version(), module.target()),
        (Some((3, 2)), Some("sm_30"))
    );
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("instrumented-legacy");
    std::fs::create_dir_all(&out).unwrap();
    let mut jobs = Vec::new();
    for model in Model::EVERY {
        let inst = instrument(&module, model).unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(
            inst.raised.as_deref(),
            Some(
                "raised .version 3.2 → 6.2 and .target sm_30 → sm_70: the instrumentation uses \
                 activemask and vote.sync"
            ),
            "{model}"
        );
        assert!(
            !inst.sites.is_empty(),
            "{model}: the fixture has sites of every model"
        );
        let text = inst.ptx();
        assert!(text.contains(".version 6.2") && text.contains(".target sm_70"));
        let file = out.join(format!("legacy.{model}.ptx"));
        std::fs::write(&file, text).unwrap();
        for gpu in ["sm_70", "sm_90"] {
            jobs.push((format!("legacy/{model}"), file.clone(), gpu));
        }
    }
    check_all(jobs, Some(0));
}

/// The real-world PTX of `tests/corpus/zluda` (mostly ISA 6.5 for sm_30): every file
/// instruments for every model; those older than sm_70 are raised, and each raised file,
/// instrumented for one model (in turn), passes ptxas for sm_70.
#[test]
fn the_corpus_instruments_and_its_raised_files_pass_ptxas() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/zluda");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ptx"))
        .collect();
    files.sort();
    assert!(files.len() > 100, "corpus has {} files", files.len());
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("instrumented-corpus");
    std::fs::create_dir_all(&out).unwrap();
    let mut jobs = Vec::new();
    for (n, path) in files.iter().enumerate() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let module = ptx::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
        let old = module
            .target()
            .and_then(|t| {
                let digits = t.strip_prefix("sm_")?.trim_end_matches(char::is_alphabetic);
                digits.parse::<u32>().ok()
            })
            .is_some_and(|sm| sm < 70);
        for model in Model::EVERY {
            let inst = instrument(&module, model).unwrap_or_else(|e| panic!("{name}/{model}: {e}"));
            assert_eq!(
                inst.raised.is_some(),
                old,
                "{name}/{model}: {:?}",
                inst.raised
            );
            if old && Model::EVERY[n % Model::EVERY.len()] == model {
                let file = out.join(format!("{name}.{model}.ptx"));
                std::fs::write(&file, inst.ptx()).unwrap();
                jobs.push((format!("{name}/{model}"), file, "sm_70"));
            }
        }
    }
    assert!(jobs.len() > 100, "only {} raised files", jobs.len());
    check_all(jobs, Some(0));
}

//! Broken driver libraries on the library path (a `libcuda` or `libnvidia-ml` without
//! the driver's symbols: a stub, a half-removed install) give a clear message naming
//! the library and the symbol, never a panic with a backtrace.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use support::{command, scratch, stderr, words};

/// Empty shared libraries under the names the CUDA driver and NVML are loaded by.
fn fake_driver_libraries(dir: &Path) {
    for name in ["libcuda.so", "libcuda.so.1", "libnvidia-ml.so.1"] {
        let status = Command::new("cc")
            .args(["-shared", "-o", name, "-x", "c", "/dev/null"])
            .current_dir(dir)
            .status()
            .expect("cc (gcc or clang) builds the fake driver libraries");
        assert!(status.success(), "cc -shared -o {name}");
    }
}

fn with_fakes(dir: &Path, args: &[&str]) -> Output {
    command(dir, args)
        .env("LD_LIBRARY_PATH", dir)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// No panic text, and `text` says which library lacks which symbol.
fn names_the_symbol(args: &[&str], o: &Output, text: &str) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "gpufault {args:?}:\n{err}");
    assert!(
        text.contains("libcuda.so lacks the CUDA driver symbol `cuInit`"),
        "gpufault {args:?}:\n{text}"
    );
}

#[test]
fn a_libcuda_without_symbols_is_reported_not_panicked_on() {
    let dir = scratch("driver-libs");
    fake_driver_libraries(&dir);

    let args = ["devices"];
    let o = with_fakes(&dir, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("no CUDA device: "), "{out}");
    names_the_symbol(&args, &o, last);

    let args = ["run", "vecadd", "--device", "cuda:0"];
    let o = with_fakes(&dir, &args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    names_the_symbol(&args, &o, &stderr(&o));

    // planning falls back to profiling the fault sites on a virtual GPU, and says why
    let args = words(
        "campaign plan --device cuda:0 --workloads vecadd --models iat --injections 2 --out c.db",
    );
    let o = with_fakes(&dir, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    names_the_symbol(&args, &o, &stderr(&o));
}

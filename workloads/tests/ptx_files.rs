//! The checked-in PTX: fresh against its CUDA source, regenerable with NVRTC 12.9, and
//! accepted by ptxas for sm_80 and sm_90.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn header(ptx: &str) -> &str {
    ptx.lines().next().unwrap_or("")
}

fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    header
        .split_whitespace()
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn every_kernel_source_has_a_workload_and_a_ptx() {
    let mut sources: Vec<String> = std::fs::read_dir(workspace().join("workloads/kernels"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter_map(|f| f.strip_suffix(".cu").map(str::to_string))
        .collect();
    sources.sort();
    let mut names: Vec<String> = workloads::all()
        .iter()
        .map(|w| w.meta().name.to_string())
        .collect();
    names.sort();
    assert_eq!(sources, names);
    for w in workloads::all() {
        let on_disk = std::fs::read_to_string(
            workspace().join(format!("workloads/ptx/{}.ptx", w.meta().name)),
        )
        .unwrap();
        assert_eq!(
            on_disk,
            w.ptx(),
            "{}: embedded PTX differs from the file",
            w.meta().name
        );
    }
}

#[test]
fn ptx_headers_match_the_sha256_of_their_sources() {
    for w in workloads::all() {
        let m = w.meta();
        let h = header(m.ptx);
        assert!(
            h.starts_with("// gpufault-workload "),
            "{}: no header line: {h}",
            m.name
        );
        assert_eq!(
            field(h, "source"),
            Some(format!("kernels/{}.cu", m.name).as_str())
        );
        let digest: String = Sha256::digest(m.source.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            field(h, "sha256"),
            Some(digest.as_str()),
            "{}: PTX is stale, run scripts/gen-workload-ptx.py",
            m.name
        );
        assert_eq!(field(h, "nvrtc"), Some("12.9"), "{}", m.name);
        assert_eq!(
            field(h, "options"),
            Some("--gpu-architecture=compute_80"),
            "{}",
            m.name
        );
        assert!(
            m.ptx.contains("\n.version 8.8\n.target sm_80\n"),
            "{}: not PTX 8.8 / sm_80",
            m.name
        );
    }
}

#[test]
fn every_listed_kernel_is_an_entry_and_every_entry_is_listed() {
    for w in workloads::all() {
        let m = w.meta();
        let mut entries: Vec<&str> = m
            .ptx
            .lines()
            .filter_map(|l| l.trim().strip_prefix(".visible .entry "))
            .map(|l| l.split('(').next().unwrap().trim())
            .collect();
        entries.sort_unstable();
        let mut listed = m.kernels.to_vec();
        listed.sort_unstable();
        assert_eq!(entries, listed, "{}", m.name);
    }
}

#[test]
fn nvrtc_regenerates_the_checked_in_ptx() {
    let root = workspace();
    let nvrtc = std::env::var_os("GPUFAULT_NVRTC")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("tools/nvrtc/libnvrtc.so.12"));
    assert!(
        nvrtc.exists(),
        "NVRTC 12.9 not found at {}: set GPUFAULT_NVRTC or run scripts/install-tools.sh",
        nvrtc.display()
    );
    let out = Command::new("python3")
        .arg(root.join("scripts/gen-workload-ptx.py"))
        .arg("--check")
        .env("GPUFAULT_NVRTC", &nvrtc)
        .output()
        .expect("python3 is needed to run scripts/gen-workload-ptx.py");
    assert!(
        out.status.success(),
        "regenerated PTX differs from the checked-in PTX:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd`, killing it after `limit`; returns whether it exited 0, and its stderr.
fn run_with_timeout(mut cmd: Command, limit: Duration) -> (bool, String) {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (
                status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return (false, format!("timed out after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ptxas_accepts_every_workload_for_sm80_and_sm90() {
    let ptxas = std::env::var_os("PTXAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("tools/ptxas"));
    assert!(
        ptxas.exists(),
        "ptxas 12.9 not found at {}: set PTXAS or run scripts/install-tools.sh",
        ptxas.display()
    );
    let dir = std::env::temp_dir().join(format!("gpufault-workloads-ptxas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for w in workloads::all() {
        let file = dir.join(format!("{}.ptx", w.meta().name));
        std::fs::write(&file, w.ptx()).unwrap();
        for arch in ["sm_80", "sm_90"] {
            let mut cmd = Command::new(&ptxas);
            cmd.args(["--gpu-name", arch, "-o"])
                .arg(dir.join("out.cubin"))
                .arg(&file);
            let (ok, err) = run_with_timeout(cmd, Duration::from_secs(120));
            assert!(
                ok,
                "ptxas --gpu-name {arch} rejects {}:\n{err}",
                w.meta().name
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

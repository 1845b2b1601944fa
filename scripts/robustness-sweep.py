#!/usr/bin/env python3
"""The hostile sweep of issue 15: bad inputs, signals, full disks and damaged stores
thrown at every `gpufault` command, each judged, and the table written to
docs/robustness.md.

    scripts/robustness-sweep.py [--bin target/release/gpufault] [--out docs/robustness.md]

A probe passes when the command
  - exits with the expected code (usage errors 2, found problems 1, …; `check` 0-3),
  - prints no panic (`panicked`, `RUST_BACKTRACE`) and finishes within its time limit,
  - names what was wrong: its stderr (or stdout) contains the expected words (the file,
    flag or field), and
  - for the probes that interrupt campaigns: loses and duplicates no result (the
    interrupted and resumed store equals an uninterrupted run row for row).
The script exits 1 when any probe fails. It needs python3, sqlite3 (the module), and for
the full-disk probe `unshare -rm` (user and mount namespaces); a probe whose tool is
missing is reported as such, never as passed.
"""
import argparse
import os
import re
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBES = []


def probe(category, name, args, code, words=(), timeout=120, setup=None, check=None, env=None):
    PROBES.append(dict(category=category, name=name, args=args, code=code,
                       words=list(words), timeout=timeout, setup=setup, check=check, env=env))


# --- fixtures -------------------------------------------------------------------------
VECADD_PTX = (ROOT / "cli/examples/vecadd.ptx").read_text()
HEADER = ".version 8.0\n.target sm_80\n.address_size 64\n"


def write(d, name, text, mode="w"):
    p = Path(d) / name
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, mode) as f:
        f.write(text)
    return p


def fixtures(d, gf):
    write(d, "ok.ptx", VECADD_PTX)
    write(d, "empty.ptx", "")
    write(d, "garbage.ptx", bytes(range(256)) * 8, "wb")
    write(d, "latin1.ptx", (HEADER + "// caf\xe9\n.visible .entry k() { ret; }\n").encode("latin-1"), "wb")
    write(d, "unknown-op.ptx", HEADER + ".visible .entry k()\n{\n\tfrobnicate.f32 %f1, %f2;\n\tret;\n}\n")
    write(d, "dup.ptx", HEADER + "".join(".visible .entry k()\n{\n\tret;\n}\n" for _ in range(17000)))
    write(d, "version.ptx", ".version 99.9\n.target sm_80\n.address_size 64\n.visible .entry k() { ret; }\n")
    write(d, "target.ptx", ".version 8.0\n.target sm_999\n.address_size 64\n.visible .entry k() { ret; }\n")
    write(d, "semicolon.ptx", HEADER + ".visible .entry k()\n{\n\tret\n}\n")
    write(d, "comment.ptx", HEADER + "/* never closed\n.visible .entry k() { ret; }\n")
    write(d, "undeclared.ptx", HEADER + ".visible .entry k()\n{\n\tmov.u32 %r1, 1;\n\tret;\n}\n")
    write(d, "addr32.ptx", ".version 8.0\n.target sm_80\n.address_size 32\n.visible .entry k() { ret; }\n")
    write(d, "longline.ptx", HEADER + "// " + "x" * 2_000_000 + "\n.visible .entry k() { ret; }\n")
    write(d, "illegal.ptx", HEADER + ".visible .entry k()\n{\n\t.reg .b64 %rd<2>;\n\tmov.u64 %rd1, 0;\n"
          "\tst.global.u32 [%rd1], 1;\n\tret;\n}\n")
    write(d, "loop.ptx", HEADER + ".visible .entry k()\n{\n$L:\n\tbra $L;\n}\n")
    write(d, "deadlock.ptx", HEADER + ".visible .entry k()\n{\n\t.reg .pred %p;\n\t.reg .b32 %r;\n"
          "\tmov.u32 %r, %tid.x;\n\tsetp.lt.u32 %p, %r, 32;\n\t@%p bra $A;\n\tbar.sync 1;\n"
          "\tbra $E;\n$A:\n\tbar.sync 0;\n$E:\n\tret;\n}\n")
    write(d, "a.bin", struct.pack("<256f", *range(256)), "wb")
    write(d, "notjson.json", "{ nope")
    write(d, "unknown-key.json", '{"gpus": {"sim#1": {"faults": "x"}}}')
    write(d, "bad-telemetry.json", '{"gpus": {"sim#1": {"telemetry": {"pcie": {"width": "x8"}}}}}')
    write(d, "bad-fault.json", '{"gpus": {"sim:h100#1": {"fault": "iat:sm=500,sp=0,warps=0x1,lanes=0x1"}}}')
    write(d, "faulty.json", '{"gpus": {"sim:h100#1": {"fault": "wdrop:sm=3,sp=1,warps=0x1"}}}')
    write(d, "xid.json", '{"gpus": {"sim:h100#1": {"telemetry": {"xid_events": [79]}}}}')
    write(d, "pcie.json", '{"gpus": {"sim:h100#1": {"telemetry": {"pcie": {"width": 8}}}}}')
    write(d, "text.db", "campaign,results\n1,2\n")
    (Path(d) / "dir.db").mkdir(exist_ok=True)
    write(d, "bad.toml", 'name = "k"\n[code]\nptx = "ok.ptx"\nfrobnicate = 1\n')
    write(d, "missing-code.toml", 'name = "k"\n[code]\nptx = "nowhere.ptx"\n')
    write(d, "wrong-arg.toml", 'name = "k"\n[code]\nptx = "ok.ptx"\n[[buffers]]\nname = "a"\n'
          'type = "f32"\nlen = 256\n[[launches]]\nkernel = "vecadd"\ngrid = 1\nblock = 256\n'
          'args = [1.5, { buffer = "a" }, { buffer = "a" }, 256]\n[[outputs]]\nbuffer = "a"\n')
    # a small campaign store, a second plan, and their copies
    plan = ["campaign", "plan", "--workloads", "vecadd", "--models", "iat,wv", "--injections", "30",
            "--device", "sim"]
    for out, seed in [("c.db", "1"), ("other.db", "2")]:
        subprocess.run([gf, *plan, "--seed", seed, "--out", str(Path(d) / out)],
                       capture_output=True, check=True)
    subprocess.run([gf, "campaign", "run", str(Path(d) / "c.db"), "--jobs", "1"],
                   capture_output=True, check=True)
    db = sqlite3.connect(Path(d) / "c.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("PRAGMA journal_mode=DELETE")
    db.close()
    shutil.copy(Path(d) / "c.db", Path(d) / "copy.db")
    shutil.copy(Path(d) / "c.db", Path(d) / "damaged.db")
    with open(Path(d) / "damaged.db", "r+b") as f:
        f.seek(4096 + 64)
        f.write(b"\xa5" * 8000)
    v1 = ROOT / "injector/tests/fixtures/store-v1.db"
    shutil.copy(v1, Path(d) / "v1.db")
    os.symlink(Path(d) / "c.db", Path(d) / "link.db")
    (Path(d) / "ro").mkdir(exist_ok=True)


# --- probes ---------------------------------------------------------------------------
U = 2  # usage or environment error
P = 1  # found a problem

probe("cli", "no subcommand", [], U, ["Usage"])
probe("cli", "unknown subcommand", ["frobnicate"], U, ["frobnicate"])
probe("cli", "unknown flag", ["run", "vecadd", "--frob"], U, ["--frob"])
probe("cli", "--version", ["--version"], 0, ["gpufault"])
probe("cli", "help of every command", ["campaign", "--help"], 0, ["plan"])

probe("ptx", "missing file", ["ptx", "check", "nowhere.ptx"], U, ["nowhere.ptx"])
probe("ptx", "a directory", ["ptx", "check", "dir.db"], U, ["dir.db"])
probe("ptx", "empty file", ["ptx", "check", "empty.ptx"], P, ["empty.ptx"])
probe("ptx", "binary garbage", ["ptx", "check", "garbage.ptx"], P, ["garbage.ptx:", "not UTF-8"])
probe("ptx", "not UTF-8", ["ptx", "check", "latin1.ptx"], P, ["latin1.ptx:4", "byte"])
probe("ptx", "unknown opcode", ["ptx", "check", "unknown-op.ptx"], P, ["unknown-op.ptx:6", "frobnicate"])
probe("ptx", "17,000 kernels of one name", ["ptx", "check", "dup.ptx"], P, ["dup.ptx:8", "defined twice"])
probe("ptx", ".version 99.9", ["ptx", "check", "version.ptx"], P, ["version.ptx:1", "99.9"])
probe("ptx", "unknown target", ["ptx", "check", "target.ptx"], P, ["target.ptx:2", "sm_999"])
probe("ptx", "missing semicolon", ["ptx", "check", "semicolon.ptx"], P, ["semicolon.ptx:"])
probe("ptx", "unterminated comment", ["ptx", "check", "comment.ptx"], P, ["comment.ptx:4"])
probe("ptx", "a 2 MB line", ["ptx", "check", "longline.ptx"], 0, ["ok"])
probe("ptx", "stats of an unknown opcode", ["ptx", "stats", "unknown-op.ptx"], P, ["frobnicate"])
probe("ptx", "instrument an unknown opcode", ["ptx", "instrument", "--model", "iat", "unknown-op.ptx"], P,
      ["frobnicate"])
probe("ptx", "instrument, unknown model", ["ptx", "instrument", "--model", "nope", "ok.ptx"], U, ["nope"])
probe("ptx", "instrument 32-bit addresses", ["ptx", "instrument", "--model", "iat", "addr32.ptx"], U,
      ["address_size"])
probe("ptx", "fmt of garbage", ["ptx", "fmt", "garbage.ptx"], P, ["garbage.ptx"])
probe("ptx", "ptxas rejects what parses", ["ptx", "check", "--ptxas", "undeclared.ptx"], P,
      ["undeclared.ptx", "ptxas"])

SIM = ["sim", "run", "ok.ptx", "--kernel", "vecadd", "--grid", "1", "--block", "256",
       "--arg", "buf:a.bin", "--arg", "buf:a.bin", "--arg", "zeros:1024", "--arg", "u32:256"]
probe("sim", "a good launch", SIM, 0, ["thread-instructions"])
probe("sim", "unknown kernel", ["sim", "run", "ok.ptx", "--kernel", "nope", "--grid", "1", "--block", "1"],
      U, ["nope"])
probe("sim", "zero grid", SIM[:5] + ["--grid", "0", "--block", "1"], U, ["--grid"])
probe("sim", "grid not a number", SIM[:5] + ["--grid", "a,b", "--block", "1"], U, ["--grid"])
probe("sim", "2048 threads per block", SIM[:5] + ["--grid", "1", "--block", "2048"] + SIM[9:], U, ["2048"])
probe("sim", "too few arguments", SIM[:9], U, ["argument"])
probe("sim", "bad argument kind", SIM[:9] + ["--arg", "q32:1"], U, ["--arg 0", "q32"])
probe("sim", "argument file missing", SIM[:9] + ["--arg", "buf:none.bin"], U, ["none.bin"])
probe("sim", "negative zeros", SIM[:9] + ["--arg", "zeros:-1"], U, ["zeros"])
probe("sim", "unknown profile", SIM + ["--profile", "sim:z80"], U, ["--profile", "sim:z80"])
probe("sim", "a CUDA device", SIM + ["--device", "cuda:0"], U, ["--device cuda:0"])
probe("sim", "an invalid node fault", SIM + ["--device", "sim:h100#1", "--node-config", "bad-fault.json"], U,
      ["sm=500"])
probe("sim", "dump into a file path", SIM + ["--dump", "ok.ptx/x"], U, ["ok.ptx"])
probe("sim", "illegal address", ["sim", "run", "illegal.ptx", "--kernel", "k", "--grid", "1", "--block", "1"],
      P, ["illegal address", "line"])
probe("sim", "endless loop, small budget", ["sim", "run", "loop.ptx", "--kernel", "k", "--grid", "1",
                                            "--block", "32", "--budget", "100000"], P, ["budget"])
probe("sim", "barrier deadlock", ["sim", "run", "deadlock.ptx", "--kernel", "k", "--grid", "1",
                                  "--block", "64"], P, ["deadlock"])
probe("sim", "budget zero", SIM + ["--budget", "0"], P, ["budget"])

probe("devices", "unknown device name", ["devices", "tpu:0"], U, ["tpu:0"])
probe("devices", "node config missing", ["devices", "--node-config", "none.json"], U, ["none.json"])
probe("devices", "node config not JSON", ["devices", "--node-config", "notjson.json"], U, ["notjson.json"])
probe("devices", "node config unknown key", ["devices", "--node-config", "unknown-key.json"], U, ["faults"])
probe("devices", "telemetry of a wrong type", ["devices", "--node-config", "bad-telemetry.json"], U,
      ["pcie.width", "sim#1"])
probe("devices", "a fault on an SM it lacks", ["devices", "sim:h100#1", "--node-config", "bad-fault.json",
                                               "--json"], 0, ["sm=500"])
probe("devices", "no CUDA here", ["devices", "cuda:3", "--json"], 0, ["cuda:3"])

probe("run", "unknown workload", ["run", "nope"], U, ["unknown workload `nope`"])
probe("run", "size 0", ["run", "vecadd", "--size", "0", "--device", "sim"], U, ["--size 0"])
probe("run", "size too large", ["run", "vecadd", "--size", "999999999999", "--device", "sim"], U, ["--size"])
probe("run", "negative seed", ["run", "vecadd", "--seed", "-1"], U, ["--seed"])
probe("run", "unknown device", ["run", "vecadd", "--device", "tpu:0"], U, ["--device tpu:0"])
probe("run", "CUDA without a driver", ["run", "vecadd", "--device", "cuda:0"], U, ["--device cuda:0"])
probe("run", "unknown model", ["run", "vecadd", "--fault", "zzz:sm=0"], U, ["--fault", "zzz"])
probe("run", "unknown fault key", ["run", "vecadd", "--fault", "iat:sm=1,frob=2"], U, ["frob"])
probe("run", "key of another model", ["run", "vecadd", "--fault", "iat:mode=on"], U, ["mode"])
probe("run", "SM the device lacks", ["run", "vecadd", "--device", "sim", "--fault", "iat:sm=99999"], U,
      ["sm=99999", "8 SMs"])
probe("run", "warp slots it lacks", ["run", "vecadd", "--device", "sim", "--fault",
                                     "wv:sm=0,warps=0x10000"], U, ["warps=0x10000"])
probe("run", "JSON spec, wrong type", ["run", "vecadd", "--fault", '{"model":5}'], U, ["model", "5"])
probe("run", "op group not in the workload", ["run", "gemm_tiled", "--device", "sim", "--fault",
                                              "ioc:sm=0,op=fma.rn.f32,subst=mul"], U, ["fma.rn.f32"])
probe("run", "manifest missing", ["run", "--kernel", "none.toml"], U, ["none.toml"])
probe("run", "manifest unknown key", ["run", "--kernel", "bad.toml"], U, ["bad.toml", "frobnicate"])
probe("run", "manifest code missing", ["run", "--kernel", "missing-code.toml"], U, ["nowhere.ptx"])
probe("run", "manifest argument type", ["run", "--kernel", "wrong-arg.toml"], U, ["args"])
probe("run", "workload and kernel", ["run", "vecadd", "--kernel", "bad.toml"], U, ["--kernel"])
probe("run", "against an unknown device", ["run", "vecadd", "--device", "sim", "--against", "tpu:1"], U,
      ["--against tpu:1"])
probe("run", "node config not JSON", ["run", "vecadd", "--node-config", "notjson.json"], U, ["notjson.json"])
probe("run", "on a faulty virtual GPU", ["run", "vecadd", "--device", "sim:h100#1", "--node-config",
                                         "faulty.json"], P, ["MISMATCH"])

probe("list", "models as JSON", ["models", "--json"], 0, ["iat"])
probe("list", "workloads, unknown flag", ["workloads", "--bogus"], U, ["--bogus"])

PLAN = ["campaign", "plan", "--models", "iat", "--injections", "5"]
probe("campaign", "plan without --models", ["campaign", "plan", "--workloads", "vecadd", "--injections", "5"],
      U, ["--models"])
probe("campaign", "plan without subjects", ["campaign", "plan", "--models", "iat", "--injections", "5"], U,
      ["--workloads"])
probe("campaign", "unknown workload", PLAN + ["--workloads", "nope"], U, ["--workloads", "nope"])
probe("campaign", "unknown model", ["campaign", "plan", "--workloads", "vecadd", "--models", "zz",
                                    "--injections", "1"], U, ["--models", "zz"])
probe("campaign", "11 million injections", PLAN[:4] + ["--injections", "11000000", "--workloads", "vecadd"],
      U, ["--injections"])
probe("campaign", "margin 0.7", ["campaign", "plan", "--workloads", "vecadd", "--models", "iat", "--margin",
                                 "0.7"], U, ["--margin"])
probe("campaign", "output exists", PLAN + ["--workloads", "vecadd", "--device", "sim", "--out", "c.db"], U,
      ["already exists"])
probe("campaign", "output dir missing", PLAN + ["--workloads", "vecadd", "--out", "nodir/x.db"], U,
      ["directory nodir does not exist"])
probe("campaign", "output is a directory", PLAN + ["--workloads", "vecadd", "--out", "dir.db"], U, ["dir.db"])
probe("campaign", "unknown profile", PLAN + ["--workloads", "vecadd", "--profile", "sim:z80", "--out", "p.db"],
      U, ["--profile", "sim:z80"])
probe("campaign", "a node as device", PLAN + ["--workloads", "vecadd", "--device", "sim:h100*2", "--out",
                                              "n.db"], U, ["node"])
probe("campaign", "faults on SMs the device lacks", ["campaign", "plan", "--models", "iat", "--workloads",
                                                    "vecadd", "--device", "sim", "--profile", "sim:h100",
                                                    "--sampling", "physical", "--injections", "50",
                                                    "--out", "big.db"], U, ["8 SMs"])
RED = str(ROOT / "examples/kernels/reduction/reduction.toml")
probe("campaign", "two kernels named alike", PLAN + ["--kernels", f"{RED},{RED}", "--device", "sim", "--out",
                                                     "twice.db"], U, ["two subjects are called `reduction`"])
probe("campaign", "shard 3/3", ["campaign", "run", "c.db", "--shard", "3/3"], U, ["--shard"])
probe("campaign", "jobs 0", ["campaign", "run", "c.db", "--jobs", "0"], U, ["--jobs"])
probe("campaign", "run a missing store", ["campaign", "run", "none.db"], U, ["none.db", "no such"])
probe("campaign", "run a text file", ["campaign", "run", "text.db"], U, ["text.db", "not a SQLite"])
probe("campaign", "run a directory", ["campaign", "run", "dir.db"], U, ["dir.db", "directory"])
probe("campaign", "run a damaged store", ["campaign", "run", "damaged.db"], U, ["damaged.db", "damaged"])
probe("campaign", "status of a damaged store", ["campaign", "status", "damaged.db"], U, ["damaged"])
probe("campaign", "status of a schema-1 store", ["campaign", "status", "v1.db"], 0, ["12/12"])
probe("campaign", "resume a finished store", ["campaign", "resume", "copy.db"], 0, ["done"])
probe("campaign", "merge different plans", ["campaign", "merge", "c.db", "other.db", "-o", "m1.db"], U,
      ["other.db", "plan"])
probe("campaign", "merge a store with itself", ["campaign", "merge", "c.db", "c.db", "-o", "m2.db"], U,
      ["same file"])
probe("campaign", "merge through a link", ["campaign", "merge", "c.db", "link.db", "-o", "m3.db"], U,
      ["same file"])
probe("campaign", "merge a copy", ["campaign", "merge", "c.db", "copy.db", "-o", "m4.db"], U, ["same session"])
probe("campaign", "merge over a file", ["campaign", "merge", "c.db", "-o", "other.db"], U, ["already exists"])
probe("campaign", "jsonl into a missing dir", ["campaign", "resume", "copy.db", "--jsonl", "nodir/x.jsonl"], U,
      ["--jsonl"])
probe("campaign", "a second run while one runs", None, U, ["already being run"],
      setup="busy")
probe("campaign", "kill -9 mid-run, then resume", None, 0, [], setup="kill9", timeout=300)
probe("campaign", "Ctrl-C mid-run, then resume", None, 130, ["resume"], setup="sigint", timeout=300)
probe("campaign", "SIGTERM mid-run, then resume", None, 143, ["resume"], setup="sigterm", timeout=300)
probe("campaign", "a full disk mid-run", None, U, ["disk is full"], setup="fulldisk", timeout=300)
probe("campaign", "a read-only store", None, U, ["read-only"], setup="readonly")

probe("report", "-o the store itself", ["report", "c.db", "--format", "csv", "-o", "c.db"], U, ["c.db"])
probe("report", "-o through a symlink", ["report", "c.db", "--format", "csv", "-o", "link.db"], U, ["link.db"])
probe("report", "-o over another store", ["report", "c.db", "--format", "csv", "-o", "other.db"], U,
      ["other.db"])
probe("report", "unknown format", ["report", "c.db", "--format", "xls"], U, ["xls"])
probe("report", "missing store", ["report", "none.db"], U, ["none.db"])
probe("report", "a damaged store", ["report", "damaged.db"], U, ["damaged"])
probe("report", "a directory", ["report", "dir.db"], U, ["directory"])
probe("report", "a schema-1 store", ["report", "v1.db", "--format", "json"], 0, ["vecadd"])
probe("report", "a plan without results", ["report", "other.db", "--format", "html", "-o", "o.html"], 0, [])
probe("report", "-o into a missing dir", ["report", "c.db", "-o", "nodir/r.html", "--format", "html"], U,
      ["nodir"])

probe("check", "a healthy virtual node", ["check", "sim:h100*2", "--json"], 0, ["healthy"], timeout=300)
probe("check", "a faulty virtual GPU", ["check", "sim:h100*2", "--node-config", "faulty.json", "--reason"], 1,
      ["SM3"], timeout=300)
probe("check", "an XID", ["check", "sim:h100#1", "--node-config", "xid.json", "--json"], 1, ["xid"], timeout=300)
probe("check", "a narrow PCIe link", ["check", "sim:h100#1", "--node-config", "pcie.json", "--json"], 2,
      ["pcie"], timeout=300)
probe("check", "no driver", ["check", "cuda:0", "--json"], 3, ["unknown"])
probe("check", "unknown level", ["check", "sim", "--level", "deep"], 3, ["--level"])
probe("check", "unknown device", ["check", "tpu:0"], 3, ["tpu:0"])
probe("check", "prometheus into a missing dir", ["check", "sim", "--prometheus", "nodir/m.prom"], 3, ["nodir"],
      timeout=300)


# --- running --------------------------------------------------------------------------
def rows(db):
    c = sqlite3.connect(db)
    r = c.execute("SELECT subject, model, idx, outcome_json, activations, instructions, error "
                  "FROM results ORDER BY 1, 2, 3").fetchall()
    c.close()
    return r


def count(db):
    if not Path(db).exists():
        return 0
    try:
        c = sqlite3.connect(db, timeout=10)
        n = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        c.close()
        return n
    except sqlite3.Error:
        return 0


def fresh_plan(gf, d, name, n=60):
    out = Path(d) / name
    for suffix in ["", "-wal", "-shm"]:
        Path(str(out) + suffix).unlink(missing_ok=True)
    subprocess.run([gf, "campaign", "plan", "--workloads", "vecadd,gemm_naive", "--models", "iat,brx",
                    "--injections", str(n), "--device", "sim", "--out", str(out)],
                   capture_output=True, check=True, cwd=d)
    return out


def interrupt(gf, d, sig):
    """Starts a run, interrupts it with `sig` after some results, resumes it, and checks
    the result rows against an uninterrupted run: returns (code, stderr, extra problem)."""
    whole = fresh_plan(gf, d, "whole.db")
    subprocess.run([gf, "campaign", "run", str(whole), "--jobs", "2"], capture_output=True, check=True, cwd=d)
    db = fresh_plan(gf, d, "cut.db")
    p = subprocess.Popen([gf, "campaign", "run", str(db), "--jobs", "2"], cwd=d, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env={**os.environ, "CI": "true"})
    t = time.time()
    while count(db) < 10 and p.poll() is None and time.time() - t < 60:
        time.sleep(0.01)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    code = p.returncode if p.returncode >= 0 else -p.returncode
    if sig == signal.SIGKILL:
        code = 0 if p.returncode == -9 else p.returncode
    r = subprocess.run([gf, "campaign", "resume", str(db)], capture_output=True, cwd=d)
    problem = None
    if r.returncode != 0:
        problem = f"resume exited {r.returncode}: {r.stderr.decode()[-300:]}"
    elif rows(db) != rows(whole):
        problem = "the resumed store differs from an uninterrupted run"
    return code, err.decode(), problem


def special(kind, gf, d):
    if kind == "busy":
        db = fresh_plan(gf, d, "busy.db", 200)
        p = subprocess.Popen([gf, "campaign", "run", str(db), "--jobs", "1"], cwd=d,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t = time.time()
        while count(db) < 1 and time.time() - t < 60:
            time.sleep(0.01)
        r = subprocess.run([gf, "campaign", "run", str(db)], capture_output=True, cwd=d)
        p.kill()
        p.wait()
        return r.returncode, r.stderr.decode(), None
    if kind in ("kill9", "sigint", "sigterm"):
        sig = {"kill9": signal.SIGKILL, "sigint": signal.SIGINT, "sigterm": signal.SIGTERM}[kind]
        return interrupt(gf, d, sig)
    if kind == "fulldisk":
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-rm", "true"]).returncode != 0:
            return None, "", "unshare -rm is not available here (no full disk could be made)"
        db = fresh_plan(gf, d, "full.db", 300)
        kib = db.stat().st_size // 1024 + 1024 + 160
        script = (f"mkdir -p full && mount -t tmpfs -o size={kib}k tmpfs full && cp full.db full/ && "
                  f"'{gf}' campaign run full/full.db --jobs 1; echo rc=$? >&2")
        r = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, cwd=d)
        err = r.stderr.decode()
        code = int(err.rsplit("rc=", 1)[1].split()[0]) if "rc=" in err else None
        return code, err, None
    if kind == "readonly":
        db = fresh_plan(gf, d, "ro.db", 5)
        os.chmod(db, 0o444)
        cmd = [gf, "campaign", "run", str(db)]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                return None, "", "setpriv is needed to drop root for this probe"
            shutil.copy(gf, Path(d) / "gf-copy")
            os.chmod(Path(d) / "gf-copy", 0o755)
            os.chmod(d, 0o755)
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(Path(d) / "gf-copy"),
                   "campaign", "run", str(db)]
        r = subprocess.run(cmd, capture_output=True, cwd=d)
        return r.returncode, r.stderr.decode(), None
    raise ValueError(kind)


def run_probe(pr, gf, d):
    t = time.time()
    extra = None
    if pr["setup"]:
        code, text, extra = special(pr["setup"], gf, d)
    else:
        env = {**os.environ, "CI": "true", **(pr["env"] or {})}
        try:
            r = subprocess.run([gf, *pr["args"]], capture_output=True, cwd=d, env=env, timeout=pr["timeout"])
            code, text = r.returncode, r.stderr.decode(errors="replace") + r.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired:
            return dict(code="timeout", verdict="FAIL: hung", secs=time.time() - t)
    secs = time.time() - t
    problems = []
    if extra:
        problems.append(extra)
    if "panicked" in text or "RUST_BACKTRACE" in text:
        problems.append("panic text")
    if code != pr["code"]:
        problems.append(f"exit {code}, expected {pr['code']}")
    missing = [w for w in pr["words"] if w not in text]
    if missing:
        problems.append("does not say " + ", ".join(f"`{w}`" for w in missing))
    first = next((line for line in text.splitlines() if line.strip()), "")
    # the table is checked in: this machine's paths and process ids are not part of it
    first = first.replace(str(d), "$TMP").replace(str(ROOT), ".")
    first = re.sub(r"by process \d+ on \S+ ", "by process PID on HOST ", first)
    return dict(code=code, secs=secs, verdict="ok" if not problems else "FAIL: " + "; ".join(problems),
                said=first[:160])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "target/release/gpufault"))
    ap.add_argument("--out", default=str(ROOT / "docs/robustness.md"))
    a = ap.parse_args()
    gf = str(Path(a.bin).resolve())
    results = []
    with tempfile.TemporaryDirectory(prefix="gpufault-sweep-") as d:
        fixtures(d, gf)
        for pr in PROBES:
            r = run_probe(pr, gf, d)
            results.append((pr, r))
            print(f"{r['verdict'][:60]:<60} {pr['category']}: {pr['name']}", flush=True)
    failed = [x for x in results if x[1]["verdict"] != "ok"]
    lines = [
        "# Robustness: the hostile sweep",
        "",
        "Every probe below throws a bad input, a signal, a full disk or a damaged store at one",
        "`gpufault` command and judges what it did: the exit code it should give, no panic text,",
        "finished within its time limit, and an error that names the file, flag or field (the",
        "words in the last column must appear in its output). Probes that interrupt a campaign",
        "also require that the resumed store equals an uninterrupted run row for row (nothing",
        "lost, nothing duplicated). Made by `scripts/robustness-sweep.py` (rerun it to check a",
        "change; it exits 1 when a probe fails).",
        "",
        f"**{len(results)} probes, {len(results) - len(failed)} ok, {len(failed)} failed.**",
        "",
        "| # | command | probe | exit | expected | verdict | first line of its output |",
        "|---:|---|---|---:|---:|---|---|",
    ]
    for i, (pr, r) in enumerate(results, 1):
        said = r.get("said", "").replace("|", "\\|").replace("`", "'")
        lines.append(f"| {i} | {pr['category']} | {pr['name']} | {r['code']} | {pr['code']} | {r['verdict']} | "
                     f"{said} |")
    Path(a.out).write_text("\n".join(lines) + "\n")
    print(f"{len(results)} probes, {len(failed)} failed; table in {a.out}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

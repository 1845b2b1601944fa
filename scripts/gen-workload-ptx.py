#!/usr/bin/env python3
"""Regenerates workloads/ptx/<name>.ptx from workloads/kernels/<name>.cu with NVRTC 12.9.

Usage:
    scripts/gen-workload-ptx.py            rewrite every PTX file
    scripts/gen-workload-ptx.py --check    regenerate in memory, exit 1 if any PTX is stale
    scripts/gen-workload-ptx.py NAME...    only these workloads

NVRTC is found through $GPUFAULT_NVRTC, else tools/nvrtc/libnvrtc.so.12 (installed by
scripts/install-tools.sh). No GPU is needed.

Each PTX starts with one header comment line that the workloads tests check:
    // gpufault-workload source=kernels/NAME.cu sha256=HEX nvrtc=MAJOR.MINOR options=OPT,OPT
"""
import ctypes
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNELS = os.path.join(ROOT, "workloads", "kernels")
PTX_DIR = os.path.join(ROOT, "workloads", "ptx")
# One option set for every workload: the defaults of a real build (fmad contraction on,
# IEEE division and square root), PTX for compute capability 8.0 (PTX ISA 8.8 with 12.9).
OPTIONS = ["--gpu-architecture=compute_80"]
EXPECTED_VERSION = (12, 9)


def load_nvrtc():
    path = os.environ.get("GPUFAULT_NVRTC") or os.path.join(ROOT, "tools", "nvrtc", "libnvrtc.so.12")
    if not os.path.exists(path):
        sys.exit(f"error: NVRTC not found at {path}: set GPUFAULT_NVRTC or run scripts/install-tools.sh")
    lib = ctypes.CDLL(path)
    major, minor = ctypes.c_int(), ctypes.c_int()
    check(lib, lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
    version = (major.value, minor.value)
    if version != EXPECTED_VERSION:
        sys.exit(f"error: {path} is NVRTC {version[0]}.{version[1]}, the checked-in PTX needs "
                 f"{EXPECTED_VERSION[0]}.{EXPECTED_VERSION[1]}")
    return lib, version


def check(lib, code, what):
    if code != 0:
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        sys.exit(f"error: {what} failed: {lib.nvrtcGetErrorString(code).decode()}")


def compile_cu(lib, name, source):
    prog = ctypes.c_void_p()
    check(lib, lib.nvrtcCreateProgram(ctypes.byref(prog), source, f"{name}.cu".encode(), 0, None, None),
          f"nvrtcCreateProgram({name})")
    opts = (ctypes.c_char_p * len(OPTIONS))(*[o.encode() for o in OPTIONS])
    result = lib.nvrtcCompileProgram(prog, len(OPTIONS), opts)
    log_size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(log_size))
    log = ctypes.create_string_buffer(log_size.value)
    lib.nvrtcGetProgramLog(prog, log)
    log_text = log.value.decode(errors="replace").strip()
    if result != 0:
        sys.exit(f"error: {name}.cu does not compile:\n{log_text}")
    if log_text:
        print(f"{name}.cu: {log_text}", file=sys.stderr)
    size = ctypes.c_size_t()
    check(lib, lib.nvrtcGetPTXSize(prog, ctypes.byref(size)), "nvrtcGetPTXSize")
    buf = ctypes.create_string_buffer(size.value)
    check(lib, lib.nvrtcGetPTX(prog, buf), "nvrtcGetPTX")
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return buf.value.decode()


def header(name, source, version):
    digest = hashlib.sha256(source).hexdigest()
    return (f"// gpufault-workload source=kernels/{name}.cu sha256={digest} "
            f"nvrtc={version[0]}.{version[1]} options={','.join(OPTIONS)}\n")


def main(argv):
    check_only = "--check" in argv
    names = [a for a in argv if not a.startswith("--")]
    if not names:
        names = sorted(f[:-3] for f in os.listdir(KERNELS) if f.endswith(".cu"))
    lib, version = load_nvrtc()
    stale = []
    for name in names:
        with open(os.path.join(KERNELS, f"{name}.cu"), "rb") as f:
            source = f.read()
        ptx = header(name, source, version) + compile_cu(lib, name, source)
        out = os.path.join(PTX_DIR, f"{name}.ptx")
        if check_only:
            try:
                with open(out, encoding="utf-8", newline="") as f:
                    current = f.read()
            except FileNotFoundError:
                current = None
            if current != ptx:
                stale.append(name)
        else:
            with open(out + ".part", "w", encoding="utf-8", newline="") as f:
                f.write(ptx)
            os.replace(out + ".part", out)
            print(f"wrote workloads/ptx/{name}.ptx", file=sys.stderr)
    if stale:
        print("stale PTX (run scripts/gen-workload-ptx.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

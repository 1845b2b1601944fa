#!/usr/bin/env python3
"""Compiles CUDA C++ to PTX with NVRTC (through ctypes, no GPU needed).

Usage: gen-ptx-fixtures.py LIBNVRTC SRC.cu OUT.ptx [NVRTC OPTION...]
Exits non-zero with NVRTC's log when the compilation fails.
"""
import ctypes
import os
import sys


def main():
    lib_path, src_path, out_path, *opts = sys.argv[1:]
    nvrtc = ctypes.CDLL(lib_path)
    with open(src_path, "rb") as f:
        src = f.read()
    prog = ctypes.c_void_p()
    name = os.path.basename(src_path).encode()
    check(nvrtc, nvrtc.nvrtcCreateProgram(ctypes.byref(prog), src, name, 0, None, None))
    c_opts = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
    rc = nvrtc.nvrtcCompileProgram(prog, len(opts), c_opts)
    if rc != 0:
        size = ctypes.c_size_t()
        nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        nvrtc.nvrtcGetProgramLog(prog, log)
        sys.exit(f"nvrtc failed on {src_path}:\n{log.value.decode(errors='replace')}")
    size = ctypes.c_size_t()
    check(nvrtc, nvrtc.nvrtcGetPTXSize(prog, ctypes.byref(size)))
    buf = ctypes.create_string_buffer(size.value)
    check(nvrtc, nvrtc.nvrtcGetPTX(prog, buf))
    nvrtc.nvrtcDestroyProgram(ctypes.byref(prog))
    ptx = buf.value.decode()
    # NVRTC names the source `<cwd>/<program name>` in `.file`; keep the committed PTX
    # free of this machine's paths.
    ptx = ptx.replace('"' + os.getcwd() + "/", '"')
    with open(out_path, "w") as f:
        f.write(ptx)


def check(nvrtc, rc):
    if rc != 0:
        nvrtc.nvrtcGetErrorString.restype = ctypes.c_char_p
        sys.exit(f"nvrtc error {rc}: {nvrtc.nvrtcGetErrorString(rc).decode()}")


if __name__ == "__main__":
    main()

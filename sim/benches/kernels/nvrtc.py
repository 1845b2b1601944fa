#!/usr/bin/env python3
"""Compile CUDA C++ to PTX with NVRTC (no GPU needed).

Usage: GPUFAULT_NVRTC=path/to/libnvrtc.so.12 python3 nvrtc.py FILE.cu > FILE.ptx
Options used: --gpu-architecture=compute_80 (NVRTC 12.9 gives PTX ISA 8.8).
"""
import ctypes, os, sys

lib = ctypes.CDLL(os.environ["GPUFAULT_NVRTC"])
src = open(sys.argv[1], "rb").read()
prog = ctypes.c_void_p()
def check(rc, what):
    if rc != 0:
        sys.exit(f"nvrtc: {what} failed with code {rc}")
check(lib.nvrtcCreateProgram(ctypes.byref(prog), src, os.path.basename(sys.argv[1]).encode(), 0, None, None), "create")
opts = [b"--gpu-architecture=compute_80"]
arr = (ctypes.c_char_p * len(opts))(*opts)
rc = lib.nvrtcCompileProgram(prog, len(opts), arr)
size = ctypes.c_size_t()
lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
log = ctypes.create_string_buffer(size.value)
lib.nvrtcGetProgramLog(prog, log)
if rc != 0:
    sys.exit("nvrtc: compile failed:\n" + log.value.decode())
lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
ptx = ctypes.create_string_buffer(size.value)
lib.nvrtcGetPTX(prog, ptx)
sys.stdout.write(ptx.value.decode())

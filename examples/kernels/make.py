#!/usr/bin/env python3
"""Regenerates the data, reference files and checked-in PTX of the example manifests.

Usage (from the repository root; needs only Python, no NumPy and no GPU):
    GPUFAULT_NVRTC=tools/nvrtc/libnvrtc.so.12 python3 examples/kernels/make.py

- saxpy/x.npy, saxpy/y.npy: 4096 float32 inputs (Python's random, seed 1);
  saxpy/y_ref.npy: a * x + y computed in double precision, rounded to float32.
- reduction/reduction.ptx: reduction/reduction.cu through NVRTC 12.9,
  --gpu-architecture=compute_80 (like the workloads' PTX);
  reduction/data.bin: 10000 raw little-endian uint32 (< 2^20, seed 2);
  reduction/partial_ref.npy (uint32), reduction/total_ref.bin (one raw uint64).
- pipeline/out_ref.npy: the pipeline's output, computed from its iota input in double
  precision, rounded to float32 after each kernel.

The references are computed here, independently of gpufault's code.
"""
import ctypes
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def npy(path, code, values):
    """Writes a 1-D .npy (version 1.0) of dtype code ('<f4', '<u4', ...)."""
    fmt = {"<f4": "f", "<u4": "I", "<u8": "Q"}[code]
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%d,), }" % (code, len(values))
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header += " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))


def raw(path, fmt, values):
    with open(path, "wb") as f:
        f.write(struct.pack("<%d%s" % (len(values), fmt), *values))


def saxpy():
    rng = random.Random(1)
    n, a = 4096, 2.5
    x = [f32(rng.uniform(-1.0, 1.0)) for _ in range(n)]
    y = [f32(rng.uniform(-1.0, 1.0)) for _ in range(n)]
    npy(os.path.join(HERE, "saxpy", "x.npy"), "<f4", x)
    npy(os.path.join(HERE, "saxpy", "y.npy"), "<f4", y)
    npy(os.path.join(HERE, "saxpy", "y_ref.npy"), "<f4", [f32(a * xi + yi) for xi, yi in zip(x, y)])


def reduction():
    rng = random.Random(2)
    n, block = 10000, 256
    data = [rng.randrange(1 << 20) for _ in range(n)]
    raw(os.path.join(HERE, "reduction", "data.bin"), "I", data)
    per = 2 * block
    blocks = (n + per - 1) // per
    partial = [sum(data[b * per:(b + 1) * per]) for b in range(blocks)]
    npy(os.path.join(HERE, "reduction", "partial_ref.npy"), "<u4", partial)
    raw(os.path.join(HERE, "reduction", "total_ref.bin"), "Q", [sum(data)])
    compile_ptx(os.path.join(HERE, "reduction", "reduction.cu"),
                os.path.join(HERE, "reduction", "reduction.ptx"))


def pipeline():
    w, h = 64, 48
    scale, shift, lo, hi = 0.03125, 1.0, -2.0, 3.0
    x = [f32(-8.0 + 0.0625 * i) for i in range(w * h)]
    t = [f32(min(max(v * scale + shift, lo), hi)) for v in x]
    out = []
    for yy in range(h):
        for xx in range(w):
            s, c = 0.0, 0
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    X, Y = xx + dx, yy + dy
                    if 0 <= X < w and 0 <= Y < h:
                        s += t[Y * w + X]
                        c += 1
            out.append(f32(s / c))
    npy(os.path.join(HERE, "pipeline", "out_ref.npy"), "<f4", out)


def compile_ptx(cu, out):
    path = os.environ.get("GPUFAULT_NVRTC") or "libnvrtc.so.12"
    lib = ctypes.CDLL(path)
    source = open(cu, "rb").read()
    prog = ctypes.c_void_p()
    opts = [b"--gpu-architecture=compute_80"]
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), source, os.path.basename(cu).encode(), 0, None, None) == 0
    if lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts)) != 0:
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(prog, log)
        sys.exit(log.value.decode())
    size = ctypes.c_size_t()
    lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
    buf = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetPTX(prog, buf)
    with open(out, "w") as f:
        f.write("// Generated from reduction.cu by examples/kernels/make.py: NVRTC 12.9, "
                "--gpu-architecture=compute_80.\n")
        f.write(buf.value.decode())


if __name__ == "__main__":
    saxpy()
    reduction()
    pipeline()

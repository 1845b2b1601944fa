#!/usr/bin/env bash
# Regenerates the parser's second- and third-party PTX fixtures from the CUDA sources in
# ptx/tests/fixtures/src/ with two code generators:
#
#   NVRTC 12.9 (tools/nvrtc, via scripts/gen-ptx-fixtures.py):
#       nvrtc/NAME.ptx            --gpu-architecture=compute_80 -std=c++17
#       nvrtc/NAME.lineinfo.ptx   ... -lineinfo      (.file/.loc)
#       nvrtc/NAME.G.ptx          ... -G             (.file/.loc/.section debug info)
#   clang-14 (CUDA device-only, no CUDA headers; clang_cuda_shim.h provides the names;
#   +ptx70 because without a CUDA install clang assumes an old PTX version):
#       clang/NAME.ptx            -O2 --cuda-gpu-arch=sm_80
#       clang/NAME.g.ptx          -O0 -g --cuda-noopt-device-debug (.file/.loc/.section)
#
# Needs: scripts/install-tools.sh (NVRTC) and clang-14 (apt-get install -y clang-14).
# The outputs are committed; ptx/tests/fixtures.rs parses and round-trips them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$("$root/scripts/install-tools.sh")"
fx="$root/ptx/tests/fixtures"
clang="${CLANG:-clang-14}"
command -v "$clang" >/dev/null || { echo "error: $clang not found (apt-get install -y clang-14)" >&2; exit 2; }
mkdir -p "$fx/nvrtc" "$fx/clang"

for src in "$fx"/src/*.cu; do
    name="$(basename "$src" .cu)"
    common=(--gpu-architecture=compute_80 -std=c++17)
    python3 "$root/scripts/gen-ptx-fixtures.py" "$GPUFAULT_NVRTC" "$src" "$fx/nvrtc/$name.ptx" "${common[@]}"
    python3 "$root/scripts/gen-ptx-fixtures.py" "$GPUFAULT_NVRTC" "$src" "$fx/nvrtc/$name.lineinfo.ptx" "${common[@]}" -lineinfo
    python3 "$root/scripts/gen-ptx-fixtures.py" "$GPUFAULT_NVRTC" "$src" "$fx/nvrtc/$name.G.ptx" "${common[@]}" -G

    cflags=(-x cuda --cuda-device-only -S --cuda-gpu-arch=sm_80 -nocudainc -nocudalib
            -Xclang -target-feature -Xclang +ptx70
            -include "$fx/src/clang_cuda_shim.h" -std=c++17)
    # -fdebug-prefix-map keeps this machine's paths out of the committed debug info.
    "$clang" "${cflags[@]}" -O2 "$src" -o "$fx/clang/$name.ptx"
    "$clang" "${cflags[@]}" -O0 -g --cuda-noopt-device-debug -fdebug-prefix-map="$root"=. "$src" -o "$fx/clang/$name.g.ptx"
    echo "generated PTX for $name" >&2
done

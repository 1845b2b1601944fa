#!/usr/bin/env bash
# Installs the NVIDIA tools the tests need into ./tools (git-ignored), reusing what is
# already there. Needs only pip and unzip-capable Python; no GPU, no CUDA install.
#
#   tools/ptxas              ptxas 12.9 from the PyPI wheel nvidia-cuda-nvcc-cu12==12.9.86
#   tools/nvrtc/libnvrtc.so.12 (+ builtins)  NVRTC 12.9 from nvidia-cuda-nvrtc-cu12==12.9.86
#
# Prints the `export` lines for PTXAS and GPUFAULT_NVRTC on stdout.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/tools"
mkdir -p "$tools"
NVCC_WHEEL="nvidia-cuda-nvcc-cu12==12.9.86"
NVRTC_WHEEL="nvidia-cuda-nvrtc-cu12==12.9.86"

# extract WHEEL_SPEC MEMBER DEST: download the wheel (no deps) and unzip one member.
extract() {
    local spec="$1" member="$2" dest="$3"
    local tmp
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: "$spec" -d "$tmp" >&2
    python3 - "$tmp" "$member" "$dest" <<'PY'
import glob, sys, zipfile, shutil, os
tmp, member, dest = sys.argv[1:4]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    with z.open(member) as src, open(dest + ".part", "wb") as out:
        shutil.copyfileobj(src, out)
os.chmod(dest + ".part", 0o755)
os.replace(dest + ".part", dest)
PY
    rm -rf "$tmp"
}

if [ ! -x "$tools/ptxas" ] || ! "$tools/ptxas" --version >/dev/null 2>&1; then
    echo "installing ptxas from $NVCC_WHEEL into tools/" >&2
    extract "$NVCC_WHEEL" nvidia/cuda_nvcc/bin/ptxas "$tools/ptxas"
fi

mkdir -p "$tools/nvrtc"
if [ ! -f "$tools/nvrtc/libnvrtc.so.12" ] || [ ! -f "$tools/nvrtc/libnvrtc-builtins.so.12.9" ]; then
    echo "installing NVRTC from $NVRTC_WHEEL into tools/nvrtc/" >&2
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps --only-binary=:all: "$NVRTC_WHEEL" -d "$tmp" >&2
    python3 - "$tmp" "$tools/nvrtc" <<'PY'
import glob, sys, zipfile, shutil, os
tmp, dest = sys.argv[1:3]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    for member, name in [("nvidia/cuda_nvrtc/lib/libnvrtc.so.12", "libnvrtc.so.12"),
                         ("nvidia/cuda_nvrtc/lib/libnvrtc-builtins.so.12.9", "libnvrtc-builtins.so.12.9")]:
        with z.open(member) as src, open(os.path.join(dest, name + ".part"), "wb") as out:
            shutil.copyfileobj(src, out)
        os.replace(os.path.join(dest, name + ".part"), os.path.join(dest, name))
PY
    rm -rf "$tmp"
fi

echo "export PTXAS=$tools/ptxas"
echo "export GPUFAULT_NVRTC=$tools/nvrtc/libnvrtc.so.12"

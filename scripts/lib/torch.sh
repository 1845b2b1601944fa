# The install step of the torchrun end-to-end scripts (torchrun-e2e.sh,
# slurm-torchrun-e2e.sh), sourced after lib/e2e.sh: PyTorch from PyPI in a venv of its
# own — the CUDA wheels, ~5.3 GB on disk, ~4 min to install here — in
# $GPUFAULT_TORCH_VENV (default ${XDG_CACHE_HOME:-~/.cache}/gpufault/torch-venv), reused
# when a previous install completed (a marker file says so; a partial one is removed and
# made again). Never part of scripts/test.sh.
#
#   torch_venv        installs if needed; sets VENV and TORCHRUN
#   torch_binaries    builds (release) gpufault unless GPUFAULT names one, and the
#                     guard_log example; sets GPUFAULT (absolute) and GUARD_LOG
#
# Needs from the script: abort WHY [DETAIL] (lib/e2e.sh's note too) and REPO.
torch_venv() {
    VENV=${GPUFAULT_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/gpufault/torch-venv}
    local mark=$VENV/.gpufault-installed t0
    if [[ ! -f $mark ]]; then
        note "installing PyTorch from PyPI into $VENV (once; the CUDA wheels, ~5 GB)"
        rm -rf "$VENV" # a partial install of an earlier try
        mkdir -p "$(dirname "$VENV")"
        t0=$(date +%s.%N)
        if ! { python3 -m venv "$VENV" &&
            "$VENV/bin/pip" install --no-input --disable-pip-version-check -q torch numpy; }; then
            rm -rf "$VENV"
            abort "pip install torch (PyPI)"
        fi
        "$VENV/bin/python" -c 'import torch' || { rm -rf "$VENV"; abort "import torch"; }
        echo "installed $(date -u +%FT%TZ) in $(awk "BEGIN { printf \"%.6f\", $(date +%s.%N) - $t0 }") s" >"$mark"
    fi
    TORCHRUN=$VENV/bin/torchrun
    note "venv $VENV: $(du -sh "$VENV" | cut -f1), torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)' 2>/dev/null), $(cat "$mark")"
}

torch_binaries() {
    if [[ -z ${GPUFAULT:-} ]]; then
        note "building gpufault (release)"
        nice -n 10 cargo build --quiet --release --locked -p gpufault || abort "cargo build -p gpufault"
        GPUFAULT=$REPO/target/release/gpufault
    fi
    GPUFAULT=$(realpath -- "$GPUFAULT")
    nice -n 10 cargo build --quiet --release --locked -p gpufault-shim --example guard_log ||
        abort "cargo build --example guard_log"
    GUARD_LOG=$REPO/target/release/examples/guard_log
}

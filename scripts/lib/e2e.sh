# Shared by the end-to-end scripts (slurm-e2e.sh, torchrun-e2e.sh,
# slurm-torchrun-e2e.sh), sourced: the PASS/FAIL lines, their counts and the one summary
# line `N passed, M failed`; first_event, to read a guard's event log.
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { # fail NAME [DETAIL]
    FAILED=$((FAILED + 1))
    echo "FAIL $1"
    if [[ -n ${2:-} ]]; then echo "     $2"; fi
}
check() { # check NAME CMD…: passes when CMD succeeds
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
note() { echo "== $*"; }
summary() { echo "$PASSED passed, $FAILED failed"; }
# first_event FILE CONDITION EXPR: EXPR of the first event `e` (a line of the guard's
# event log FILE) where CONDITION holds (both Python)
first_event() {
    python3 - "$@" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if eval(sys.argv[2]):
        print(eval(sys.argv[3]))
        break
PY
}

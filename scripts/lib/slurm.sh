# A real Slurm on this machine for the end-to-end scripts (slurm-e2e.sh,
# slurm-torchrun-e2e.sh), sourced after lib/e2e.sh: a controller and two compute nodes,
# n1 and n2, on 127.0.0.1 — no systemd, no GPUs — whose GPUs are virtual (each node its
# own virtual GPUs and node config), with gpufault's prolog, epilog and health check.
#
#   slurm_packages               apt-get install what is missing (needs root)
#   slurm_dir NAME               a new temporary directory: sets D, SLURM_CONF
#   (set an EXIT trap that calls slurm_stop)
#   slurm_start CLUSTER          munged, slurm.conf, gres.conf, hooks, slurmctld and two
#                                slurmd; waits until n1 and n2 are idle. Sets HOOKS,
#                                LEDGER, HOOKLOG, HC_INTERVAL, FAULT
#   slurm_stop                   scancel, every daemon stopped by its pidfile, then fails
#                                (and kills) any process still working in $D
#   slurm_teardown WHAT          the EXIT trap: slurm_stop, $D kept (after a failure or
#                                with E2E_KEEP=1; WHAT says what is in it) or removed,
#                                then the summary line
#
# Everything lives in $D: a private munged (its own key and socket), slurm.conf and
# gres.conf, the state, spool and logs, the quarantine ledger, the hooks' configuration
# and log. Three free TCP ports are drawn at random (slurmctld, slurmd n1, slurmd n2), so
# two scripts can each run their own cluster at once (their timings then suffer).
#
# Needs from the script: GPUFAULT (the binary), pass/fail/note (lib/e2e.sh) and abort.

slurm_packages() {
    export PATH=$PATH:/usr/sbin:/sbin
    local missing=() tool_pkg tool
    for tool_pkg in slurmctld:slurmctld slurmd:slurmd sbatch:slurm-client munged:munge python3:python3; do
        tool=${tool_pkg%%:*}
        command -v "$tool" >/dev/null 2>&1 || missing+=("${tool_pkg#*:}")
    done
    if ((${#missing[@]})); then
        note "installing ${missing[*]} (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
            return 1
    fi
}

slurm_dir() { # slurm_dir NAME
    D=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$D"
    mkdir -p "$D"/{munge/run,state,spool,log,dev,ledger}
    export SLURM_CONF=$D/slurm.conf
}

stop_pidfile() { # stop the daemon of a pidfile: TERM, up to 5 s, then KILL
    local f=$1 pid
    [[ -s $f ]] || return 0
    pid=$(cat "$f")
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}
# processes whose working directory is in $D, other than the daemons: what jobs,
# steps and hooks would leave behind
strays() {
    local daemons=" " f p cwd
    for f in "$D"/slurmctld.pid "$D"/slurmd-n1.pid "$D"/slurmd-n2.pid "$D"/munge/munged.pid; do
        [[ -s $f ]] && daemons+="$(cat "$f") "
    done
    for p in /proc/[0-9]*; do
        cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
        [[ $cwd == "$D" || $cwd == "$D"/* ]] || continue
        [[ $daemons == *" ${p#/proc/} "* ]] && continue
        # slurmctld's own script runner
        [[ $(cat "$p/comm" 2>/dev/null) == slurmscriptd && $daemons == *" $(awk '{print $4}' "$p/stat") "* ]] && continue
        echo "${p#/proc/} $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-100)"
    done
}
slurm_stop() {
    if [[ -s $D/slurmctld.pid ]]; then
        scancel --quiet --full --user=root 2>/dev/null || true
    fi
    stop_pidfile "$D/slurmd-n1.pid"
    stop_pidfile "$D/slurmd-n2.pid"
    stop_pidfile "$D/slurmctld.pid"
    stop_pidfile "$D/munge/munged.pid"
    local left
    left=$(strays)
    if [[ -n $left ]]; then
        fail "teardown: no process left after the daemons stopped" "$left"
        strays | while read -r pid _; do kill -9 "$pid" 2>/dev/null; done
    fi
}

slurm_teardown() { # slurm_teardown WHAT
    trap - EXIT INT TERM
    slurm_stop
    if ((FAILED)) || [[ ${E2E_KEEP:-} == 1 ]]; then
        echo "(kept: $D; $1)"
    else
        rm -rf "$D"
    fi
    summary
}

slurm_start() { # slurm_start CLUSTER
    local cluster=$1
    # A private munged: its own key and socket in $D (the munge user must reach them).
    chown -R munge:munge "$D/munge"
    chmod 711 "$D/munge"
    chmod 755 "$D/munge/run"
    dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
    chown munge:munge "$D/munge/munge.key"
    chmod 400 "$D/munge/munge.key"
    runuser -u munge -- munged --key-file="$D/munge/munge.key" \
        --socket="$D/munge/run/munge.sock" --pid-file="$D/munge/munged.pid" \
        --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" ||
        abort "munged" "$(tail -3 "$D/munge/munged.log" 2>/dev/null)"

    # Three free TCP ports on 127.0.0.1: slurmctld, slurmd n1, slurmd n2.
    port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
    local base
    for _ in $(seq 20); do
        base=$((20000 + RANDOM % 30000))
        port_free "$base" && port_free $((base + 1)) && port_free $((base + 2)) && break
    done

    for i in 0 1 2 3; do mknod "$D/dev/fakegpu$i" c 1 3; done

    # Hook wrappers: slurmd runs programs without arguments (and without PATH).
    HOOKS=$D/gpufault-slurm.toml
    for hook in prolog epilog healthcheck; do
        cat >"$D/$hook.sh" <<EOF
#!/bin/sh
export GPUFAULT_SLURM_CONFIG=$HOOKS SLURM_CONF=$SLURM_CONF
exec $GPUFAULT slurm $hook
EOF
        chmod 755 "$D/$hook.sh"
    done

    HC_INTERVAL=2
    cat >"$SLURM_CONF" <<EOF
ClusterName=$cluster
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$base
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/run/munge.sock,cred_expire=10
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=nohold_on_prolog_fail,sched_interval=2
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
Prolog=$D/prolog.sh
Epilog=$D/epilog.sh
HealthCheckProgram=$D/healthcheck.sh
HealthCheckInterval=$HC_INTERVAL
MinJobAge=600
NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((base + 1)) CPUs=2 Gres=gpu:2 Weight=10 State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((base + 2)) CPUs=2 Gres=gpu:2 Weight=1 State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
EOF
    cat >"$D/gres.conf" <<EOF
NodeName=n1 Name=gpu File=$D/dev/fakegpu[0-1]
NodeName=n2 Name=gpu File=$D/dev/fakegpu[2-3]
EOF

    # Each node its own virtual GPUs and node config: n1 has sim:h100#0 and #1, n2 #2 and
    # #3, and #3 has a permanent fault (a stuck bit of %tid.x in one warp slot of SM 5).
    FAULT="iat:sm=5,sp=1,warps=0x1,lanes=0x1,dim=x,mask=0x4,pol=sa1"
    echo '{"gpus": {}}' >"$D/n1.json"
    echo "{\"gpus\": {\"sim:h100#3\": {\"fault\": \"$FAULT\"}}}" >"$D/n2.json"
    LEDGER=$D/ledger/quarantine.json
    HOOKLOG=$D/log/hooks.jsonl
    cat >"$HOOKS" <<EOF
ledger = "$LEDGER"
log = "$HOOKLOG"
timeout = 60

[nodes.n1]
gpus = ["sim:h100#0", "sim:h100#1"]
node_config = "n1.json"

[nodes.n2]
gpus = ["sim:h100#2", "sim:h100#3"]
node_config = "n2.json"
EOF

    note "starting munged, slurmctld, slurmd n1, slurmd n2 in $D"
    slurmctld -f "$SLURM_CONF" -c -i || abort "slurmctld" "$(tail -3 "$D/log/slurmctld.log")"
    slurmd -f "$SLURM_CONF" -N n1 || abort "slurmd n1" "$(tail -3 "$D/log/slurmd-n1.log")"
    slurmd -f "$SLURM_CONF" -N n2 || abort "slurmd n2" "$(tail -3 "$D/log/slurmd-n2.log")"
    wait_for 30 both_idle || abort "nodes idle" "$(sinfo -N 2>&1)"
}

# --- helpers -----------------------------------------------------------------------
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; } # calc EXPR: floating-point arithmetic
is() { awk "BEGIN { exit !($1) }"; }              # is EXPR: whether EXPR holds
ms() { awk "BEGIN { printf \"%d\", ($1) * 1000 }"; } # ms SECONDS-EXPR
# wait_for SECS CMD…: polls CMD every 0.1 s until it succeeds (0) or SECS pass (1).
wait_for() {
    local end
    end=$(calc "$(now) + $1")
    shift
    until "$@"; do
        is "$(now) > $end" && return 1
        sleep 0.1
    done
}
state() { scontrol show node "$1" | grep -o ' State=[^ ]*' | cut -d= -f2; }
reason() { scontrol show node "$1" | sed -n 's/^ *Reason=\(.*\) \[[^]]*\]$/\1/p'; }
drained() { [[ $(state "$1") == *DRAIN* ]]; }
idle() { [[ $(state "$1") == IDLE ]]; }
both_idle() { idle n1 && idle n2; }
gf() { "$GPUFAULT" "$@"; }
uuid_of() { # uuid_of DEVICE NODECONFIG
    gf devices "$1" --node-config "$2" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"][0]["uuid"])'
}
# hook records (JSON lines) matching a Python condition on `r`, one JSON per line
records() {
    python3 - "$HOOKLOG" "$1" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if eval(sys.argv[2]):
        print(json.dumps(r))
EOF
}
field() { python3 -c "import json,sys; r=json.loads(sys.stdin.readline()); print($1)"; }
job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[^ ]*' | cut -d= -f2; }
job_done() { [[ $(job_state "$1") == COMPLETED ]]; }
ms_since() { ms "$(now) - $1"; }

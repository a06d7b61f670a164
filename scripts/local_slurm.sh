#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for `thesislib reproduce --executor slurm` and its test
# (tests/test_slurm.py): Debian's slurm-wlm and munge, the daemons started directly (no systemd).
# Idempotent: installs what is missing, writes /etc/munge/munge.key (if missing) and /etc/slurm/slurm.conf,
# starts munged, slurmctld and slurmd when they are not running (restarts the SLURM daemons when slurm.conf
# changed), then waits until `sinfo` shows the node idle. Run as root. It never replaces a slurm.conf it did
# not write (a real cluster's).
# No accounting database (no slurmdbd): `sacct` has nothing to read here, which submitit copes with
# (thesislib.runs.runner.slurm_executor, see there); job completion records go to /var/log/slurm/jobcomp.log.
set -euo pipefail
say() { echo "local_slurm: $*"; }
fail() { echo "local_slurm: error: $*" >&2; exit 1; }
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }     # running PIDFILE
[ "$(id -u)" = 0 ] || fail "run as root (sudo $0)"
WAIT_S=${LOCAL_SLURM_WAIT_S:-60}
CONF=/etc/slurm/slurm.conf

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    command -v apt-get >/dev/null || fail "slurmctld/slurmd/munged missing and no apt-get to install them"
    say "installing slurm-wlm munge (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
else
    say "slurm-wlm and munge already installed"
fi

# munge: one random key, readable by munge only; munged runs as munge
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    say "writing a random /etc/munge/munge.key"
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/lib/munge /var/log/munge
chmod 700 /etc/munge && chmod 400 /etc/munge/munge.key && chmod 755 /run/munge
if running /run/munge/munged.pid; then
    say "munged already running"
else
    say "starting munged"
    runuser -u munge -- /usr/sbin/munged
fi
for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
munge -n | unmunge >/dev/null || fail "munge does not answer (see /var/log/munge/munged.log)"

# slurm.conf: this host, its cores and memory (MiB, from /proc/meminfo), one partition
HOST=$(hostname)
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
MARK="# written by scripts/local_slurm.sh"
if [ -e "$CONF" ] && ! head -n 1 "$CONF" | grep -qF "$MARK"; then
    fail "$CONF exists and was not written by this script: not replacing it"
fi
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
NEW=$(mktemp)
cat >"$NEW" <<EOF
$MARK: a single-node cluster on $HOST
ClusterName=local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
# a requeued job waits the credential lifetime before it starts again (120 s by default): 10 s here
AuthInfo=cred_expire=10
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# no accounting database (slurmdbd): job states come from slurmctld (squeue); finished jobs to a text file
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$MEM_MB State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
CHANGED=0
if ! cmp -s "$NEW" "$CONF"; then
    say "writing $CONF (node $HOST: $(nproc) CPUs, $MEM_MB MiB)"
    install -m 644 "$NEW" "$CONF"
    CHANGED=1
else
    say "$CONF unchanged"
fi
rm -f "$NEW"

start() {  # start NAME: start one SLURM daemon, or restart it when slurm.conf changed
    local pidfile=/run/$1.pid
    if running "$pidfile" && [ "$CHANGED" = 1 ]; then
        say "stopping $1 (slurm.conf changed)"
        kill "$(cat "$pidfile")"
        for _ in $(seq 40); do running "$pidfile" || break; sleep 0.25; done
        running "$pidfile" && fail "$1 (pid $(cat "$pidfile")) did not stop"
    fi
    if running "$pidfile"; then
        say "$1 already running (pid $(cat "$pidfile"))"
    else
        say "starting $1"
        "/usr/sbin/$1"
    fi
}
start slurmctld
start slurmd

say "waiting up to ${WAIT_S}s for node $HOST to be idle"
state=""
for _ in $(seq $((WAIT_S * 2))); do
    state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)
    case "$state" in idle*) break ;; esac
    sleep 0.5
done
case "$state" in
    idle*) ;;
    *) sinfo 2>&1 || true
       tail -n 5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log 2>/dev/null || true
       fail "node $HOST is not idle after ${WAIT_S}s (state: ${state:-no answer}); logs in /var/log/slurm/" ;;
esac
say "ready: $(sinfo -h -o '%P %D node(s) %T %c CPUs %m MiB')"

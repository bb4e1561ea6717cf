#!/usr/bin/env bash
# A real one-node SLURM on this machine, for tests and for trying the sbatch scripts: munge + slurmctld + slurmd from
# Debian (slurmd slurmctld slurm-client munge), run as root without systemd (docs/design.md §7 lists the verified steps).
#
#   scripts/slurm/local-cluster.sh start    idempotent: starts what is not running, waits until the node is idle
#   scripts/slurm/local-cluster.sh status   daemons, their pids, sinfo
#   scripts/slurm/local-cluster.sh stop     stops the daemons it started, by the pids in their pid files
#
# State, spool, logs and pid files live under $MRIGAN_SLURM_STATE (default /tmp/mrigan-slurm). The config is written
# to /etc/slurm/slurm.conf (where srun/sbatch look) with a marker line; a slurm.conf without the marker is never
# overwritten. munged is started only if none runs, and then stopped again by `stop`.
set -euo pipefail

STATE=${MRIGAN_SLURM_STATE:-/tmp/mrigan-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by mrigan scripts/slurm/local-cluster.sh"
HOST=$(hostname -s)

die() { echo "local-cluster: $*" >&2; exit 1; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

need_root() {
  [ "$(id -u)" = 0 ] || die "must run as root (the daemons run as root here; no systemd)"
  for b in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd srun sinfo; do
    command -v "$b" >/dev/null || die "$b not found: apt-get install slurmd slurmctld slurm-client munge"
  done
}

start_munge() {
  mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 400 /etc/munge/munge.key
  chmod 755 /run/munge
  if pgrep -x munged >/dev/null; then
    :  # someone else's (or ours from an earlier start): use it
  else
    su -s /bin/sh munge -c /usr/sbin/munged
    for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$STATE/munged.pid"  # ours: stop() ends it
  fi
  munge -n | unmunge >/dev/null || die "munge does not work: see /var/log/munge/munged.log"
}

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; move it away to use the local cluster"
  fi
  mkdir -p /etc/slurm "$STATE/state" "$STATE/spool" "$STATE/log"
  local tmp="$CONF.tmp.$$"
  cat >"$tmp" <<EOF
$MARK (state under $STATE)
ClusterName=mrigan-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=local Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
  mv "$tmp" "$CONF"
}

start() {
  need_root
  mkdir -p "$STATE"
  start_munge
  write_conf
  alive "$STATE/slurmctld.pid" || /usr/sbin/slurmctld
  alive "$STATE/slurmd.pid" || /usr/sbin/slurmd
  for _ in $(seq 60); do
    state=$(sinfo -h -n "$HOST" -o %T 2>/dev/null | head -1 || true)
    case "$state" in
      idle*|mixed*|allocated*) echo "local-cluster: node $HOST is $state (state under $STATE)"; return 0 ;;
    esac
    sleep 0.5
  done
  tail -20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
  die "the node did not become idle within 30 s (sinfo says '${state:-nothing}'); logs above"
}

stop_pid() {  # pidfile name
  local f=$1
  if alive "$f"; then
    local p; p=$(cat "$f")
    kill "$p"
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p"
    echo "local-cluster: stopped $(basename "$f" .pid) ($p)"
  fi
  rm -f "$f"
}

stop() {
  stop_pid "$STATE/slurmd.pid"
  stop_pid "$STATE/slurmctld.pid"
  stop_pid "$STATE/munged.pid"
}

status() {
  for d in munged slurmctld slurmd; do
    if alive "$STATE/$d.pid"; then echo "$d: running ($(cat "$STATE/$d.pid"))"
    elif [ $d = munged ] && pgrep -x munged >/dev/null; then echo "munged: running (not started by this script)"
    else echo "$d: stopped"; fi
  done
  if alive "$STATE/slurmctld.pid"; then sinfo; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status   (state under \$MRIGAN_SLURM_STATE, default /tmp/mrigan-slurm)" >&2; exit 2 ;;
esac

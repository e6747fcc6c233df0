#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, for trying `odl sweep
# --backend slurm` and for its test: Debian's slurmctld, slurmd, slurm-client
# and munge, started by hand (no systemd), all traffic on 127.0.0.1.
#
#   scripts/slurm-local.sh up     install (apt-get, needs root) and start
#   scripts/slurm-local.sh status is the node up?
#   scripts/slurm-local.sh down   stop the daemons (by pid)
#
# The node gets this machine's core count and 85 % of its memory. Idempotent:
# `up` on a running cluster does nothing.
set -euo pipefail

node="$(hostname -s)"
conf=/etc/slurm/slurm.conf
wait_s="${SLURM_WAIT_S:-30}"

say() { echo "slurm-local: $*" >&2; }

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null \
     && command -v munged >/dev/null; then
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    say "installing Slurm needs root (apt-get); run as root or install slurmctld slurmd slurm-client munge"
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # the packages' postinst scripts try to start services: forbid that for the install
  local policy_added=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_added=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  if [ "$policy_added" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}

write_conf() {
  local cpus mem
  cpus="$(nproc)"
  mem="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.85}' /proc/meminfo)"
  mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
  cat > "$conf" <<CONF
ClusterName=odl
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=slurm
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
MinJobAge=600
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
SlurmdTimeout=30
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  chown -R slurm:slurm /var/lib/slurm /var/log/slurm
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_up() { sinfo -h -n "$node" -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated|completing)'; }

up() {
  install
  if alive /run/munge/munged.pid && alive /run/slurm/slurmctld.pid && alive /run/slurm/slurmd.pid && node_up; then
    say "already up"
    return
  fi
  write_conf
  mkdir -p /run/munge /run/slurm
  chown munge:munge /run/munge
  chown slurm:slurm /run/slurm
  if [ ! -s /etc/munge/munge.key ]; then mungekey --create >/dev/null 2>&1 || /usr/sbin/mungekey --create; fi
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
  alive /run/slurm/slurmctld.pid || /usr/sbin/slurmctld
  alive /run/slurm/slurmd.pid || /usr/sbin/slurmd -N "$node"
  local t=0
  until node_up; do
    sleep 0.2
    t=$((t + 1))
    if [ "$t" -gt $((wait_s * 5)) ]; then
      say "the node did not come up within ${wait_s} s; slurmctld.log:"
      tail -20 /var/log/slurm/slurmctld.log >&2 || true
      say "slurmd.log:"
      tail -20 /var/log/slurm/slurmd.log >&2 || true
      exit 1
    fi
  done
  say "up: node $node, partition debug ($(nproc) CPUs)"
}

down() {
  for p in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid /run/munge/munged.pid; do
    if alive "$p"; then
      local pid
      pid="$(cat "$p")"
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  say "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) if node_up; then sinfo; else say "not up"; exit 1; fi ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac

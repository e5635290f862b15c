#!/usr/bin/env bash
# .ci/slurm.sh - a real single-node SLURM for ravelab's integration tests.
#
#   .ci/slurm.sh up       install (apt) if missing, configure, start, wait until the node is idle
#   .ci/slurm.sh stop     cancel every job, then stop slurmd, slurmctld and munged
#   .ci/slurm.sh status   daemons, `scontrol ping`, `sinfo`, the queue
#
# Debian 12 (slurm-wlm 22.05 + munge), run as root, no systemd and no cgroups needed:
# the daemons are started by hand and stopped by the PIDs in their pidfiles. Every step is
# bounded in time, every command can be run again (running daemons are left alone, the
# configuration is rewritten only when it changed). The comments below give the reason for
# each setting.
#
# Environment (all optional):
#   RAVELAB_SLURM_MIN_JOB_AGE  seconds a finished job stays in squeue/scontrol (default 2, so
#                              the suite can see a job forgotten by squeue; SLURM's own is 300)
#   RAVELAB_SLURM_KILL_WAIT    seconds between SIGTERM and SIGKILL on scancel (default 5)
#   RAVELAB_SLURM_TIMEOUT      seconds allowed for each of install, start and wait (default 120)
#   RAVELAB_SLURM_FORCE=1      overwrite a slurm.conf this script did not write

set -euo pipefail

MIN_JOB_AGE=${RAVELAB_SLURM_MIN_JOB_AGE:-2}
KILL_WAIT=${RAVELAB_SLURM_KILL_WAIT:-5}
STEP_TIMEOUT=${RAVELAB_SLURM_TIMEOUT:-120}
PARTITION=debug

CONF=/etc/slurm/slurm.conf
LOGS=/var/log/slurm
JOBCOMP=$LOGS/jobcomp.log
CTLD_STATE=/var/spool/slurmctld
D_SPOOL=/var/spool/slurmd
CTLD_PIDFILE=/run/slurmctld.pid
D_PIDFILE=/run/slurmd.pid
MUNGE_DIR=/run/munge
MUNGE_PIDFILE=$MUNGE_DIR/munged.pid
MUNGE_KEY=/etc/munge/munge.key
MARKER="# written by ravelab .ci/slurm.sh"

say() { printf '[slurm.sh] %s\n' "$*"; }
fail() {
  printf '[slurm.sh] ERROR: %s\n' "$*" >&2
  exit 1
}

need_root() { [ "$(id -u)" = 0 ] || fail "run me as root (I install packages and start daemons)"; }

# The PID in a pidfile when that process lives, else nothing.
pid_of() {
  local pid
  [ -r "$1" ] || return 0
  pid=$(tr -cd '0-9' <"$1")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
  return 0
}

# Run "$@" every 0.25 s until it succeeds, for at most $1 seconds (then return 1).
retry_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.25
  done
}

do_install() {
  local missing=0 cmd
  for cmd in munged slurmctld slurmd sbatch; do
    command -v "$cmd" >/dev/null || missing=1
  done
  if [ "$missing" = 0 ]; then
    say "packages present: slurm $(dpkg-query -W -f='${Version}' slurmctld)"
    return 0
  fi
  say "installing munge slurmctld slurmd slurm-client with apt-get"
  local apt=(timeout "$STEP_TIMEOUT" env DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends munge slurmctld slurmd slurm-client)
  if ! "${apt[@]}" >/dev/null; then
    say "install failed; running apt-get update first"
    timeout "$STEP_TIMEOUT" apt-get update -q >/dev/null || fail "apt-get update failed"
    "${apt[@]}" >/dev/null || fail "apt-get install failed"
  fi
  say "installed slurm $(dpkg-query -W -f='${Version}' slurmctld)"
}

field() { sed -n "s/.*[[:space:]]$1=\([0-9]*\).*/\1/p" <<<" $2"; }

do_configure() {
  if [ ! -s "$MUNGE_KEY" ]; then
    say "creating the munge key"
    mungekey --create --keyfile="$MUNGE_KEY" --force
  fi
  chown munge:munge "$MUNGE_KEY"
  chmod 0400 "$MUNGE_KEY"

  if [ -e "$CONF" ] && ! grep -qF "$MARKER" "$CONF" && [ "${RAVELAB_SLURM_FORCE:-0}" != 1 ]; then
    fail "$CONF was not written by this script; set RAVELAB_SLURM_FORCE=1 to replace it"
  fi
  local host hw cpus sockets cores threads mem
  host=$(hostname -s)
  hw=$(slurmd -C | head -n 1) # NodeName=vm CPUs=2 ... ThreadsPerCore=1 RealMemory=24105
  cpus=$(field CPUs "$hw")
  sockets=$(field SocketsPerBoard "$hw")
  cores=$(field CoresPerSocket "$hw")
  threads=$(field ThreadsPerCore "$hw")
  mem=$(field RealMemory "$hw")
  if [ -z "$cpus" ] || [ -z "$mem" ]; then
    fail "could not read the hardware from 'slurmd -C': $hw"
  fi

  mkdir -p /etc/slurm "$LOGS" "$CTLD_STATE" "$D_SPOOL"
  # sacct -c opens the job-completion file for writing: let test users read it too.
  touch "$JOBCOMP"
  chmod 0666 "$JOBCOMP"

  local new
  new=$(mktemp)
  cat >"$new" <<EOF
$MARKER
# A one-node test cluster: no systemd, no cgroups, no slurmdbd.
ClusterName=ravelabci
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$CTLD_STATE
SlurmdSpoolDir=$D_SPOOL
SlurmctldPidFile=$CTLD_PIDFILE
SlurmdPidFile=$D_PIDFILE
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Finished jobs go to a text file that 'sacct -c' reads (there is no slurmdbd).
JobCompType=jobcomp/filetxt
JobCompLoc=$JOBCOMP
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# sbatch -> RUNNING in about 1 s instead of 3.
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
KillWait=$KILL_WAIT
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus SocketsPerBoard=${sockets:-1} CoresPerSocket=${cores:-$cpus} ThreadsPerCore=${threads:-1} RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  if [ -e "$CONF" ] && cmp -s "$new" "$CONF"; then
    rm -f "$new"
    say "$CONF is current"
    return 0
  fi
  install -m 0644 "$new" "$CONF"
  rm -f "$new"
  say "wrote $CONF (node $host: $cpus CPUs, ${mem} MB, MinJobAge=$MIN_JOB_AGE, KillWait=$KILL_WAIT)"
  if [ -n "$(pid_of "$CTLD_PIDFILE")" ]; then
    say "slurmctld is running: scontrol reconfigure"
    timeout 30 scontrol reconfigure || say "reconfigure failed; 'stop' then 'up' applies the change"
  fi
}

munge_answers() { munge -n | unmunge; }
daemons_up() { [ -n "$(pid_of "$CTLD_PIDFILE")" ] && [ -n "$(pid_of "$D_PIDFILE")" ]; }

do_start() {
  if [ -z "$(pid_of "$MUNGE_PIDFILE")" ]; then
    say "starting munged"
    install -d -o munge -g munge -m 0755 "$MUNGE_DIR" # systemd's RuntimeDirectory= does this
    timeout 30 runuser -u munge -- /usr/sbin/munged
  else
    say "munged already running (pid $(pid_of "$MUNGE_PIDFILE"))"
  fi
  retry_for "$STEP_TIMEOUT" munge_answers ||
    fail "munged does not answer after ${STEP_TIMEOUT}s (see /var/log/munge/munged.log)"
  if [ -z "$(pid_of "$CTLD_PIDFILE")" ]; then
    say "starting slurmctld"
    timeout 30 /usr/sbin/slurmctld
  else
    say "slurmctld already running (pid $(pid_of "$CTLD_PIDFILE"))"
  fi
  if [ -z "$(pid_of "$D_PIDFILE")" ]; then
    say "starting slurmd"
    timeout 30 /usr/sbin/slurmd -N "$(hostname -s)"
  else
    say "slurmd already running (pid $(pid_of "$D_PIDFILE"))"
  fi
  retry_for "$STEP_TIMEOUT" daemons_up ||
    fail "slurmctld/slurmd did not start in ${STEP_TIMEOUT}s (see $LOGS/*.log)"
}

# Ready: the controller answers, the local slurmd answers (after a restart the controller
# reports the saved node state before slurmd is back), and the node is idle.
node_ready() {
  local state
  timeout 10 scontrol ping | grep -q 'is UP' || return 1
  timeout 10 scontrol show slurmd >/dev/null || return 1
  state=$(timeout 10 sinfo -h -N -n "$(hostname -s)" -o %T)
  case "$state" in
    idle | mixed | allocated) return 0 ;;
    down* | drain*) timeout 10 scontrol update NodeName="$(hostname -s)" State=RESUME ;;
  esac
  return 1
}

do_wait() {
  say "waiting until node $(hostname -s) is idle (at most ${STEP_TIMEOUT}s)"
  if ! retry_for "$STEP_TIMEOUT" node_ready; then
    tail -n 20 "$LOGS/slurmctld.log" "$LOGS/slurmd.log" >&2 || true
    fail "node $(hostname -s) not ready after ${STEP_TIMEOUT}s: $(sinfo -h -N -o %T 2>&1 || true)"
  fi
  say "ready: $(sinfo -h -o '%P %a %D %T' | head -n 1)"
}

no_jobs() { [ -z "$(timeout 10 squeue -h -o %i)" ]; }

stop_daemon() {
  local pidfile=$1 name=$2 pid _
  pid=$(pid_of "$pidfile")
  if [ -z "$pid" ]; then
    say "$name is not running"
    return 0
  fi
  say "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 40); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  say "$name did not stop in 10s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_up() {
  need_root
  local start=$SECONDS
  do_install
  do_configure
  do_start
  do_wait
  say "up in $((SECONDS - start))s"
}

cmd_stop() {
  need_root
  if [ -n "$(pid_of "$CTLD_PIDFILE")" ]; then
    # A job's slurmstepd (and the job's processes) outlive slurmd: cancel jobs first.
    local jobs
    jobs=$(timeout 10 squeue -h -o %i 2>/dev/null | tr '\n' ' ' || true)
    if [ -n "${jobs// /}" ]; then
      say "cancelling jobs: $jobs"
      # shellcheck disable=SC2086
      timeout 10 scancel $jobs || true
      retry_for $((KILL_WAIT + 15)) no_jobs || say "some jobs are still listed; stopping anyway"
    fi
  fi
  stop_daemon "$D_PIDFILE" slurmd
  stop_daemon "$CTLD_PIDFILE" slurmctld
  stop_daemon "$MUNGE_PIDFILE" munged
  say "stopped"
}

cmd_status() {
  local name pidfile pid
  for name in munged:"$MUNGE_PIDFILE" slurmctld:"$CTLD_PIDFILE" slurmd:"$D_PIDFILE"; do
    pidfile=${name#*:}
    pid=$(pid_of "$pidfile")
    say "${name%%:*}: ${pid:+running (pid $pid)}${pid:-not running}"
  done
  if ! command -v sinfo >/dev/null; then
    say "SLURM is not installed"
    return 0
  fi
  if [ -z "$(pid_of "$CTLD_PIDFILE")" ]; then
    say "the controller is not running: '$0 up' starts it"
    return 0
  fi
  timeout 10 scontrol ping || true
  timeout 10 sinfo || true
  timeout 10 squeue -t all || true
}

case "${1:-}" in
  up) cmd_up ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 up|stop|status" >&2
    exit 2
    ;;
esac

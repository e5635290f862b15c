#!/usr/bin/env bash
# .ci/ssh.sh - a real OpenSSH server on 127.0.0.1 for ravelab's SSH integration tests.
#
#   .ci/ssh.sh up       install (apt) if missing, create the remote user, keys and configs,
#                       start our own sshd, wait until `ssh -F <state>/ssh_config ravelab-test true` works
#   .ci/ssh.sh stop     stop our sshd (by its pidfile) and its open sessions; jobs of the remote
#                       user keep running and are listed
#   .ci/ssh.sh status   exit 0 when our sshd runs, 3 when it does not
#   .ci/ssh.sh env      `export RAVELAB_SSH_...=...` lines for the tests (quoted for sh and shlex)
#
# Debian 12, run `up` and `stop` as root, no systemd needed. The system's sshd (port 22,
# /etc/ssh/sshd_config) is never started, read or changed: ours has its own config, host key,
# pidfile and log in the state dir. Every step is bounded in time and every command can be run
# again (a running sshd is left alone unless its config changed, then it is told to reload).
#
# Environment (all optional):
#   RAVELAB_SSH_STATE    state dir (default $HOME/.cache/ravelab-ssh). At most 46 characters:
#                        ravelab's ControlMaster sockets live there and a socket path must fit
#                        in 108 bytes.
#   RAVELAB_SSH_PORT     port on 127.0.0.1 (default 2222; 22 is refused)
#   RAVELAB_SSH_TIMEOUT  seconds allowed for each of install, start and wait (default 120)

set -euo pipefail

STATE=${RAVELAB_SSH_STATE:-$HOME/.cache/ravelab-ssh}
PORT=${RAVELAB_SSH_PORT:-2222}
STEP_TIMEOUT=${RAVELAB_SSH_TIMEOUT:-120}
REMOTE_USER=ravelab-remote
REMOTE_HOME=/home/$REMOTE_USER
HOST_ALIAS=ravelab-test
SSHD=/usr/sbin/sshd

CLIENT_KEY=$STATE/id_ed25519
HOST_KEY=$STATE/ssh_host_ed25519_key
SSHD_CONFIG=$STATE/sshd_config
SSH_CONFIG=$STATE/ssh_config
KNOWN_HOSTS=$STATE/known_hosts
PIDFILE=$STATE/sshd.pid
SSHD_LOG=$STATE/sshd.log
# Marks our line in authorized_keys, so a new key for this state dir replaces the old one.
KEY_TAG="ravelab-ssh-ci:$STATE"

say() { printf '[ssh.sh] %s\n' "$*"; }
fail() {
  printf '[ssh.sh] ERROR: %s\n' "$*" >&2
  exit 1
}

need_root() { [ "$(id -u)" = 0 ] || fail "run me as root (I install packages, add a user and start sshd)"; }

check_settings() {
  # The state dir ends up in sshd_config, ssh_config and ravelab's ControlPath: plain characters only.
  [[ $STATE =~ ^/[A-Za-z0-9._/@+=,-]+$ ]] ||
    fail "RAVELAB_SSH_STATE must be an absolute path of [A-Za-z0-9._/@+=,-] characters: $STATE"
  [ "${#STATE}" -le 46 ] ||
    fail "RAVELAB_SSH_STATE is ${#STATE} characters (at most 46, or ControlMaster sockets there do not fit): $STATE"
  [[ $PORT =~ ^[0-9]{1,5}$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] ||
    fail "RAVELAB_SSH_PORT must be a port number: $PORT"
  [ "$PORT" != 22 ] || fail "port 22 belongs to the system sshd; choose another RAVELAB_SSH_PORT"
}

# The PID of our sshd: the pidfile's process, alive (a zombie is dead), started with our config.
sshd_pid() {
  local pid state
  [ -r "$PIDFILE" ] || return 0
  pid=$(tr -cd '0-9' <"$PIDFILE")
  [ -n "$pid" ] || return 0
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
  [ -n "$state" ] && [ "$state" != Z ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-f $SSHD_CONFIG " || return 0
  echo "$pid"
}

sshd_running() { [ -n "$(sshd_pid)" ]; }

# Alive and not a zombie (PID 1 may reap late, and kill -0 succeeds on a zombie).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)
  [ -n "$state" ] && [ "$state" != Z ]
}

# The port written in our sshd_config (the one a running sshd listens on), else $PORT.
configured_port() {
  local p=""
  [ -r "$SSHD_CONFIG" ] && p=$(awk '$1 == "Port" {print $2; exit}' "$SSHD_CONFIG")
  echo "${p:-$PORT}"
}

# Run "$@" every 0.2 s until it succeeds, for at most $1 seconds (then return 1).
retry_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# --------------------------------------------------------------------------------- up steps

check_port() {
  local running listener
  running=$(sshd_pid)
  # Our own sshd on that port is fine; anything else listening there is not.
  if [ -n "$running" ] && [ "$(configured_port)" = "$PORT" ]; then return 0; fi
  listener=$(timeout 10 ss -Hltnp "sport = :$PORT" 2>/dev/null | head -n 1 || true)
  [ -z "$listener" ] || fail "port $PORT is taken (set RAVELAB_SSH_PORT to a free one): $listener"
}

# Removes the temporary policy-rc.d (if we made one) however the install ends.
POLICY=/usr/sbin/policy-rc.d
MADE_POLICY=0
drop_policy() { if [ "$MADE_POLICY" = 1 ]; then rm -f "$POLICY"; fi; }

do_install() {
  local want=() pkg
  [ -x "$SSHD" ] || want+=(openssh-server)
  command -v rsync >/dev/null || want+=(rsync)
  command -v ssh-keygen >/dev/null || want+=(openssh-client)
  if [ ${#want[@]} -eq 0 ]; then
    say "packages present: openssh-server $(dpkg-query -W -f='${Version}' openssh-server 2>/dev/null || echo '?'), rsync"
    return 0
  fi
  # openssh-server's postinst would start the system sshd on port 22 through invoke-rc.d;
  # a policy-rc.d that answers 101 ("not allowed") keeps it stopped. Images built for
  # containers ship one already; otherwise we add one for the install only.
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# temporary, from ravelab .ci/ssh.sh: start no service while installing\nexit 101\n' >"$POLICY"
    chmod 0755 "$POLICY"
    MADE_POLICY=1
    trap drop_policy EXIT
  fi
  say "installing ${want[*]} with apt-get"
  local apt=(timeout "$STEP_TIMEOUT" env DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=60 install -y -q --no-install-recommends "${want[@]}")
  if ! "${apt[@]}" >/dev/null; then
    say "install failed; running apt-get update first"
    timeout "$STEP_TIMEOUT" apt-get -o DPkg::Lock::Timeout=60 update -q >/dev/null || fail "apt-get update failed"
    "${apt[@]}" >/dev/null || fail "apt-get install ${want[*]} failed"
  fi
  drop_policy
  MADE_POLICY=0
  for pkg in "${want[@]}"; do
    say "installed $pkg $(dpkg-query -W -f='${Version}' "$pkg")"
  done
}

do_user() {
  if ! id -u "$REMOTE_USER" >/dev/null 2>&1; then
    say "creating user $REMOTE_USER"
    timeout 30 useradd --create-home --home-dir "$REMOTE_HOME" --shell /bin/bash --user-group "$REMOTE_USER"
  fi
  # useradd leaves the password as "!" (locked). Without PAM, sshd turns a locked account
  # away even with a good key; "*" still matches no password but does not lock.
  local hash
  hash=$(getent shadow "$REMOTE_USER" | cut -d: -f2)
  if [ "$hash" != "*" ]; then
    timeout 30 usermod -p '*' "$REMOTE_USER"
    say "set $REMOTE_USER's password field to '*' (no password login, account not locked)"
  fi
}

do_keys() {
  install -d -m 0700 "$STATE"
  if [ ! -s "$CLIENT_KEY" ] || [ ! -s "$CLIENT_KEY.pub" ]; then
    rm -f "$CLIENT_KEY" "$CLIENT_KEY.pub"
    timeout 30 ssh-keygen -q -t ed25519 -N '' -C "$KEY_TAG" -f "$CLIENT_KEY"
    say "made the client key $CLIENT_KEY"
  fi
  if [ ! -s "$HOST_KEY" ] || [ ! -s "$HOST_KEY.pub" ]; then
    rm -f "$HOST_KEY" "$HOST_KEY.pub"
    timeout 30 ssh-keygen -q -t ed25519 -N '' -C "ravelab-ssh-ci host key" -f "$HOST_KEY"
    say "made the host key $HOST_KEY"
  fi

  # authorized_keys: our line (found by its tag) is replaced, anyone else's lines are kept.
  local dir=$REMOTE_HOME/.ssh auth new
  auth=$dir/authorized_keys
  install -d -m 0700 -o "$REMOTE_USER" -g "$REMOTE_USER" "$dir"
  new=$(mktemp)
  if [ -e "$auth" ]; then grep -vF -- " $KEY_TAG" "$auth" >"$new" || true; fi
  cat "$CLIENT_KEY.pub" >>"$new"
  if [ -e "$auth" ] && cmp -s "$new" "$auth"; then
    rm -f "$new"
  else
    install -m 0600 -o "$REMOTE_USER" -g "$REMOTE_USER" "$new" "$auth"
    rm -f "$new"
    say "authorized the client key for $REMOTE_USER"
  fi
}

# Install $2 (a temp file) as $1 when the content differs; says whether it changed.
CHANGED=0
put() {
  if [ -e "$1" ] && cmp -s "$2" "$1"; then
    rm -f "$2"
    return 0
  fi
  install -m 0600 "$2" "$1"
  rm -f "$2"
  CHANGED=1
  say "wrote $1"
}

do_configs() {
  local tmp fingerprint
  fingerprint=$(ssh-keygen -l -f "$HOST_KEY.pub" | awk '{print $2}')

  tmp=$(mktemp)
  cat >"$tmp" <<EOF
# ravelab .ci/ssh.sh: a test sshd, separate from the system's. Host key $fingerprint
ListenAddress 127.0.0.1
Port $PORT
HostKey $HOST_KEY
PidFile $PIDFILE
AllowUsers $REMOTE_USER
PermitRootLogin no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
# No PAM: nothing here is configured for it, and keys are the only way in.
UsePAM no
StrictModes yes
# Tests open many sessions at once (several runs, each with a ControlMaster and its
# multiplexed commands); OpenSSH's defaults (10 sessions, 10:30:100 startups) are too few.
MaxSessions 64
MaxStartups 64:30:128
# VERBOSE logs the fingerprint of every key tried, accepted or refused.
LogLevel VERBOSE
X11Forwarding no
PrintMotd no
# scp talks sftp since OpenSSH 9.
Subsystem sftp internal-sftp
EOF
  put "$SSHD_CONFIG" "$tmp"

  # The one host key we trust is the one we made: no keyscan, no trust on first use.
  tmp=$(mktemp)
  printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$HOST_KEY.pub")" >"$tmp"
  put "$KNOWN_HOSTS" "$tmp"

  # No ControlMaster options: ravelab passes its own on the command line.
  tmp=$(mktemp)
  cat >"$tmp" <<EOF
# ravelab .ci/ssh.sh: use with \`ssh -F $SSH_CONFIG $HOST_ALIAS\`
Host $HOST_ALIAS
    HostName 127.0.0.1
    Port $PORT
    User $REMOTE_USER
    IdentityFile $CLIENT_KEY
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile $KNOWN_HOSTS
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 10
    ServerAliveInterval 5
    ServerAliveCountMax 3
EOF
  put "$SSH_CONFIG" "$tmp"
}

do_start() {
  local pid out
  # The privilege-separation directory, normally made by the init script or systemd unit.
  install -d -m 0755 /run/sshd
  out=$(timeout 30 "$SSHD" -t -f "$SSHD_CONFIG" 2>&1) || fail "sshd -t rejects $SSHD_CONFIG: $out"
  touch "$SSHD_LOG"
  chmod 0600 "$SSHD_LOG"
  pid=$(sshd_pid)
  if [ -n "$pid" ]; then
    if [ "$CHANGED" = 1 ]; then
      # SIGHUP makes sshd re-exec itself with the new config, keeping its pid.
      say "sshd is running (pid $pid) and its config changed: reloading"
      kill -HUP "$pid"
    else
      say "sshd already running (pid $pid)"
    fi
    return 0
  fi
  rm -f "$PIDFILE"
  say "starting sshd on 127.0.0.1:$PORT"
  # A clean environment: the daemon must not carry the caller's variables (a test's
  # process marker, for one, would make it look like that test's leftover).
  timeout 30 env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$SSHD" -f "$SSHD_CONFIG" -E "$SSHD_LOG" ||
    fail "sshd did not start: $(tail -n 5 "$SSHD_LOG")"
  if ! retry_for "$STEP_TIMEOUT" sshd_running; then
    tail -n 20 "$SSHD_LOG" >&2 || true
    fail "sshd wrote no live pid to $PIDFILE in ${STEP_TIMEOUT}s"
  fi
}

ssh_works() { timeout 20 ssh -F "$SSH_CONFIG" "$HOST_ALIAS" true </dev/null; }

do_wait() {
  if ! retry_for "$STEP_TIMEOUT" ssh_works; then
    ssh -F "$SSH_CONFIG" "$HOST_ALIAS" true </dev/null >&2 || true
    tail -n 20 "$SSHD_LOG" >&2 || true
    fail "ssh -F $SSH_CONFIG $HOST_ALIAS true still fails after ${STEP_TIMEOUT}s"
  fi
}

# --------------------------------------------------------------------------------- commands

cmd_up() {
  need_root
  check_settings
  local t0
  t0=$(now)
  check_port
  do_install
  do_user
  do_keys
  do_configs
  do_start
  do_wait
  say "up in $(since "$t0")s: sshd pid $(sshd_pid), 127.0.0.1:$PORT, user $REMOTE_USER"
  say "try: ssh -F $SSH_CONFIG $HOST_ALIAS"
}

# The sshd processes serving open connections: direct children of the listener.
session_pids() {
  local p
  for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sshd ]; then echo "$p"; fi
  done
  return 0
}

cmd_stop() {
  need_root
  check_settings
  local pid sessions=() left=() p _ jobs
  pid=$(sshd_pid)
  if [ -z "$pid" ]; then
    say "sshd is not running (no live pid in $PIDFILE)"
  else
    # Open connections outlive the listener: end their session processes too.
    mapfile -t sessions < <(session_pids "$pid")
    say "stopping sshd (pid $pid${sessions[*]:+, sessions ${sessions[*]}})"
    kill -TERM "$pid" "${sessions[@]}" 2>/dev/null || true
    for _ in $(seq 50); do
      left=()
      for p in "$pid" "${sessions[@]}"; do if alive "$p"; then left+=("$p"); fi; done
      [ ${#left[@]} -gt 0 ] || break
      sleep 0.1
    done
    if [ ${#left[@]} -gt 0 ]; then
      say "still alive after 5s, SIGKILL: ${left[*]}"
      kill -KILL "${left[@]}" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDFILE"
  # Remote commands started without a pty do not die with their connection: they are the
  # jobs the tests look after, so they are listed, never killed here.
  if id -u "$REMOTE_USER" >/dev/null 2>&1; then
    jobs=$(ps -o pid=,stat=,args= -u "$REMOTE_USER" 2>/dev/null |
      awk '$2 !~ /^Z/ && $3 !~ /^sshd/ { printf "\n  %s", $0 }' || true)
    [ -z "$jobs" ] || say "processes of $REMOTE_USER left running:$jobs"
  fi
  say "stopped"
}

cmd_status() {
  check_settings
  local pid
  pid=$(sshd_pid)
  if [ -z "$pid" ]; then
    say "stopped (state $STATE)"
    exit 3
  fi
  say "running: sshd pid $pid on 127.0.0.1:$(configured_port), state $STATE"
}

# Quoted for both sh and Python's shlex: plain when only safe characters, else single quotes.
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_./:@%+=,-]+$ ]]; then
    printf '%s' "$1"
  else
    local sq="'"
    printf "'%s'" "${1//$sq/$sq\"$sq\"$sq}"
  fi
}

cmd_env() {
  check_settings
  local pair
  for pair in \
    "RAVELAB_SSH_CONFIG=$SSH_CONFIG" \
    "RAVELAB_SSH_HOST=$HOST_ALIAS" \
    "RAVELAB_SSH_USER=$REMOTE_USER" \
    "RAVELAB_SSH_PORT=$(configured_port)" \
    "RAVELAB_SSH_KEY=$CLIENT_KEY" \
    "RAVELAB_SSH_KNOWN_HOSTS=$KNOWN_HOSTS" \
    "RAVELAB_SSH_STATE=$STATE" \
    "RAVELAB_SSH_SSHD_LOG=$SSHD_LOG"; do
    printf 'export %s=%s\n' "${pair%%=*}" "$(quote "${pair#*=}")"
  done
}

case "${1:-}" in
  up) cmd_up ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *)
    echo "usage: $0 up|stop|status|env" >&2
    exit 2
    ;;
esac

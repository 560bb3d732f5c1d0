# shellcheck shell=bash
# shellcheck disable=SC2154  # lab and repo are set by the script that sources this
# bench/measure.sh -- shell functions (sourced, bash) that bench/rollout.sh and
# bench/count_change.sh share to count what a change costs on a lab host:
#
#   proxy_*  run bench/latency_proxy in front of lab hosts and read its counters
#            (connections, bytes, turns: the times a client spoke again after hearing the server)
#   tp_*     count the processes a host starts, from the pid counter of its pid namespace
#
# The caller sets `lab` (the path of tests/e2e/lab) before using tp_*, and `repo` (the checkout)
# before proxy_binary.
#
# Target processes: every lab host is its own pid namespace, and /proc/sys/kernel/ns_last_pid
# read inside it is the last pid given out there. A reading is `lab exec HOST -- cat ...`: the
# cat is itself a new process of the host (its pid is the value read). What one reading costs
# is measured (tp_cost: the smallest step between back-to-back readings, 1 on the lab), and
# subtracted for every reading taken between the one before and the one after a change.
# "After" is when the host has become quiet: two readings TP_QUIET_MS apart (default 500)
# differ by exactly one reading's cost (tp_settle). So the count does not depend on timing, as
# long as the change leaves nothing behind that starts processes later.
#
# The user manager: a login of a user with no session starts `systemd --user` for them
# (user@UID.service: about 7 processes), which stops again 10 s after their last session (one
# more) -- or, on this lab, now and then fails with status 219/CGROUP. Counts would then depend
# on whether a session ended less than 10 s before, and on luck. tp_warm keeps the manager
# running (loginctl enable-linger, as for a user who is logged in anyway), so a count is what
# the change itself starts: sshd's processes, sudo, shells, the commands. tp_unwarm undoes it.

# --- latency_proxy ---

# proxy_binary DIR: prints a latency_proxy to use: $LATENCY_PROXY, else the one of the default
# build when it is not older than its source, else one compiled into DIR (one source file, no
# libraries)
proxy_binary() {
  local dir=$1 src="$repo/bench/latency_proxy.cpp" built="$repo/build/default/bin/latency_proxy"
  if [[ -n ${LATENCY_PROXY:-} ]]; then
    [[ -x $LATENCY_PROXY ]] || { echo "measure.sh: LATENCY_PROXY=$LATENCY_PROXY is not executable" >&2; return 1; }
    printf '%s\n' "$LATENCY_PROXY"
  elif [[ -x $built && ! $built -ot $src ]]; then
    printf '%s\n' "$built"
  else
    c++ -std=c++20 -O2 -Wall -Wextra -o "$dir/latency_proxy" "$src" >&2 \
      || { echo "measure.sh: cannot compile $src" >&2; return 1; }
    printf '%s\n' "$dir/latency_proxy"
  fi
}

# proxy_start BINARY DELAY_MS STATS_FILE MAP...: starts the proxy in the background and waits
# for its "ready"; sets PROXY_PID and PROXY_STATS. Its stderr goes to STATS_FILE.err.
proxy_start() {
  local bin=$1 delay=$2 i
  PROXY_STATS=$3
  shift 3
  local -a args=()
  for i in "$@"; do args+=(--map "$i"); done
  "$bin" --delay-ms "$delay" --stats "$PROXY_STATS" "${args[@]}" >"$PROXY_STATS.out" 2>"$PROXY_STATS.err" &
  PROXY_PID=$!
  for ((i = 0; i < 100; i++)); do
    ! grep -qx ready "$PROXY_STATS.out" 2>/dev/null || return 0
    kill -0 "$PROXY_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "measure.sh: latency_proxy did not start: $(cat "$PROXY_STATS.err")" >&2
  return 1
}

# proxy_dump: has the proxy write its stats now (SIGUSR1) and waits until it has (the file is
# replaced by a rename, so it is there complete or not at all)
proxy_dump() {
  local i
  rm -f "$PROXY_STATS"
  kill -USR1 "$PROXY_PID" || return 1
  for ((i = 0; i < 200; i++)); do
    [[ ! -e $PROXY_STATS ]] || return 0
    sleep 0.025
  done
  echo "measure.sh: latency_proxy (pid $PROXY_PID) wrote no stats in 5 s (stopped?)" >&2
  return 1
}

# proxy_get KEY: KEY's value in the stats last written
proxy_get() { awk -v k="$1" '$1 == k { print $2; f = 1 } END { exit !f }' "$PROXY_STATS"; }

# proxy_quiet [SECONDS]: dumps the stats until no connection is open any more (what the
# clients sent last is counted once both sides have closed), at most SECONDS (default 10)
proxy_quiet() {
  local deadline=$((SECONDS + ${1:-10}))
  while :; do
    proxy_dump || return 1
    [[ $(proxy_get open) != 0 ]] || return 0
    if ((SECONDS >= deadline)); then
      echo "measure.sh: $(proxy_get open) connection(s) through the proxy still open" >&2
      return 1
    fi
    sleep 0.05
  done
}

# proxy_stop: ends the proxy (SIGTERM: it writes its stats and exits 0)
proxy_stop() {
  [[ -n ${PROXY_PID:-} ]] || return 0
  kill -TERM "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=
}

# proxy_files DIR NAME PORT KEY ADDR_KNOWN_HOSTS: appends, for host NAME behind the proxy's
# PORT, a Host block to DIR/ssh_config (NAME leads to 127.0.0.1:PORT) and its real host keys
# for [127.0.0.1]:PORT (from the lab's known_hosts) to DIR/known_hosts. A "Host 127.0.0.1"
# block for tools that are given the address and port themselves comes last (proxy_files_end).
proxy_files() {
  local dir=$1 name=$2 port=$3 key=$4 lab_kh=$5
  awk -v n="$name" -v p="$port" '{ split($1, names, ","); if (names[1] == n) { $1 = "[127.0.0.1]:" p; print } }' \
    "$lab_kh" >>"$dir/known_hosts"
  grep -q "^\[127.0.0.1\]:$port " "$dir/known_hosts" || { echo "measure.sh: no host key of $name in $lab_kh" >&2; return 1; }
  printf 'Host %s\n    HostName 127.0.0.1\n    Port %s\n' "$name" "$port" >>"$dir/ssh_config"
  proxy_client_options "$dir" "$key" >>"$dir/ssh_config"
}
proxy_files_end() {
  printf 'Host 127.0.0.1\n' >>"$1/ssh_config"
  proxy_client_options "$1" "$2" >>"$1/ssh_config"
}
# the lab's client options (tests/e2e/lab up), strict host key checking against DIR/known_hosts
proxy_client_options() {
  cat <<EOF
    User ecs-user
    IdentityFile $2
    IdentitiesOnly yes
    UserKnownHostsFile $1/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    CheckHostIP no
    BatchMode yes
    ConnectTimeout 5
    LogLevel ERROR

EOF
}

# --- processes started on a lab host ---

# tp_read HOST: the host's last pid
tp_read() {
  local v
  if ! v=$("$lab" exec "$1" -- cat /proc/sys/kernel/ns_last_pid) || ! [[ $v =~ ^[0-9]+$ ]]; then
    echo "measure.sh: cannot read the pid counter of $1" >&2
    return 1
  fi
  printf '%s\n' "$v"
}

# tp_cost HOST: the pids one tp_read takes, measured: the smallest step of four back-to-back
# readings
tp_cost() {
  local a b i best=
  a=$(tp_read "$1") || return 1
  for i in 1 2 3; do
    b=$(tp_read "$1") || return 1
    if [[ -z $best ]] || ((b - a < best)); then best=$((b - a)); fi
    a=$b
  done
  ((best >= 1)) || { echo "measure.sh: the pid counter of $1 does not move ($best)" >&2; return 1; }
  printf '%s\n' "$best"
}

# tp_settle HOST COST: waits until the host is quiet (two readings TP_QUIET_MS apart differ by
# COST) and prints "LAST READS": the first reading of the quiet pair and how many readings were
# taken up to and including it. At most TP_SETTLE_TIMEOUT s (default 30): then it prints the
# same for the last pair and fails.
tp_settle() {
  local host=$1 cost=$2 prev cur n=1 deadline pause
  deadline=$((SECONDS + ${TP_SETTLE_TIMEOUT:-30}))
  pause=$(awk -v m="${TP_QUIET_MS:-500}" 'BEGIN { printf "%.3f", m / 1000 }')
  prev=$(tp_read "$host") || return 1
  while :; do
    sleep "$pause"
    cur=$(tp_read "$host") || return 1
    if ((cur - prev == cost)); then
      printf '%s %s\n' "$prev" "$n"
      return 0
    fi
    if ((cur < prev)); then
      echo "measure.sh: the pid counter of $host went back ($prev -> $cur): wrapped?" >&2
      return 1
    fi
    prev=$cur
    n=$((n + 1))
    if ((SECONDS >= deadline)); then
      echo "measure.sh: $host did not become quiet in ${TP_SETTLE_TIMEOUT:-30} s" >&2
      printf '%s %s\n' "$prev" "$n"
      return 1
    fi
  done
}

# tp_count BEFORE COST SETTLED: the processes between the reading BEFORE and the settled
# "LAST READS", the readings' own subtracted
tp_count() {
  local last reads
  read -r last reads <<<"$3"
  printf '%s\n' "$((last - $1 - $2 * reads))"
}

# tp_warm HOST [USER]: keeps USER's (default ecs-user) user manager running (enable-linger) and
# waits until it is; prints "1" when linger was off before (for tp_unwarm), else "0"
tp_warm() {
  local host=$1 user=${2:-ecs-user} uid was=0 state i
  uid=$("$lab" exec "$host" -- id -u "$user") || return 1
  # without systemd (the sysv flavor) there is no user manager to keep
  "$lab" exec "$host" -- test -d /run/systemd/system || { printf '0\n'; return 0; }
  "$lab" exec "$host" -- test -e "/var/lib/systemd/linger/$user" || was=1
  "$lab" exec "$host" -- loginctl enable-linger "$user" || return 1
  for ((i = 0; i < 150; i++)); do
    state=$("$lab" exec "$host" -- systemctl is-active "user@$uid.service" || true)
    [[ $state != active ]] || { printf '%s\n' "$was"; return 0; }
    # the lab's cgroup hiccup (status 219/CGROUP) leaves it failed: start it again
    if [[ $state == failed || ($state == inactive && i -gt 0 && $((i % 25)) == 0) ]]; then
      "$lab" exec "$host" -- systemctl start "user@$uid.service" >/dev/null 2>&1 || true
    fi
    sleep 0.2
  done
  echo "measure.sh: the user manager of $user on $host does not start" >&2
  return 1
}

# tp_unwarm HOST [USER]: linger off again (after tp_warm printed 1)
tp_unwarm() { "$lab" exec "$1" -- loginctl disable-linger "${2:-ecs-user}" >/dev/null 2>&1 || true; }

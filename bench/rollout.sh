#!/usr/bin/env bash
# bench/rollout.sh -- time one fleet-wide change on N lab hosts, three ways: PermitRootLogin
# set to a new value, validated with sshd -t, sshd reloaded, on every host at once.
#
#   oneliner  for each host, in the background, a fresh OpenSSH connection (no multiplexing):
#               ssh HOST "sudo sed -i 's/^PermitRootLogin .*/PermitRootLogin V/' /etc/ssh/sshd_config
#                         && sudo sshd -t && sudo systemctl reload ssh"
#             then wait for all of them
#   ansible   ansible-playbook -i INVENTORY bench/rollout/toggle.yml -e value=V -f N
#             (lineinfile with validate, a handler reloads ssh through systemd; settings in
#             bench/rollout/ansible.cfg: pipelining, the lab's ssh_config and known_hosts;
#             a fresh ControlPath dir per run, so no connection is left over from a run before)
#   sshdctl   sshdctl -i INVENTORY --forks N -F SSH_CONFIG --known-hosts KNOWN_HOSTS
#                     set PermitRootLogin V
#             (every safety on: sshd -t, atomic write, reload awaited, login probe)
#
# The tools take turns: each round runs every tool once (the first tool rotates from round to
# round), and every run sets the value opposite to the one the hosts have (no <-> yes), so every
# run of every tool really edits the file and reloads sshd on every host. After each run every
# host is checked through the lab, not over SSH: sshd -T shows the new value and sshd has logged
# a new SIGHUP and listens again. A run that misses a host fails the benchmark.
#
# Per run it measures the wall time, the controller's CPU (the tool's processes, user + sys,
# as the kernel adds them up when they are reaped: this script is a child subreaper, so that
# Ansible's detached ssh masters are counted too), the whole machine's CPU (/proc/stat), and the
# processes each host started (its pid namespace's counter, bench/measure.sh).
#
# --rtt MS puts one bench/latency_proxy (MS ms each way) in front of all the hosts: a port of
# 127.0.0.1 per host, and every tool reaches every host only through it (per-run ssh_config,
# inventories and known_hosts with the hosts' real keys for [127.0.0.1]:PORT, still checked
# strictly). The proxy also counts the turns per host. After the fleet rounds, each tool then
# changes the first host alone, through the proxy and directly, in turns: the difference of
# the medians over 2*MS is a change's sequential round trips.
#
# Usage (as root): bench/rollout.sh [--hosts N] [--runs R] [--only TOOLS] [--rtt MS] [--keep]
#   --hosts N     lab hosts (prefix: ROLLOUT_PREFIX; default 20, at most 200; about 60 MB each)
#   --runs R      timed runs per tool (default 5)
#   --only TOOLS  comma list of oneliner, ansible, sshdctl (default: all three)
#   --rtt MS      every connection through latency_proxy, MS ms each way (0..1000)
#   --keep        leave the hosts and the work dir (inventory, logs) behind
# Environment:
#   SSHDCTL        the sshdctl binary (default: build/default/bin/sshdctl of this tree)
#   LATENCY_PROXY  the latency_proxy binary (default: build/default/bin/latency_proxy when up
#                  to date, else compiled into the work dir)
#   BENCH_OUT      output directory (default /tmp/sshdctl-bench)
#   ROLLOUT_PREFIX lab prefix of the hosts (default bench)
#   WARMUP         untimed rounds before the timed ones (default 1)
#   BENCH_ENFORCE  1: exit 1 when sshdctl misses a target
# Output: a table of medians, minimum and maximum per tool, the ratios and the targets
# ($BENCH_OUT/rollout-N.txt, or rollout-N-rttMS.txt), and every sample (the same with .tsv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
lab="$repo/tests/e2e/lab"
prefix=${ROLLOUT_PREFIX:-bench}
out="${BENCH_OUT:-/tmp/sshdctl-bench}"
warmup="${WARMUP:-1}"
ansible_cfg="$here/rollout/ansible.cfg"
playbook="$here/rollout/toggle.yml"
# shellcheck source=bench/measure.sh
. "$here/measure.sh"
die() { echo "rollout.sh: $*" >&2; exit 2; }
fail() { echo "rollout.sh: FAILED: $*" >&2; exit 1; }
usage() { sed -n '/^# Usage/,/^# Environment/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

args=("$@")
hosts=20 runs=5 keep=0 only=oneliner,ansible,sshdctl rtt=
while (($#)); do
  case $1 in
    --hosts) (($# > 1)) || die "--hosts needs a number"; hosts=$2; shift 2 ;;
    --rtt) (($# > 1)) || die "--rtt needs a number of milliseconds"; rtt=$2; shift 2 ;;
    --runs) (($# > 1)) || die "--runs needs a number"; runs=$2; shift 2 ;;
    --only) (($# > 1)) || die "--only needs a list"; only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
if ! [[ $hosts =~ ^[1-9][0-9]*$ ]] || ((hosts > 200)); then die "--hosts must be 1..200 (the lab's limit)"; fi
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number"
[[ $warmup =~ ^[0-9]+$ ]] || die "WARMUP must be a number"
if [[ -n $rtt ]] && { ! [[ $rtt =~ ^[0-9]+$ ]] || ((rtt > 1000)); }; then die "--rtt must be 0..1000 (ms each way)"; fi
tools=()
IFS=, read -ra wanted <<<"$only"
for t in "${wanted[@]}"; do
  case $t in
    oneliner | ansible | sshdctl) [[ " ${tools[*]} " == *" $t "* ]] || tools+=("$t") ;;
    *) die "unknown tool in --only: '$t' (oneliner, ansible, sshdctl)" ;;
  esac
done
((${#tools[@]})) || die "--only names no tool"
uses() { [[ " ${tools[*]} " == *" $1 "* ]]; }

[[ $EUID -eq 0 ]] || die "must run as root (the lab needs it)"
sshdctl="${SSHDCTL:-$repo/build/default/bin/sshdctl}"
if uses sshdctl; then
  [[ -x $sshdctl ]] || die "no sshdctl binary at $sshdctl (build it, set SSHDCTL, or leave it out with --only)"
fi

# --- what this needs, installed by package name when missing ---
need=()
command -v ssh >/dev/null || need+=(openssh-client)
command -v python3 >/dev/null || need+=(python3)
[[ -x /usr/bin/time ]] || need+=(time)
if uses ansible; then command -v ansible-playbook >/dev/null || need+=(ansible-core); fi
if ((${#need[@]})); then
  echo "rollout.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y "${need[@]}" >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y "${need[@]}" >/dev/null; } \
    || die "could not install ${need[*]}"
fi
command -v systemd-nspawn >/dev/null || "$lab" deps >/dev/null || die "lab deps failed"

# Controller CPU is what the kernel adds up for this shell's children when they are reaped. Ansible's
# ControlPersist masters detach from it (their parent exits), so this script makes itself a
# child subreaper (prctl PR_SET_CHILD_SUBREAPER, kept across exec): the orphans are then its
# children, and bash reaps them and counts them.
if [[ ${ROLLOUT_SUBREAPER:-} != 1 ]]; then
  export ROLLOUT_SUBREAPER=1
  exec /usr/bin/python3 -c 'import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:
    sys.exit("rollout.sh: prctl(PR_SET_CHILD_SUBREAPER) failed")
os.execv("/bin/bash", ["bash"] + sys.argv[1:])' "${BASH_SOURCE[0]}" "${args[@]}"
fi

# --- memory: the hosts (about 60 MB each) and the controller's side (an Ansible fork per host,
# about 12 MB of PSS each, and its ssh) ---
per_host_mb=70
if uses ansible; then per_host_mb=$((per_host_mb + 25)); fi
need_mb=$((hosts * per_host_mb + 1024))
avail_mb=$(($(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo) / 1024))
((avail_mb >= need_mb)) || die "$hosts hosts need about $need_mb MB, $avail_mb MB available"

# --- the hosts ---
# the machine should be idle: the hosts share its CPUs with the controller
load_before=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load_before" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  echo "rollout.sh: warning: load average $load_before on $(nproc) CPUs before the start; the times will be noisy" >&2
fi
state="$("$lab" state-dir --prefix "$prefix")"
[[ ! -e $state ]] || die "lab prefix '$prefix' is up already ($state): another benchmark running? If not: $lab down --prefix $prefix"
if [[ $prefix == bench ]]; then
  grep -qF -- "-F $state/ssh_config " "$ansible_cfg" \
    || die "$ansible_cfg does not point at $state/ssh_config (the lab's state dir moved?)"
fi
mkdir -p "$out"
work="$(mktemp -d /tmp/sshdctl-rollout.XXXXXX)"
tag=rollout-$hosts
[[ -z $rtt ]] || tag+=-rtt$rtt
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  proxy_stop
  if ((keep)); then
    echo "rollout.sh: kept the hosts (down: $lab down --prefix $prefix) and $work" >&2
  else
    "$lab" down --prefix "$prefix" >/dev/null 2>&1 || true
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

if uses sshdctl; then
  # a copy (with the lenses it finds next to it), so that a rebuild during the benchmark
  # neither changes nor breaks the binary under test
  share="$(dirname "$(realpath "$sshdctl")")/../share/sshdctl"
  mkdir -p "$work/sshdctl/bin" "$work/sshdctl/share"
  cp "$sshdctl" "$work/sshdctl/bin/sshdctl"
  [[ ! -d $share ]] || cp -r "$share" "$work/sshdctl/share/"
  sshdctl_id="sshdctl $(realpath "$sshdctl") sha256 $(sha256sum "$work/sshdctl/bin/sshdctl" | cut -c1-12)"
  sshdctl="$work/sshdctl/bin/sshdctl"
fi
if [[ -n $rtt ]]; then
  # a copy too, for the same reason
  mkdir -p "$work/proxy"
  proxy_bin=$(proxy_binary "$work/proxy") || die "no latency_proxy (build it: cmake --build --preset default --target latency_proxy)"
  [[ $proxy_bin == "$work/proxy/latency_proxy" ]] || cp "$proxy_bin" "$work/proxy/latency_proxy"
  proxy_bin="$work/proxy/latency_proxy"
fi

export LAB_READY_TIMEOUT="${LAB_READY_TIMEOUT:-$((60 + hosts))}"
t0=$(date +%s)
"$lab" up "$hosts" --prefix "$prefix" >"$work/up.out" 2>"$work/up.err" \
  || {
    cp "$work/up.err" "$out/rollout-$hosts.up.err"
    grep '^lab:' "$work/up.err" | tail -n 15 >&2
    fail "lab up $hosts --prefix $prefix (its messages: $out/rollout-$hosts.up.err)"
  }
# shellcheck disable=SC1091
. "$state/env"
mapfile -t names < <(awk '{ print $1 }' "$LAB_HOSTS")
((${#names[@]} == hosts)) || fail "lab up gave ${#names[@]} hosts, not $hosts"
echo "rollout.sh: $hosts hosts up in $(($(date +%s) - t0)) s" >&2

# Let every host finish booting, so that the first run does not share the CPUs with boot jobs.
# (Here and below, background jobs are waited for by pid: a bare `wait` would wait for the
# proxy too.)
bg=()
for name in "${names[@]}"; do
  "$lab" exec "$name" -- systemctl is-system-running --wait >"$work/boot.$name" 2>&1 &
  bg+=("$!")
done
wait "${bg[@]}"
for name in "${names[@]}"; do
  case $(<"$work/boot.$name") in
    running | degraded) ;;
    *) fail "$name did not finish booting: $(<"$work/boot.$name")" ;;
  esac
done

# Keep ecs-user's user manager running on every host (loginctl enable-linger, as for a user
# who is logged in anyway): otherwise the first login of a run starts one and it stops 10 s
# after the last, so what a run costs the hosts would depend on the pause before it (and on the
# lab's occasional failure to start it). Then measure what a reading of a host's pid counter
# costs (bench/measure.sh).
declare -A pidcost=()
bg=()
for name in "${names[@]}"; do
  { tp_warm "$name" >/dev/null && tp_cost "$name"; } >"$work/cost.$name" 2>&1 &
  bg+=("$!")
done
wait "${bg[@]}"
for name in "${names[@]}"; do
  read -r c <"$work/cost.$name" || true
  [[ ${c:-} =~ ^[0-9]+$ ]] || fail "$name: cannot count its processes: $(tr '\n' ' ' <"$work/cost.$name")"
  pidcost[$name]=$c
done

# inventory FILE LINES: an Ansible INI inventory of the host lines given (ansible_host ... of
# one host per line)
inventory() {
  { echo "[lab]"; printf '%s\n' "$2"; echo; echo "[all:vars]"; echo "ansible_python_interpreter=/usr/bin/python3"; } >"$1"
}
# direct ("lan"): the lab's addresses; the first host alone too, for the single-host runs
lines=$(awk -v k="$LAB_KEY" '{ print $1 " ansible_host=" $2 " ansible_user=ecs-user ansible_ssh_private_key_file=" k }' "$LAB_HOSTS")
inventory "$work/inventory.ini" "$lines"
inventory "$work/inventory1.ini" "$(head -n 1 <<<"$lines")"

# through the proxy: one listen port of 127.0.0.1 per host, the client files for those ports
if [[ -n $rtt ]]; then
  maps=()
  while read -r name addr; do maps+=("127.0.0.1:0=$addr:22"); done <"$LAB_HOSTS"
  proxy_start "$proxy_bin" "$rtt" "$work/proxy/stats" "${maps[@]}" || fail "latency_proxy did not start"
  : >"$work/proxy/ssh_config"
  : >"$work/proxy/known_hosts"
  lines=
  i=0
  while read -r name addr; do
    i=$((i + 1))
    port=$(proxy_get "map.$i.listen") || fail "no port for $name in the proxy's stats"
    port=${port##*:}
    proxy_files "$work/proxy" "$name" "$port" "$LAB_KEY" "$LAB_KNOWN_HOSTS" || fail "no client files for $name"
    lines+="$name ansible_host=127.0.0.1 ansible_port=$port ansible_user=ecs-user ansible_ssh_private_key_file=$LAB_KEY"$'\n'
  done <"$LAB_HOSTS"
  proxy_files_end "$work/proxy" "$LAB_KEY"
  lines=${lines%$'\n'}
  inventory "$work/proxy/inventory.ini" "$lines"
  inventory "$work/proxy/inventory1.ini" "$(head -n 1 <<<"$lines")"
fi

# use_path lan|proxy all|first: what the next run uses: the hosts (run_names), ssh config,
# known_hosts and inventory
use_path() {
  path=$1
  if [[ $2 == all ]]; then run_names=("${names[@]}"); else run_names=("${names[0]}"); fi
  local one=
  [[ $2 == all ]] || one=1
  if [[ $path == proxy ]]; then
    p_cfg="$work/proxy/ssh_config" p_kh="$work/proxy/known_hosts" p_inv="$work/proxy/inventory$one.ini"
    # replaces ansible.cfg's ssh_args, which name the lab's files
    p_ansible_ssh_args="-F $p_cfg -o UserKnownHostsFile=$p_kh -o ControlMaster=auto -o ControlPersist=60s"
  else
    p_cfg="$LAB_SSH_CONFIG" p_kh="$LAB_KNOWN_HOSTS" p_inv="$work/inventory$one.ini"
    # what ansible.cfg says for the prefix bench, for any prefix
    p_ansible_ssh_args="-F $p_cfg -o UserKnownHostsFile=$p_kh -o ControlMaster=auto -o ControlPersist=60s"
  fi
}

# --- independent check of every host (through the lab, not over SSH) ---
# prints "VALUE SIGHUPS LISTENING": the value sshd -T reports, how often sshd logged a SIGHUP,
# and how often it logged listening on IPv4 (once at start, once after every reload)
# shellcheck disable=SC2016  # expanded inside the host
probe='j=$(journalctl -u ssh.service -o cat --no-pager)
echo "$(sshd -T | grep "^permitrootlogin " | cut -d" " -f2)" \
  "$(printf "%s\n" "$j" | grep -c "^Received SIGHUP")" \
  "$(printf "%s\n" "$j" | grep -c "^Server listening on 0.0.0.0 ")"'

# verify VALUE: every host has PermitRootLogin VALUE, its sshd has logged more SIGHUPs than at
# the check before (the first check only counts them) and listens again; the logs may lag the
# reload a little, so this polls for up to 15 s
declare -A sighups=()
# (on the hosts of the run: run_names)
verify() {
  local want=$1 deadline name v s l
  local -a bad pids
  deadline=$((SECONDS + 15))
  while :; do
    pids=()
    for name in "${run_names[@]}"; do
      "$lab" exec "$name" -- sh -c "$probe" >"$work/probe.$name" 2>&1 &
      pids+=("$!")
    done
    wait "${pids[@]}"
    bad=()
    for name in "${run_names[@]}"; do
      v='' s='' l=''
      read -r v s l <"$work/probe.$name" || true
      [[ $v == "$want" && $s =~ ^[0-9]+$ && $l == "$((s + 1))" ]] && ((s > ${sighups[$name]:--1})) \
        || bad+=("$name: $(tr '\n' ' ' <"$work/probe.$name")")
    done
    ((${#bad[@]})) || break
    if ((SECONDS >= deadline)); then
      echo "rollout.sh: want PermitRootLogin $want and a new reload (value, SIGHUPs, listening):" >&2
      printf '  %s\n' "${bad[@]}" | head -n 20 >&2
      return 1
    fi
    sleep 0.2
  done
  for name in "${run_names[@]}"; do
    read -r _ s _ <"$work/probe.$name"
    sighups[$name]=$s
  done
}

# --- the contenders; each returns non-zero when any host failed ---
# (on run_names, through the files use_path chose)
run_oneliner() {
  local val=$1 log=$2 name pid failed=0
  local -a pids=()
  for name in "${run_names[@]}"; do
    ssh -F "$p_cfg" -o ControlMaster=no -o ControlPath=none "$name" \
      "sudo sed -i 's/^PermitRootLogin .*/PermitRootLogin $val/' /etc/ssh/sshd_config && sudo sshd -t && sudo systemctl reload ssh" \
      </dev/null >>"$log" 2>&1 &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  ((failed == 0)) || { echo "one-liner: $failed host(s) failed" >>"$log"; return 1; }
}

run_ansible() {
  local val=$1 log=$2
  ANSIBLE_SSH_ARGS="$p_ansible_ssh_args" ANSIBLE_CONFIG="$ansible_cfg" ANSIBLE_SSH_CONTROL_PATH_DIR="$work/cp" \
    ANSIBLE_LOCAL_TEMP="$work/ansible-tmp" ANSIBLE_NOCOLOR=1 \
    ansible-playbook -i "$p_inv" "$playbook" -e "value=$val" -f "${#run_names[@]}" </dev/null >"$log" 2>&1
}

# ends the multiplexed connections a run of Ansible left (ControlPersist), untimed
ansible_after() {
  local sock
  for sock in "$work"/cp/*; do
    [[ -S $sock ]] || continue
    ssh -o ControlPath="$sock" -O exit lab >/dev/null 2>&1 || true
  done
  rm -rf "$work/cp"
}

run_sshdctl() {
  local val=$1 log=$2 rc=0
  /usr/bin/time -f %M -o "$work/rss" \
    "$sshdctl" -i "$p_inv" --forks "${#run_names[@]}" -F "$p_cfg" --known-hosts "$p_kh" \
    set PermitRootLogin "$val" </dev/null >"$log" 2>&1 || rc=$?
  if ((rc == 3)); then
    echo "sshdctl: exit 3 (nothing to change): every run must change every host" >>"$log"
  fi
  return "$rc"
}

# --- measuring a run ---
hz=$(getconf CLK_TCK)
# CPU time the whole machine (controller and hosts) was busy, in ms
busy_ms() { awk -v hz="$hz" '$1 == "cpu" { printf "%d\n", ($2 + $3 + $4 + $7 + $8 + $9) * 1000 / hz; exit }' /proc/stat; }
# ctl_cpu VAR: user + sys of this shell's reaped children so far, in ms, from bash's `times`
# (a builtin: run here, not in a subshell, whose children are not these)
ctl_cpu() {
  local _u _s _cu _cs _a _b
  times >"$work/times"
  { read -r _u _s; read -r _cu _cs; } <"$work/times"
  ms_of "$_cu" _a
  ms_of "$_cs" _b
  printf -v "$1" '%d' $((_a + _b))
}
# ms_of XmY.ZZZs VAR
ms_of() {
  local t=$1 m sec
  m=${t%%m*} t=${t#*m} t=${t%s}
  sec=${t%.*}
  printf -v "$2" '%d' $(((10#$m * 60 + 10#$sec) * 1000 + 10#${t#*.}))
}
# tp_before / tp_after: every run_names host's pid counter before the run; after it, once the
# host is quiet, the processes it started: sets procs_total, procs_max
tp_before() {
  local name
  local -a pids=()
  for name in "${run_names[@]}"; do
    tp_read "$name" >"$work/pid0.$name" 2>&1 &
    pids+=("$!")
  done
  wait "${pids[@]}"
}
tp_after() {
  local name before settled n
  local -a pids=()
  for name in "${run_names[@]}"; do
    tp_settle "$name" "${pidcost[$name]}" >"$work/pid1.$name" 2>"$work/pid1.$name.err" &
    pids+=("$!")
  done
  for n in "${pids[@]}"; do wait "$n" || true; done
  procs_total=0 procs_max=0
  for name in "${run_names[@]}"; do
    read -r before <"$work/pid0.$name" || true
    settled=$(<"$work/pid1.$name")
    [[ $before =~ ^[0-9]+$ && $settled =~ ^[0-9]+\ [0-9]+$ ]] \
      || fail "$name: cannot count its processes: $(cat "$work/pid0.$name" "$work/pid1.$name.err")"
    [[ ! -s $work/pid1.$name.err ]] || echo "rollout.sh: warning: $(<"$work/pid1.$name.err")" >&2
    n=$(tp_count "$before" "${pidcost[$name]}" "$settled")
    procs_total=$((procs_total + n))
    ((n <= procs_max)) || procs_max=$n
  done
}

samples="$out/$tag.tsv"
printf 'round\tkind\ttool\thosts\tvalue\tms\tcpu_ms\tpeak_rss_kb\tctl_cpu_ms\ttarget_procs\ttarget_procs_max\tturns\tpath\n' \
  >"$samples"

# measure ROUND KIND TOOL VAL: one run of TOOL setting VAL on run_names (through path), checked,
# and its sample
measure() {
  local r=$1 kind=$2 tool=$3 val=$4 log rc=0 c0 c1 k0 k1 t0 t1 ms rss turns=- turns0
  log="$work/$tool.$r.$kind.$path.log"
  [[ $tool != ansible ]] || mkdir -p "$work/cp"
  rm -f "$work/rss"
  tp_before
  if [[ $path == proxy ]]; then
    proxy_dump || fail "latency_proxy does not answer"
    turns0=$(proxy_get turns)
  fi
  c0=$(busy_ms)
  ctl_cpu k0
  t0=${EPOCHREALTIME/./}
  case $tool in
    oneliner) run_oneliner "$val" "$log" || rc=$? ;;
    ansible) run_ansible "$val" "$log" || rc=$? ;;
    sshdctl) run_sshdctl "$val" "$log" || rc=$? ;;
  esac
  t1=${EPOCHREALTIME/./}
  # ending Ansible's masters (untimed) is still the tool's CPU: they are reaped here
  [[ $tool != ansible ]] || ansible_after
  ctl_cpu k1
  c1=$(busy_ms)
  ms=$(((t1 - t0) / 1000))
  if ((rc != 0)); then
    cp "$log" "$out/$tag.failed.log"
    # Ansible's errors come before its recap
    { grep -E '^fatal:|UNREACHABLE!|FAILED!|ERROR!' "$log" | head -n 10; tail -n 15 "$log"; } >&2 || true
    fail "$tool, round $r ($kind, $path), PermitRootLogin $val: exit $rc (its log: $out/$tag.failed.log)"
  fi
  if [[ $path == proxy ]]; then
    proxy_quiet 30 || echo "rollout.sh: warning: turns of connections still open are missing" >&2
    turns=$(($(proxy_get turns) - turns0))
  fi
  tp_after
  if ! verify "$val"; then
    cp "$log" "$out/$tag.failed.log"
    fail "$tool, round $r ($kind, $path): not every host has PermitRootLogin $val and a fresh reload (the run's log: $out/$tag.failed.log)"
  fi
  rss=-
  [[ ! -s $work/rss ]] || rss=$(tail -n 1 "$work/rss")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$kind" "$tool" "${#run_names[@]}" "$val" "$ms" \
    "$((c1 - c0))" "$rss" "$((k1 - k0))" "$procs_total" "$procs_max" "$turns" "$path" >>"$samples"
  printf 'rollout.sh: round %d (%s, %s) %-8s -> %-3s %6d ms, %d processes on the hosts%s\n' "$r" "$kind" "$path" "$tool" \
    "$val" "$ms" "$procs_total" "$([[ $turns == - ]] || echo ", $turns turns")" >&2
}

# --- the rounds ---
fleet_path=lan
[[ -z $rtt ]] || fleet_path=proxy
use_path "$fleet_path" all
cur=no
verify "$cur" || fail "the hosts do not start from PermitRootLogin $cur"
k=${#tools[@]}
total=$((warmup + runs))
for ((r = 1; r <= total; r++)); do
  if ((r <= warmup)); then kind=warmup; else kind=timed; fi
  for ((i = 0; i < k; i++)); do
    tool=${tools[$(((i + r - 1) % k))]}
    if [[ $cur == no ]]; then val=yes; else val=no; fi
    measure "$r" "$kind" "$tool" "$val"
    cur=$val
  done
done

# --- one host alone, through the proxy and directly (--rtt) ---
# Each tool, in turns, changes the first host with the path alternating: the difference of the
# medians over 2*MS is how many round trips one change waits for one after the other.
if [[ -n $rtt ]]; then
  for ((r = 1; r <= runs; r++)); do
    for ((i = 0; i < k; i++)); do
      tool=${tools[$(((i + r - 1) % k))]}
      order=(proxy lan)
      ((r % 2)) || order=(lan proxy)
      for p in "${order[@]}"; do
        use_path "$p" first
        if [[ $cur == no ]]; then val=yes; else val=no; fi
        measure "$r" single "$tool" "$val"
        cur=$val
      done
    done
  done
fi

# --- the report ---
versions="$(ssh -V 2>&1 | awk '{ sub(/,$/, "", $1); print $1 }')"
if uses sshdctl; then versions="$sshdctl_id, $versions"; fi
if uses ansible; then
  versions+=", $(ansible-playbook --version | awk 'NR == 1 { gsub(/[][]/, ""); print }')"
fi
report_rc=0
python3 - "$samples" "$hosts" "$runs" "$warmup" "$versions" "${BENCH_ENFORCE:-0}" "$load_before" "$(nproc)" "$rtt" <<'PY' \
  | tee "$out/$tag.txt" || report_rc=$?
import csv, statistics, sys
path, hosts, runs, warmup, versions, enforce, load, cpus, rtt = sys.argv[1:]
hosts, runs = int(hosts), int(runs)
rtt = int(rtt) if rtt else None
every = list(csv.DictReader(open(path), delimiter="\t"))
rows = [r for r in every if r["kind"] == "timed"]
names = {"oneliner": "one-liner", "ansible": "ansible", "sshdctl": "sshdctl"}
med = lambda v: statistics.median(v) if v else None
col = lambda rs, t, k: [float(r[k]) for r in rs if r["tool"] == t and r[k] not in ("", "-")]
ms = {t: col(rows, t, "ms") for t in names}
m = {t: med(v) for t, v in ms.items() if v}
where = f"through latency_proxy, {rtt} ms each way" if rtt is not None else "directly (lab links)"
print(f"rollout: PermitRootLogin flipped on {hosts} lab hosts, {runs} timed run(s) per tool "
      f"after {warmup} warm-up round(s), {hosts} in flight, {where}")
print(f"{versions}; {cpus} CPUs, load average {load} before the start")
head = f"{'tool':10} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'ctl cpu ms':>11} {'cpu ms':>8} {'procs/host':>11}"
print(head + (f" {'turns/host':>11}" if rtt is not None else ""))
procs = {}
for t in names:
    if t not in m:
        continue
    procs[t] = med([p / hosts for p in col(rows, t, "target_procs")])
    line = (f"{names[t]:10} {m[t]:10.0f} {min(ms[t]):8.0f} {max(ms[t]):8.0f} {med(col(rows, t, 'ctl_cpu_ms')):11.0f}"
            f" {med(col(rows, t, 'cpu_ms')):8.0f} {procs[t]:11.1f}")
    if rtt is not None:
        line += f" {med([x / hosts for x in col(rows, t, 'turns')]):11.1f}"
    print(line)
# targets (docs/DESIGN: Performance targets), LAN or 25 ms each way
up, down = (2.5, 2.0) if rtt else (1.5, 3.0)
verdict = lambda ok: "met" if ok else "MISSED"
missed = False
if "sshdctl" in m and "oneliner" in m:
    x = m["sshdctl"] / m["oneliner"]
    missed |= x > up
    print(f"sshdctl / one-liner: {x:.2f}x (target <= {up:.2f}x: {verdict(x <= up)})")
if "sshdctl" in m and "ansible" in m:
    x = m["ansible"] / m["sshdctl"]
    missed |= x < down
    print(f"ansible / sshdctl:   {x:.2f}x (target >= {down:g}x: {verdict(x >= down)})")
if "ansible" in m and "oneliner" in m:
    print(f"ansible / one-liner: {m['ansible'] / m['oneliner']:.2f}x")
    if "sshdctl" not in m:
        bound = min(up * m["oneliner"], m["ansible"] / down)
        print(f"sshdctl not run; both targets need its median <= {bound:.0f} ms "
              f"({bound / m['oneliner']:.2f}x the one-liner)")
if "sshdctl" in procs:
    missed |= procs["sshdctl"] > 30
    print(f"sshdctl processes per host: {procs['sshdctl']:.1f} (target <= 30: {verdict(procs['sshdctl'] <= 30)})")
single = [r for r in every if r["kind"] == "single"]
if single:
    print(f"one change on the first host alone, {runs} run(s) each way, medians:")
    print(f"  {'tool':10} {'proxy ms':>9} {'direct ms':>10} {'round trips':>12} {'turns':>6} {'procs':>6}")
    for t in names:
        via = [r for r in single if r["tool"] == t and r["path"] == "proxy"]
        lan = [r for r in single if r["tool"] == t and r["path"] == "lan"]
        if not via or not lan:
            continue
        a, b = med([float(r["ms"]) for r in via]), med([float(r["ms"]) for r in lan])
        rt = (a - b) / (2 * rtt) if rtt else None
        turns = [int(r["turns"]) for r in via]
        tr = f"{med(turns):.0f}" + ("" if min(turns) == max(turns) else f" ({min(turns)}-{max(turns)})")
        pr = med([float(r["target_procs"]) for r in via + lan])
        print(f"  {names[t]:10} {a:9.0f} {b:10.0f} {('-' if rt is None else f'{rt:.1f}'):>12} {tr:>6} {pr:6.0f}")
        if t == "sshdctl" and rt is not None:
            missed |= rt > 15
            print(f"  sshdctl sequential round trips: {rt:.1f} (target <= 15: {verdict(rt <= 15)})")
rss = [int(r["peak_rss_kb"]) for r in rows if r["tool"] == "sshdctl" and r["peak_rss_kb"].isdigit()]
if rss:
    per = max(rss) / hosts
    missed |= per > 2560
    print(f"sshdctl controller peak RSS: {max(rss)} KB, {per:.0f} KB per in-flight host (target <= 2560 KB: {verdict(per <= 2560)})")
if runs < 5:
    print("note: fewer than 5 runs per tool: a smoke test, not a result")
sys.exit(1 if missed and enforce == "1" else 0)
PY
echo "samples: $samples" >&2
exit "$report_rc"

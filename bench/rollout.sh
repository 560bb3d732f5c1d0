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
# Usage (as root): bench/rollout.sh [--hosts N] [--runs R] [--only TOOLS] [--keep]
#   --hosts N     lab hosts, prefix "bench" (default 20, at most 200; about 60 MB each)
#   --runs R      timed runs per tool (default 5)
#   --only TOOLS  comma list of oneliner, ansible, sshdctl (default: all three)
#   --keep        leave the hosts and the work dir (inventory, logs) behind
# Environment:
#   SSHDCTL        the sshdctl binary (default: build/default/bin/sshdctl of this tree)
#   BENCH_OUT      output directory (default /tmp/sshdctl-bench)
#   WARMUP         untimed rounds before the timed ones (default 1)
#   BENCH_ENFORCE  1: exit 1 when sshdctl misses a target
# Output: a table of medians, minimum and maximum per tool, the ratios and the targets
# ($BENCH_OUT/rollout-N.txt), and every sample ($BENCH_OUT/rollout-N.tsv).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
lab="$repo/tests/e2e/lab"
prefix=bench
out="${BENCH_OUT:-/tmp/sshdctl-bench}"
warmup="${WARMUP:-1}"
ansible_cfg="$here/rollout/ansible.cfg"
playbook="$here/rollout/toggle.yml"
die() { echo "rollout.sh: $*" >&2; exit 2; }
fail() { echo "rollout.sh: FAILED: $*" >&2; exit 1; }
usage() { sed -n '/^# Usage/,/^# Environment/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

hosts=20 runs=5 keep=0 only=oneliner,ansible,sshdctl
while (($#)); do
  case $1 in
    --hosts) (($# > 1)) || die "--hosts needs a number"; hosts=$2; shift 2 ;;
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
grep -qF -- "-F $state/ssh_config " "$ansible_cfg" \
  || die "$ansible_cfg does not point at $state/ssh_config (the lab's state dir moved?)"
mkdir -p "$out"
work="$(mktemp -d /tmp/sshdctl-rollout.XXXXXX)"
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
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
for name in "${names[@]}"; do
  "$lab" exec "$name" -- systemctl is-system-running --wait >"$work/boot.$name" 2>&1 &
done
wait
for name in "${names[@]}"; do
  case $(<"$work/boot.$name") in
    running | degraded) ;;
    *) fail "$name did not finish booting: $(<"$work/boot.$name")" ;;
  esac
done

inv="$work/inventory.ini"
{
  echo "[lab]"
  while read -r name addr; do
    echo "$name ansible_host=$addr ansible_user=ecs-user ansible_ssh_private_key_file=$LAB_KEY"
  done <"$LAB_HOSTS"
  echo
  echo "[all:vars]"
  echo "ansible_python_interpreter=/usr/bin/python3"
} >"$inv"

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
verify() {
  local want=$1 deadline name v s l
  local -a bad
  deadline=$((SECONDS + 15))
  while :; do
    for name in "${names[@]}"; do
      "$lab" exec "$name" -- sh -c "$probe" >"$work/probe.$name" 2>&1 &
    done
    wait
    bad=()
    for name in "${names[@]}"; do
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
  for name in "${names[@]}"; do
    read -r _ s _ <"$work/probe.$name"
    sighups[$name]=$s
  done
}

# --- the contenders; each returns non-zero when any host failed ---
run_oneliner() {
  local val=$1 log=$2 name pid failed=0
  local -a pids=()
  for name in "${names[@]}"; do
    ssh -F "$LAB_SSH_CONFIG" -o ControlMaster=no -o ControlPath=none "$name" \
      "sudo sed -i 's/^PermitRootLogin .*/PermitRootLogin $val/' /etc/ssh/sshd_config && sudo sshd -t && sudo systemctl reload ssh" \
      </dev/null >>"$log" 2>&1 &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
  ((failed == 0)) || { echo "one-liner: $failed host(s) failed" >>"$log"; return 1; }
}

run_ansible() {
  local val=$1 log=$2
  ANSIBLE_CONFIG="$ansible_cfg" ANSIBLE_SSH_CONTROL_PATH_DIR="$work/cp" \
    ANSIBLE_LOCAL_TEMP="$work/ansible-tmp" ANSIBLE_NOCOLOR=1 \
    ansible-playbook -i "$inv" "$playbook" -e "value=$val" -f "$hosts" </dev/null >"$log" 2>&1
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
    "$sshdctl" -i "$inv" --forks "$hosts" -F "$LAB_SSH_CONFIG" --known-hosts "$LAB_KNOWN_HOSTS" \
    set PermitRootLogin "$val" </dev/null >"$log" 2>&1 || rc=$?
  if ((rc == 3)); then
    echo "sshdctl: exit 3 (nothing to change): every run must change every host" >>"$log"
  fi
  return "$rc"
}

# --- the rounds ---
samples="$out/rollout-$hosts.tsv"
printf 'round\tkind\ttool\thosts\tvalue\tms\tcpu_ms\tpeak_rss_kb\n' >"$samples"
# CPU time the whole machine (controller and hosts) was busy, in ms
hz=$(getconf CLK_TCK)
busy_ms() { awk -v hz="$hz" '$1 == "cpu" { printf "%d\n", ($2 + $3 + $4 + $7 + $8 + $9) * 1000 / hz; exit }' /proc/stat; }
cur=no
verify "$cur" || fail "the hosts do not start from PermitRootLogin $cur"
k=${#tools[@]}
total=$((warmup + runs))
for ((r = 1; r <= total; r++)); do
  if ((r <= warmup)); then kind=warmup; else kind=timed; fi
  for ((i = 0; i < k; i++)); do
    tool=${tools[$(((i + r - 1) % k))]}
    if [[ $cur == no ]]; then val=yes; else val=no; fi
    log="$work/$tool.$r.log"
    [[ $tool != ansible ]] || mkdir -p "$work/cp"
    rm -f "$work/rss"
    c0=$(busy_ms)
    t0=$(date +%s%N)
    rc=0
    case $tool in
      oneliner) run_oneliner "$val" "$log" || rc=$? ;;
      ansible) run_ansible "$val" "$log" || rc=$? ;;
      sshdctl) run_sshdctl "$val" "$log" || rc=$? ;;
    esac
    t1=$(date +%s%N)
    c1=$(busy_ms)
    [[ $tool != ansible ]] || ansible_after
    ms=$(((t1 - t0) / 1000000))
    if ((rc != 0)); then
      cp "$log" "$out/rollout-$hosts.failed.log"
      # Ansible's errors come before its recap
      { grep -E '^fatal:|UNREACHABLE!|FAILED!|ERROR!' "$log" | head -n 10; tail -n 15 "$log"; } >&2 || true
      fail "$tool, round $r, PermitRootLogin $val: exit $rc (its log: $out/rollout-$hosts.failed.log)"
    fi
    if ! verify "$val"; then
      cp "$log" "$out/rollout-$hosts.failed.log"
      fail "$tool, round $r: not every host has PermitRootLogin $val and a fresh reload (the run's log: $out/rollout-$hosts.failed.log)"
    fi
    cur=$val
    rss=-
    [[ ! -s $work/rss ]] || rss=$(tail -n 1 "$work/rss")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$kind" "$tool" "$hosts" "$val" "$ms" "$((c1 - c0))" "$rss" \
      >>"$samples"
    printf 'rollout.sh: round %d/%d (%s) %-8s -> %-3s %6d ms\n' "$r" "$total" "$kind" "$tool" "$val" "$ms" >&2
  done
done

# --- the report ---
versions="$(ssh -V 2>&1 | awk '{ sub(/,$/, "", $1); print $1 }')"
if uses sshdctl; then versions="$sshdctl_id, $versions"; fi
if uses ansible; then
  versions+=", $(ansible-playbook --version | awk 'NR == 1 { gsub(/[][]/, ""); print }')"
fi
report_rc=0
python3 - "$samples" "$hosts" "$runs" "$warmup" "$versions" "${BENCH_ENFORCE:-0}" "$load_before" "$(nproc)" <<'PY' \
  | tee "$out/rollout-$hosts.txt" || report_rc=$?
import csv, statistics, sys
path, hosts, runs, warmup, versions, enforce, load, cpus = sys.argv[1:]
hosts, runs = int(hosts), int(runs)
rows = [r for r in csv.DictReader(open(path), delimiter="\t") if r["kind"] == "timed"]
names = {"oneliner": "one-liner", "ansible": "ansible", "sshdctl": "sshdctl"}
ms = {t: [int(r["ms"]) for r in rows if r["tool"] == t] for t in names}
cpu = {t: [int(r["cpu_ms"]) for r in rows if r["tool"] == t] for t in names}
med = {t: statistics.median(v) for t, v in ms.items() if v}
print(f"rollout: PermitRootLogin flipped on {hosts} lab hosts, {runs} timed run(s) per tool "
      f"after {warmup} warm-up round(s), {hosts} in flight")
print(f"{versions}; {cpus} CPUs, load average {load} before the start")
print(f"{'tool':10} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'cpu ms':>8}")
for t in names:
    if t in med:
        print(f"{names[t]:10} {med[t]:10.0f} {min(ms[t]):8d} {max(ms[t]):8d} {statistics.median(cpu[t]):8.0f}")
missed = False
if "sshdctl" in med and "oneliner" in med:
    x = med["sshdctl"] / med["oneliner"]
    missed |= x > 1.2
    print(f"sshdctl / one-liner: {x:.2f}x (target <= 1.20x: {'met' if x <= 1.2 else 'MISSED'})")
if "sshdctl" in med and "ansible" in med:
    x = med["ansible"] / med["sshdctl"]
    missed |= x < 4
    print(f"ansible / sshdctl:   {x:.2f}x (target >= 4x: {'met' if x >= 4 else 'MISSED'})")
if "ansible" in med and "oneliner" in med:
    print(f"ansible / one-liner: {med['ansible'] / med['oneliner']:.2f}x")
    if "sshdctl" not in med:
        bound = min(1.2 * med["oneliner"], med["ansible"] / 4)
        print(f"sshdctl not run; both targets need its median <= {bound:.0f} ms "
              f"({bound / med['oneliner']:.2f}x the one-liner)")
rss = [int(r["peak_rss_kb"]) for r in rows if r["tool"] == "sshdctl" and r["peak_rss_kb"].isdigit()]
if rss:
    print(f"sshdctl controller peak RSS: {max(rss)} KB, {max(rss) / hosts:.0f} KB per in-flight host")
if runs < 5:
    print("note: fewer than 5 runs per tool: a smoke test, not a result")
sys.exit(1 if missed and enforce == "1" else 0)
PY
echo "samples: $samples" >&2
exit "$report_rc"

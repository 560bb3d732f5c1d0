#!/usr/bin/env bash
# bench/remote_set.sh -- time one remote "set X11Forwarding" on a lab host, three ways,
# side by side in one hyperfine run:
#
#   sshdctl           sshdctl --host ecs-user@HOST set X11Forwarding VALUE
#                     (one connection, sudo once, sshd -t on the host, atomic write,
#                     reload through systemd over the relayed bus, job awaited, login probe)
#   sshdctl-no-probe  the same with --no-probe (what the safety probe costs)
#   one-liner         ssh HOST 'sudo sed -i … && sudo sshd -t && sudo systemctl reload ssh'
#                     (OpenSSH client; no atomic write, no probe)
#
# Before each timed run, hyperfine's --prepare sets the host's value to the opposite one
# (through the lab, untimed), so every run really changes the file and reloads sshd.
#
# Usage (as root): bench/remote_set.sh [path/to/sshdctl]
# Environment: RUNS (default 20), BENCH_OUT (default /tmp/sshdctl-bench).
# Output: a table with medians and ratios to the one-liner; hyperfine's JSON in $BENCH_OUT.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
lab="$repo/tests/e2e/lab"
out="${BENCH_OUT:-/tmp/sshdctl-bench}"
runs="${RUNS:-20}"
die() { echo "remote_set.sh: $*" >&2; exit 2; }

# internal: make the host's X11Forwarding the opposite of what the next run sets
if [ "${1:-}" = "--prepare" ]; then
  "$lab" exec "$2" -- sed -i "s/^#*X11Forwarding .*/X11Forwarding $3/" /etc/ssh/sshd_config
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (the lab needs it)"
command -v hyperfine >/dev/null || die "hyperfine not found (scripts/setup installs it)"
bin="${1:-${SSHDCTL:-}}"
if [ -z "$bin" ]; then
  bin="$(ls -t "$repo"/build/*/bin/sshdctl 2>/dev/null | head -n 1 || true)"
fi
[ -x "$bin" ] || die "no sshdctl binary (build one: scripts/setup default)"
mkdir -p "$out"

prefix=bench-$$x
trap '"$lab" down --prefix "$prefix" >/dev/null 2>&1 || true' EXIT
"$lab" up 1 --prefix "$prefix" >/dev/null
# shellcheck disable=SC1091
. "$("$lab" state-dir --prefix "$prefix")/env"
host=${prefix}1
addr=$(awk -v n="$host" '$1 == n { print $2 }' "$LAB_HOSTS")
remote="$bin --host ecs-user@$addr --identity $LAB_KEY --known-hosts $LAB_KNOWN_HOSTS"

# every run sets "no" after the prepare step made it "yes"
hyperfine --runs "$runs" --warmup 2 --export-json "$out/remote_set.json" \
  --command-name sshdctl --prepare "$0 --prepare $host yes" "$remote set X11Forwarding no" \
  --command-name sshdctl-no-probe --prepare "$0 --prepare $host yes" "$remote --no-probe set X11Forwarding no 2>/dev/null" \
  --command-name one-liner --prepare "$0 --prepare $host yes" \
  "ssh -F $LAB_SSH_CONFIG $host 'sudo sed -i \"s/^X11Forwarding .*/X11Forwarding no/\" /etc/ssh/sshd_config && sudo sshd -t && sudo systemctl reload ssh'" \
  >"$out/remote_set.log"

python3 - "$out/remote_set.json" <<'PY' | tee "$out/remote_set.txt"
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base = results["one-liner"]["median"]
print(f"{'tool':18} {'median':>9} {'mean±sd':>16} {'vs one-liner':>13}")
for name, r in results.items():
    print(f"{name:18} {r['median']*1000:7.0f}ms {r['mean']*1000:7.0f}±{r['stddev']*1000:<5.0f}ms {r['median']/base:12.2f}x")
PY

#!/usr/bin/env bash
# bench/local_set.sh -- time one local "set PermitRootLogin" edit, three ways.
#
# Compares, side by side in a single hyperfine run, the wall time of changing
# PermitRootLogin in a fresh copy of tests/fixtures/roots/debian12-cloud with
#
#   sshdctl  "$SSHDCTL" --root "$ROOT" set PermitRootLogin yes
#            (edits through Augeas and validates the whole tree with sshd -t)
#   augtool  augtool -s -r "$ROOT" 'set /files/etc/ssh/sshd_config/PermitRootLogin yes'
#            (default autoload of every lens, autosave; no validation)
#   sed      sed -i 's/^PermitRootLogin .*/PermitRootLogin yes/' "$ROOT/etc/ssh/sshd_config"
#              && sshd -t -f "$ROOT/etc/ssh/sshd_config" -h <throw-away host key>
#            (the copy's Include lines are re-pointed into the copy, so sshd -t
#            reads the copy's drop-ins, like sshdctl validating the whole tree)
#
# Every timed run starts from a fresh copy made by hyperfine --prepare. The
# copy's starting value alternates between "no" and "prohibit-password" from
# one run to the next, never "yes", so every run really rewrites the file.
#
# Usage:
#   bench/local_set.sh [path/to/sshdctl]
#
# Environment:
#   SSHDCTL     sshdctl binary (used when no argument is given); if neither is
#               set, the newest build/*/bin/sshdctl of the work tree is used
#   BENCH_OUT   output directory (default /tmp/sshdctl-bench)
#   RUNS        timed runs per tool (default 30, at least 20)
#   WARMUP      warm-up runs per tool (default 3)
#   SSHD        sshd binary used by the sed variant (default /usr/sbin/sshd)
#   BENCH_ENFORCE=1  exit 1 when the sshdctl median misses the target
#
# Output: a table on stdout (also saved as $BENCH_OUT/local_set.txt), and
# hyperfine's $BENCH_OUT/local_set.json, local_set.csv and local_set.md.
set -euo pipefail

TARGET_MS=30
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
fixture="$repo/tests/fixtures/roots/debian12-cloud"
out="${BENCH_OUT:-/tmp/sshdctl-bench}"
sshd_bin="${SSHD:-/usr/sbin/sshd}"

die() { echo "local_set.sh: $*" >&2; exit 2; }

# --- internal: prepare one fresh copy (run by hyperfine before each run) ---
# usage: local_set.sh --prepare <tool> <root>
if [ "${1:-}" = "--prepare" ]; then
  tool="$2" root="$3"
  state="$(dirname "$root")/run-count"
  n=0
  [ -f "$state" ] && n="$(cat "$state")"
  echo $((n + 1)) > "$state"
  if [ $((n % 2)) -eq 0 ]; then start=no; else start=prohibit-password; fi
  rm -rf "$root"
  mkdir -p "$root"
  cp -a "$fixture/." "$root/"
  rm -f "$root/expected.txt"
  sed -i "s/^PermitRootLogin .*/PermitRootLogin $start/" "$root/etc/ssh/sshd_config"
  if [ "$tool" = sed ]; then
    # Re-point absolute Include paths into the copy.
    sed -i -E "s#^([[:space:]]*[Ii][Nn][Cc][Ll][Uu][Dd][Ee][[:space:]]+)/#\1$root/#" \
      "$root/etc/ssh/sshd_config"
  fi
  exit 0
fi

# --- locate the sshdctl binary ---
sshdctl="${1:-${SSHDCTL:-}}"
if [ -z "$sshdctl" ]; then
  # newest build/<preset>/bin/sshdctl, if any
  for cand in "$repo"/build/*/bin/sshdctl; do
    [ -f "$cand" ] || continue
    if [ -z "$sshdctl" ] || [ "$cand" -nt "$sshdctl" ]; then sshdctl="$cand"; fi
  done
fi
if [ -z "$sshdctl" ]; then
  die "no sshdctl binary: pass its path as the first argument or set SSHDCTL (no build/*/bin/sshdctl found either)"
fi
case "$sshdctl" in
  */*) ;;
  *) sshdctl="$(command -v "$sshdctl" || echo "$sshdctl")" ;;
esac
if [ ! -f "$sshdctl" ] || [ ! -x "$sshdctl" ]; then
  die "sshdctl binary '$sshdctl' is missing or not executable"
fi
sshdctl="$(cd "$(dirname "$sshdctl")" && pwd)/$(basename "$sshdctl")"

# --- check the other tools ---
command -v hyperfine >/dev/null || die "hyperfine not found (apt-get install hyperfine)"
command -v augtool >/dev/null || die "augtool not found (apt-get install augeas-tools)"
[ -x "$sshd_bin" ] || die "$sshd_bin not found (apt-get install openssh-server, or set SSHD)"
command -v ssh-keygen >/dev/null || die "ssh-keygen not found"
[ -f "$fixture/etc/ssh/sshd_config" ] || die "fixture missing: $fixture"

runs="${RUNS:-30}"
warmup="${WARMUP:-3}"
case "$runs" in ''|*[!0-9]*) die "RUNS must be a number" ;; esac
case "$warmup" in ''|*[!0-9]*) die "WARMUP must be a number" ;; esac
[ "$runs" -ge 20 ] || die "RUNS must be at least 20 (got $runs)"

# sshd -t needs its privilege separation directory.
if [ ! -d /run/sshd ]; then
  mkdir -p /run/sshd 2>/dev/null || die "/run/sshd is missing and cannot be created (run as root)"
fi

mkdir -p "$out"
work="$out/work"
rm -rf "$work"
mkdir -p "$work/sshdctl" "$work/augtool" "$work/sed"
hostkey="$work/hostkey"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$hostkey"

self="$here/local_set.sh"
q() { printf '%q' "$1"; }
root_sshdctl="$work/sshdctl/root"
root_augtool="$work/augtool/root"
root_sed="$work/sed/root"

cmd_sshdctl="$(q "$sshdctl") --root $(q "$root_sshdctl") set PermitRootLogin yes"
cmd_augtool="augtool -s -r $(q "$root_augtool") 'set /files/etc/ssh/sshd_config/PermitRootLogin yes'"
cmd_sed="sed -i 's/^PermitRootLogin .*/PermitRootLogin yes/' $(q "$root_sed/etc/ssh/sshd_config") && $(q "$sshd_bin") -t -f $(q "$root_sed/etc/ssh/sshd_config") -h $(q "$hostkey")"

# Sanity pass (untimed): every variant must succeed and leave "yes" behind.
for t in sshdctl augtool sed; do
  bash "$self" --prepare "$t" "$work/$t/root"
  case "$t" in
    sshdctl) c="$cmd_sshdctl" ;;
    augtool) c="$cmd_augtool" ;;
    sed) c="$cmd_sed" ;;
  esac
  if ! sh -c "$c" >"$work/$t/sanity.log" 2>&1; then
    cat "$work/$t/sanity.log" >&2
    die "$t failed on a fresh copy (command: $c)"
  fi
  if ! grep -Eq '^[[:space:]]*PermitRootLogin[[:space:]]+yes[[:space:]]*$' "$work/$t/root/etc/ssh/sshd_config"; then
    die "$t did not set 'PermitRootLogin yes' in $work/$t/root/etc/ssh/sshd_config"
  fi
  rm -f "$work/$t/run-count"
done

echo "fixture: $fixture"
echo "sshdctl: $sshdctl"
echo "runs: $runs per tool (+ $warmup warm-up), output: $out"
echo

hyperfine \
  --style basic \
  --warmup "$warmup" \
  --runs "$runs" \
  --export-json "$out/local_set.json" \
  --export-csv "$out/local_set.csv" \
  --export-markdown "$out/local_set.md" \
  --prepare "bash $(q "$self") --prepare sshdctl $(q "$root_sshdctl")" \
  --prepare "bash $(q "$self") --prepare augtool $(q "$root_augtool")" \
  --prepare "bash $(q "$self") --prepare sed $(q "$root_sed")" \
  --command-name sshdctl "$cmd_sshdctl" \
  --command-name augtool "$cmd_augtool" \
  --command-name sed+sshd-t "$cmd_sed" \
  >"$out/hyperfine.log" 2>&1 || { cat "$out/hyperfine.log" >&2; die "hyperfine failed"; }

# CSV columns: command,mean,stddev,median,user,system,min,max (seconds).
awk -F, -v target="$TARGET_MS" '
  NR == 1 { next }
  { name[NR] = $1; mean[NR] = $2 * 1000; sd[NR] = $3 * 1000; med[NR] = $4 * 1000; n = NR
    if ($1 == "sshdctl") base = med[NR] }
  END {
    printf "%-12s %10s %22s %14s\n", "tool", "median ms", "mean ± stddev ms", "ratio/sshdctl"
    for (i = 2; i <= n; i++)
      printf "%-12s %10.1f %13.1f ± %6.1f %13.2fx\n", name[i], med[i], mean[i], sd[i], (base > 0 ? med[i] / base : 0)
    printf "\ntarget: sshdctl median ≤ %d ms", target
    if (base <= target) printf " (measured %.1f ms: met)\n", base
    else printf " (measured %.1f ms: NOT met)\n", base
  }' "$out/local_set.csv" | tee "$out/local_set.txt"

echo
echo "json: $out/local_set.json"

if [ "${BENCH_ENFORCE:-0}" = 1 ]; then
  awk -F, -v t="$TARGET_MS" '$1 == "sshdctl" { exit ($4 * 1000 <= t ? 0 : 1) }' "$out/local_set.csv"
fi

#!/bin/bash
# Differential bench against sshd -T: N generated trees on both cores, the rate in trees/s, and
# a minimal reproducer of each kind of disagreement in tests/fixtures/differential/NAME/ (the
# tree under etc/ssh and case.txt: connection, keyword, sshd's and sshdctl's values).
#   bench/differential.sh N [SEED]            (as root; BUILD_DIR=build/diff by default)
# Re-run the reproducers: tests/differential/runner.py --replay tests/fixtures/differential ...
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
n=${1:?usage: differential.sh N [SEED]}
seed=${2:-$RANDOM$RANDOM}
build=${BUILD_DIR:-$src/build/diff}
[ "$(id -u)" = 0 ] || { echo "differential.sh: must run as root (private mount namespace)" >&2; exit 2; }
driver=$build/bin/sshdctl_diff_driver
[ -x "$driver" ] || driver=$build/differential/sshdctl_diff_driver
if [ ! -x "$driver" ]; then
  cmake -S "$src/tests/differential" -B "$build/differential" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSSHDCTL_BUILD_DIR="$build" >/dev/null
  cmake --build "$build/differential" >/dev/null
  driver=$build/differential/sshdctl_diff_driver
fi
out=${FIXTURES:-$src/tests/fixtures/differential}
mkdir -p "$out"
nice -n "${NICE:-15}" python3 "$src/tests/differential/runner.py" --driver "$driver" \
     --lenses "$build/share/sshdctl/lenses" --cli "${CLI:-$build/bin/sshdctl}" --seed "$seed" --trees "$n" \
     --time-limit "${TIME_LIMIT:-0}" \
     --jobs "${JOBS:-$(nproc)}" --connections "${CONNECTIONS:-3}" --cli-every "${CLI_EVERY:-50}" \
     --reduce-into "$out" --max-per-kind "${MAX_PER_KIND:-2}" --quiet || status=$?
echo "reproducers: $(find "$out" -name case.txt | wc -l) in $out"
exit "${status:-0}"

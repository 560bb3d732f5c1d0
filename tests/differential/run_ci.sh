#!/bin/bash
# CI mode of the differential test against sshd -T (see README.md): a seeded run of a few
# hundred trees, bounded to about 2 minutes, exit non-zero on any disagreement.
#   tests/differential/run_ci.sh BUILD_DIR        (as root; SSHDCTL_DIFF_SEED, _TREES override)
# BUILD_DIR is a built sshdctl tree (bin/sshdctl, share/sshdctl/lenses, src/libsshdctl_core.a).
# The driver comes from BUILD_DIR/bin when the project builds it (add_subdirectory), else it
# is built here against BUILD_DIR's static library, in BUILD_DIR/differential.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run_ci.sh BUILD_DIR}
build=$(cd "$build" && pwd)
fail() { echo "differential: FAIL: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || fail "must run as root (it needs a private mount namespace over /etc/ssh)"
[ -x /usr/sbin/sshd ] || fail "no /usr/sbin/sshd to compare with"
command -v python3 >/dev/null || fail "python3 is missing"
[ -x "$build/bin/sshdctl" ] || fail "$build/bin/sshdctl is missing (build the project first)"
lenses=$build/share/sshdctl/lenses
[ -f "$lenses/sshdctl_sshd.aug" ] || fail "no lenses in $lenses"

driver=$build/bin/sshdctl_diff_driver
if [ ! -x "$driver" ]; then
  [ -f "$build/src/libsshdctl_core.a" ] || fail "$build has neither the driver nor src/libsshdctl_core.a"
  cmake -S "$here" -B "$build/differential" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DSSHDCTL_BUILD_DIR="$build" >/dev/null || fail "cannot configure the driver"
  cmake --build "$build/differential" >/dev/null || fail "cannot build the driver"
  driver=$build/differential/sshdctl_diff_driver
fi

seed=${SSHDCTL_DIFF_SEED:-20261202}
trees=${SSHDCTL_DIFF_TREES:-300}
# --time-limit stops starting new trees after 110 s so that the run stays within 2 minutes on
# a loaded machine; the summary says how many trees ran, and a run of no tree fails.
exec nice -n "${SSHDCTL_DIFF_NICE:-15}" python3 "$here/runner.py" --driver "$driver" --lenses "$lenses" \
     --cli "$build/bin/sshdctl" --seed "$seed" --trees "$trees" --jobs "${SSHDCTL_DIFF_JOBS:-2}" \
     --connections 3 --cli-every 10 --time-limit "${SSHDCTL_DIFF_TIME_LIMIT:-110}" --quiet

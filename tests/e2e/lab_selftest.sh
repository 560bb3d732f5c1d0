#!/bin/bash
# Self-test of the e2e lab (tests/e2e/lab): boots two real hosts and checks
# that they look like the cloud hosts sshdctl is meant for, that the lab's
# interface (state files, ssh_config, exec) works, that the hosts are fenced
# off from everything but each other and the controller, and that `down`
# leaves nothing behind. Needs root; fails (never skips) where the lab can't run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$here/lab
P=e2eself
P2=e2eselfb
PF=e2eselffail
passed=0
failed=0
tmp=$(mktemp -d)

cleanup() {
    local p
    for p in "$P" "$P2" "$PF"; do "$lab" down --prefix "$p" >/dev/null 2>&1 || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=lab_checks.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab_checks.sh"

# the build dir the hosts see: the real one under ctest, else a stand-in
if [[ -z ${SSHDCTL_BUILD_DIR:-} ]]; then
    export SSHDCTL_BUILD_DIR=$tmp/build
    mkdir -p "$SSHDCTL_BUILD_DIR"
fi
marker=lab-selftest-marker.$$
: >"$SSHDCTL_BUILD_DIR/$marker" 2>/dev/null || marker=""

# ---------------------------------------------------------------- image --
check "lab image builds or reuses the cached image" "$lab" image
image=$("$lab" image-dir 2>/dev/null || true)
if [[ -n $image && -x $image/usr/lib/systemd/systemd ]]; then ok "image-dir prints the image ($image)"; else bad "image-dir prints the image" "got '$image'"; fi
check "the lab key is outside the image and private" \
    bash -c "[[ \$(stat -c %a '$image.keys/id_ed25519') == 600 && ! -e '$image/home/ecs-user/.ssh/id_ed25519' ]]"

# ------------------------------------------------------------------- up --
"$lab" down --prefix "$P" >/dev/null 2>&1 || true
if ! out=$("$lab" up 2 --prefix "$P" 2>"$tmp/up.err"); then
    bad "lab up 2 --prefix $P" "$(tail -n 5 "$tmp/up.err" | tr '\n' ' ')"
    finish; exit 1
fi
ok "lab up 2 --prefix $P"
st=$("$lab" state-dir --prefix "$P")
cfg=$st/ssh_config
check_eq "up prints one 'name address' line per host" 2 bash -c "grep -cE '^${P}[12] 10\\.213\\.[0-9]+\\.[12]\$' <<<'$out'"
for f in hosts known_hosts ssh_config pids env netns links; do
    check "state file $f exists" test -s "$st/$f"
done
check_eq "hosts file matches up's output" "$out" cat "$st/hosts"
ctl=$(. "$st/env"; printf '%s' "$LAB_CONTROLLER_ADDR")

declare -A addr
while read -r name a; do addr[$name]=$a; done <"$st/hosts"

for h in "${P}1" "${P}2"; do
    other=${P}1; [[ $h == "${P}1" ]] && other=${P}2
    a=${addr[$h]}
    check_eq "$h: key login as ecs-user (strict host key checking)" ecs-user \
        ssh -F "$cfg" -o StrictHostKeyChecking=yes "$h" whoami
    check_eq "$h: login by address works too" ecs-user ssh -F "$cfg" "$a" whoami
    check_not "$h: an unknown host key is refused (checking is really strict)" \
        ssh -F "$cfg" -o UserKnownHostsFile=/dev/null "$h" true
    check_not "$h: root login over ssh is refused" ssh -F "$cfg" -o User=root "$h" true
    check "$h: sudo -n true works for ecs-user" ssh -F "$cfg" "$h" sudo -n true
    check_eq "$h: hostname is the machine name" "$h" ssh -F "$cfg" "$h" hostname
    check_eq "$h: sshd -T permitrootlogin no" "permitrootlogin no" \
        bash -c "'$lab' exec '$h' -- sshd -T | grep '^permitrootlogin '"
    check_eq "$h: sshd -T passwordauthentication no" "passwordauthentication no" \
        bash -c "'$lab' exec '$h' -- sshd -T | grep '^passwordauthentication '"
    check_eq "$h: systemd is PID 1" systemd "$lab" exec "$h" -- cat /proc/1/comm
    check_eq "$h: ssh.service is active" active "$lab" exec "$h" -- systemctl is-active ssh
    check_eq "$h: no failed units (is-system-running)" running "$lab" exec "$h" -- systemctl is-system-running
    check_eq "$h: ecs-user sessions are registered with logind" ecs-user \
        ssh -F "$cfg" "$h" 'loginctl show-session "$XDG_SESSION_ID" -p Name --value'
    check_eq "$h: exec passes stdin/stdout through" hello-$h \
        bash -c "printf hello-%s '$h' | '$lab' exec '$h' -- cat"
    check_eq "$h: exec passes the exit code through" 7 \
        bash -c "'$lab' exec '$h' -- sh -c 'exit 7'; echo \$?"
    check_eq "$h: ssh passes the exit code through" 5 \
        bash -c "'$lab' ssh '$h' 'exit 5'; echo \$?"
    # network fence
    check_eq "$h: no IPv4 default route" "" "$lab" exec "$h" -- ip -4 route show default
    check_eq "$h: no IPv6 default route" "" "$lab" exec "$h" -- ip -6 route show default
    check_eq "$h: the only IPv4 route is the lab subnet" "${a%.*}.0/24" \
        bash -c "'$lab' exec '$h' -- ip -4 route show | cut -d' ' -f1"
    check_not "$h: an outside address is unroutable (ip route get, no packet sent)" \
        "$lab" exec "$h" -- ip route get 198.51.100.1
    check "$h: the controller is on-link" "$lab" exec "$h" -- ip route get "$ctl"
    check "$h: reaches $other's sshd" "$lab" exec "$h" -- \
        timeout 5 bash -c "exec 3<>/dev/tcp/${addr[$other]}/22 && head -c 4 <&3 | grep -q SSH-"
    # build dir and overlay
    check "$h: SSHDCTL_BUILD_DIR is visible at the same path" \
        "$lab" exec "$h" -- test -d "$SSHDCTL_BUILD_DIR"
    if [[ -n $marker ]]; then
        check "$h: ... with the files built here" "$lab" exec "$h" -- test -e "$SSHDCTL_BUILD_DIR/$marker"
    fi
    check_not "$h: ... read-only" "$lab" exec "$h" -- touch "$SSHDCTL_BUILD_DIR/lab-selftest-write.$$"
    check "$h: root can change /etc inside the host" "$lab" exec "$h" -- sh -c "echo x > /etc/lab-selftest-$h"
done
check "changes stay in the host's overlay (image untouched)" \
    bash -c "! ls '$image'/etc/lab-selftest-* >/dev/null 2>&1"
check_not "hosts do not see each other's changes" "$lab" exec "${P}2" -- test -e "/etc/lab-selftest-${P}1"
m1=$("$lab" exec "${P}1" -- cat /etc/machine-id 2>/dev/null || true)
m2=$("$lab" exec "${P}2" -- cat /etc/machine-id 2>/dev/null || true)
if [[ -n $m1 && $m1 != "$m2" ]]; then ok "each host has its own machine id"; else bad "each host has its own machine id" "'$m1' vs '$m2'"; fi

# -------------------------------------------------- a second lab at once --
if out2=$("$lab" up 1 --prefix "$P2" 2>"$tmp/up2.err"); then
    ok "a second prefix comes up beside the first"
    a2=${out2#* }
    if [[ ${a2%.*} != "${addr[${P}1]%.*}" ]]; then ok "... on its own subnet ($a2)"; else bad "... on its own subnet" "$a2"; fi
    check_eq "... and both answer" "${P}1 ${P2}1" \
        bash -c "echo \$('$lab' ssh ${P}1 hostname) \$('$lab' ssh ${P2}1 hostname)"
    check "down of the second prefix" "$lab" down --prefix "$P2"
    check_eq "... leaves the first one up" "${P}1" "$lab" ssh "${P}1" hostname
else
    bad "a second prefix comes up beside the first" "$(tail -n 5 "$tmp/up2.err" | tr '\n' ' ')"
fi

# ----------------------------------------------------------------- down --
netns=$(cat "$st/netns"); links=$(cat "$st/links"); pids=$(awk '{print $2}' "$st/pids")
check "lab down --prefix $P" "$lab" down --prefix "$P"
check_not "state dir removed" test -e "$st"
for ns in $netns; do check_not "netns $ns removed" test -e "/run/netns/$ns"; done
for l in $links; do check_not "link $l removed" ip link show "$l"; done
# exited: gone, or a zombie until this machine's init reaps it
for p in $pids; do check "nspawn $p exited" bash -c "[[ ! -e /proc/$p/stat || \$(cut -d' ' -f3 /proc/$p/stat) == Z ]]"; done
# only this test's subnets: other prefixes (another test run) may be up
subnet=${addr[${P}1]%.*}
check_eq "no address of the lab's subnet ($subnet.0/24) left on this machine" "" \
    bash -c "ip -4 -o addr show | grep -F ' ${subnet}.' || true"
check "down again is a no-op" "$lab" down --prefix "$P"

# ---------------------------------------------------- down after failed up --
if LAB_READY_TIMEOUT=0 "$lab" up 1 --prefix "$PF" >/dev/null 2>&1; then
    bad "up with a 0 s readiness timeout fails"
else
    ok "up with a 0 s readiness timeout fails"
fi
check "down after a failed up" "$lab" down --prefix "$PF"
check_not "... removes its state" test -e "$("$lab" state-dir --prefix "$PF")"
check_not "... and its netns" test -e /run/netns/sshdctl-lab-${PF}1

check_not "a bad prefix is refused" "$lab" up 1 --prefix 'bad1'

[[ -n $marker ]] && rm -f "$SSHDCTL_BUILD_DIR/$marker"
finish

#!/bin/bash
# shellcheck disable=SC2016  # single-quoted scripts for inner shells
# Self-test of the lab's flavors (tests/e2e/lab --flavor): boots one host of
# every flavor `lab flavors` lists in one mixed `lab up` and checks each one
# independently of sshdctl: the OpenSSH version (server banner and the
# binaries), the init (systemd or sysvinit), socket activation, sudo with a
# password, key logins, `lab flavor`, and that `down` leaves nothing behind.
# Needs root; fails (never skips) where the lab can't run. Builds the images
# it lacks first (a few minutes, once).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$here/lab
P=flvself
PF=flvselffail
passed=0
failed=0
tmp=$(mktemp -d)
# every flavor boots at once on a possibly busy machine
export LAB_READY_TIMEOUT=${LAB_READY_TIMEOUT:-180}
unset LAB_FLAVOR LAB_IMAGE

cleanup() {
    local p
    for p in "$P" "$PF"; do "$lab" down --prefix "$p" >/dev/null 2>&1 || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=lab_checks.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lab_checks.sh"

hx() { local h=$1; shift; "$lab" exec "$h" -- "$@"; }
on() { local h=$1; shift; ssh -F "$LAB_SSH_CONFIG" "$h" "$@" </dev/null; }
# the first line the server sends: SSH-2.0-OpenSSH_...
banner() { timeout 5 bash -c 'exec 3<>"/dev/tcp/$1/22" && head -n1 <&3' _ "$1" | tr -d '\r'; }

# ------------------------------------------------------------- flavors --
mapfile -t flavors < <("$lab" flavors | awk 'NR > 1 { print $1 }')
if ((${#flavors[@]} < 6)); then bad "lab flavors lists the flavors" "got: ${flavors[*]}"; finish; exit 1; fi
ok "lab flavors lists ${#flavors[@]} flavors (${flavors[*]})"
for f in bookworm bullseye trixie socket sysv sudopw; do
    check "lab flavors lists $f" grep -qx "$f" <(printf '%s\n' "${flavors[@]}")
done
declare -A fl_suite fl_ssh fl_init
while read -r f s v i _; do fl_suite[$f]=$s; fl_ssh[$f]=$v; fl_init[$f]=$i; done < <("$lab" flavors | tail -n +2)

"$lab" down --prefix "$PF" >/dev/null 2>&1 || true
check_not "up with an unknown flavor fails" "$lab" up 1 --prefix "$PF" --flavor bookworm,no-such-flavor
check_has "... naming the known flavors" "known: bookworm" "$lab" up 1 --prefix "$PF" --flavor no-such-flavor
check_not "... and creates no state" test -e "$("$lab" state-dir --prefix "$PF")"
check_not "... and no netns" test -e "/run/netns/sshdctl-lab-${PF}1"
check_has "LAB_FLAVOR is checked too" "unknown flavor" env LAB_FLAVOR=no-such-flavor "$lab" up 1 --prefix "$PF"

# ------------------------------------------------------------------- up --
list=$(IFS=,; printf '%s' "${flavors[*]}")
n=${#flavors[@]}
"$lab" down --prefix "$P" >/dev/null 2>&1 || true
t0=$(date +%s)
if ! out=$("$lab" up "$n" --prefix "$P" --flavor "$list" 2>"$tmp/up.err"); then
    bad "lab up $n --prefix $P --flavor $list" "$(tail -n 8 "$tmp/up.err" | tr '\n' ' ')"
    finish; exit 1
fi
ok "lab up $n --prefix $P --flavor $list ($(($(date +%s) - t0)) s, images included)"
st=$("$lab" state-dir --prefix "$P")
# shellcheck disable=SC1091
. "$st/env"
check_eq "env: LAB_FLAVORS is the list" "$list" printf '%s' "$LAB_FLAVORS"
check "env: LAB_SUDO_PASSWORD is set" test -n "${LAB_SUDO_PASSWORD:-}"
check_eq "hosts file: 'name address' per host" "$n" bash -c "grep -cE '^${P}[0-9]+ 10\\.213\\.[0-9]+\\.[0-9]+\$' '$st/hosts'"
check_eq "hosts file matches up's output" "$out" cat "$st/hosts"
check_eq "flavors file: 'name flavor' per host" "$n" bash -c "wc -l <'$st/flavors'"

declare -A addr
while read -r name a; do addr[$name]=$a; done <"$st/hosts"

for ((i = 1; i <= n; i++)); do
    h=$P$i
    f=${flavors[i - 1]}
    suite=${fl_suite[$f]}
    ver=${fl_ssh[$f]}
    a=${addr[$h]}
    check_eq "$h: lab flavor says $f" "$f" "$lab" flavor "$h"
    check_eq "$h ($f): key login as ecs-user" ecs-user on "$h" whoami
    check_has "$h ($f): server banner is OpenSSH_$ver" "SSH-2.0-OpenSSH_${ver}p" banner "$a"
    check_has "$h ($f): ssh -V is OpenSSH_$ver" "OpenSSH_${ver}p" hx "$h" ssh -V
    # sshd -V exists from OpenSSH 9.x on; 8.4 prints its version with the usage
    check_has "$h ($f): sshd reports OpenSSH_$ver" "OpenSSH_${ver}" hx "$h" /usr/sbin/sshd -V
    check_eq "$h ($f): Debian suite $suite" "$suite" \
        hx "$h" sh -c '. /etc/os-release; printf "%s" "$VERSION_CODENAME"'
    if [[ ${fl_init[$f]} == sysvinit ]]; then
        check_eq "$h ($f): PID 1 is init" init hx "$h" cat /proc/1/comm
        check_eq "$h ($f): ... from sysvinit-core" "install ok installed" \
            hx "$h" dpkg-query -W -f '${Status}' sysvinit-core
        check_not "$h ($f): systemd is not installed" hx "$h" test -e /lib/systemd/systemd
        check_not "$h ($f): /run/systemd/system does not exist" hx "$h" test -e /run/systemd/system
        check_eq "$h ($f): /run/sshd.pid names a running sshd" sshd \
            hx "$h" sh -c 'cat "/proc/$(cat /run/sshd.pid)/comm"'
        check "$h ($f): /etc/init.d/ssh status" hx "$h" /etc/init.d/ssh status
    else
        check_eq "$h ($f): PID 1 is systemd" systemd hx "$h" cat /proc/1/comm
        check "$h ($f): /run/systemd/system exists" hx "$h" test -d /run/systemd/system
    fi
    if [[ $f == socket || $f == *+socket ]]; then
        check_eq "$h ($f): ssh.socket is active" active hx "$h" systemctl is-active ssh.socket
        check_eq "$h ($f): ssh.socket is enabled" enabled hx "$h" systemctl is-enabled ssh.socket
        check_eq "$h ($f): ssh.service is not enabled" disabled hx "$h" systemctl is-enabled ssh.service
        check_eq "$h ($f): ssh.socket has Accept=no" Accept=no hx "$h" systemctl show ssh.socket -p Accept
    elif [[ ${fl_init[$f]} == systemd ]]; then
        check_eq "$h ($f): ssh.service is enabled" enabled hx "$h" systemctl is-enabled ssh.service
        check_eq "$h ($f): ssh.service is active" active hx "$h" systemctl is-active ssh.service
    fi
    if [[ $f == sudopw || $f == *+sudopw ]]; then
        check_not "$h ($f): sudo -n true as ecs-user fails" on "$h" sudo -n true
        check_eq "$h ($f): sudo -S with LAB_SUDO_PASSWORD works" root \
            bash -c 'printf "%s\n" "$1" | ssh -F "$2" "$3" sudo -S id -un' _ "$LAB_SUDO_PASSWORD" "$LAB_SSH_CONFIG" "$h"
        check_not "$h ($f): ... and a wrong password is refused" \
            bash -c 'printf "wrong\n" | ssh -F "$1" "$2" sudo -S true' _ "$LAB_SSH_CONFIG" "$h"
    else
        check_eq "$h ($f): sudo -n works without a password" root on "$h" sudo -n id -un
    fi
    check "$h ($f): password logins refused by sshd -T" \
        bash -c "'$lab' exec '$h' -- /usr/sbin/sshd -T | grep -qx 'passwordauthentication no'"
    check_eq "$h ($f): hostname is the machine name" "$h" on "$h" hostname
done

# ----------------------------------------------------------------- down --
netns=$(cat "$st/netns"); links=$(cat "$st/links"); pids=$(awk '{print $2}' "$st/pids")
t0=$(date +%s)
check "lab down --prefix $P" "$lab" down --prefix "$P"
ok "... took $(($(date +%s) - t0)) s"
check_not "state dir removed" test -e "$st"
for ns in $netns; do check_not "netns $ns removed" test -e "/run/netns/$ns"; done
for l in $links; do check_not "link $l removed" ip link show "$l"; done
# (an exited nspawn may stay a zombie until this machine's init reaps it)
for p in $pids; do check "nspawn $p exited" bash -c "[[ ! -e /proc/$p/stat || \$(cut -d' ' -f3 /proc/$p/stat) == Z ]]"; done
check_not "no host of $P left in ip netns" bash -c "ip netns list | grep -q 'sshdctl-lab-$P'"

finish

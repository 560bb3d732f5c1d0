#!/bin/bash
# `sshdctl doctor` on a lab host: a healthy host passes (exit 0, locally and over --host);
# then each case breaks exactly one thing — sshd stopped, port 22 dropped by nftables, an
# authorized_keys others may write, /run/nologin, root's password locked, DenyUsers root in
# a Match block — and doctor must name it (✗, exit 1) with a fix. The fix it prints is run as
# printed (`sshdctl` is this build's binary; shell fixes run in the host), after which doctor
# says the login works again and a real login from this machine proves it.
# doctor runs inside the host (`lab exec`), since several cases leave no way in over SSH.
# Needs root; fails, never skips, where the lab cannot run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2edoc

lab_up 1
H=${P}1
addr=$(addr_of "$H")
fail_mark=$'\u2717'

# doctor ARGS...: sshdctl doctor inside the host; sets RC, OUT, ERR
doctor() { capture hx "$H" "$bin" doctor "$@"; }
# fix_of CHECK: the fix printed under the failed finding CHECK of the last doctor run
fix_of() {
    awk -v c="$fail_mark $1:" 'index($0, c) { want = 1; next }
        want && /^ *fix/ { sub(/^ *fix( \(outside sshdctl\))?: /, ""); print; exit }
        want && /^  [^ ]/ { exit }' <<<"$OUT"
}
# run_fix CMD: the printed fix, run inside the host (sshdctl: this build's binary); stdin passes through
run_fix() {
    local cmd=$1
    if [[ $cmd == "sshdctl "* ]]; then
        eval "set -- ${cmd#sshdctl }"
        capture hx "$H" "$bin" "$@"
    else
        capture hx "$H" sh -c "$cmd"
    fi
}
ecs_login() { "$lab" ssh "$H" id -un 2>&1 || true; }

# what differs on the socket flavors: ssh.socket's Listen is what should listen, and it is the
# unit that brings sshd up (ssh.service is disabled there)
flavor=$(flavor_of "$H")
listens=22 boot_unit=ssh.service
if [[ $flavor == *socket ]]; then listens="[::]:22" boot_unit=ssh.socket; fi
sudo_args "$flavor"

# --- healthy ------------------------------------------------------------------------------
doctor --user ecs-user
check_rc "healthy host: doctor --user ecs-user exits 0" 0
check_has "... sshd runs" "✓ sshd runs: ssh.service is active/running" "$OUT"
check_has "... something listens on port 22" "✓ port open: something listens on $listens" "$OUT"
check_has "... the decision names the file:line" "PasswordAuthentication no  [/etc/ssh/sshd_config.d/50-cloud-init.conf:1]" "$OUT"
check_has "... starts at boot through $boot_unit" "✓ starts at boot: $boot_unit is enabled" "$OUT"
check_has "... a way in: the key" "✓ a way in: ecs-user can log in with publickey (1 key(s))" "$OUT"
check_has "... the firewall was read (nft)" "✓ nft list ruleset: no rule drops or rejects tcp port 22" "$OUT"
check_has "... verdict" "verdict: nothing keeps ecs-user from logging in" "$OUT"
check_lacks "... no ✗ anywhere" "$fail_mark" "$OUT"
doctor --user root
check_rc "healthy host, root (PermitRootLogin no): exit 1" 1
check_has "... PermitRootLogin no from sshd_config, fixed by root-login enable" \
    "fix: sshdctl root-login enable" "$(awk '/PermitRootLogin: PermitRootLogin no/ { p = 1 } p' <<<"$OUT")"
capture hx "$H" "$bin" --json doctor --user ecs-user
check_has "--json: the verdict for programs" '"login":"works"' "$OUT"
capture "$bin" --host "ecs-user@$addr" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 5 \
    "${SUDO_ARGS[@]}" doctor --user ecs-user
check_rc "over --host: exit 0" 0
check_has "... the client address is this session's (SSH_CONNECTION)" \
    "from $LAB_CONTROLLER_ADDR? (SSH_CONNECTION of this session)" "$OUT"

# --- sshd stopped -------------------------------------------------------------------------
# (under socket activation the socket too: it would start sshd at the next connection)
if [[ $boot_unit == ssh.socket ]]; then hx "$H" systemctl stop ssh.socket ssh.service; else hx "$H" systemctl stop ssh; fi
doctor --user ecs-user
check_rc "sshd stopped: exit 1" 1
check_has "... ✗ sshd runs" "$fail_mark sshd runs: $boot_unit is inactive/dead" "$OUT"
check_has "... ✗ nothing listens" "$fail_mark port open: nothing listens on $listens" "$OUT"
fix=$(fix_of "sshd runs")
check_eq "... the fix" "sshdctl service restart" "$fix"
run_fix "$fix"
check_rc "... which works" 0
check "... sshd answers again" wait_sshd "$addr"
doctor --user ecs-user
check_rc "... doctor: exit 0" 0
check_eq "... and ecs-user logs in" ecs-user "$(ecs_login)"

# --- port 22 dropped by nftables ----------------------------------------------------------
hx "$H" nft add table inet e2edoc
hx "$H" nft add chain inet e2edoc input '{ type filter hook input priority 0; policy accept; }'
hx "$H" nft add rule inet e2edoc input tcp dport 22 drop
doctor --user ecs-user
check_rc "nftables drops tcp/22: exit 1" 1
check_has "... ✗ names the rule" "$fail_mark nft list ruleset: drops or rejects tcp port 22 from 192.0.2.1: table inet e2edoc chain input: tcp dport 22 drop" "$OUT"
if timeout 15 "$lab" ssh "$H" true >/dev/null 2>&1; then bad "... a real login fails"; else ok "... a real login fails"; fi
fix=$(fix_of "nft list ruleset")
check_has "... the fix (outside sshdctl) deletes that rule by handle" "nft delete rule inet e2edoc input handle" "$fix"
run_fix "$fix"
check_rc "... which works" 0
doctor --user ecs-user
check_rc "... doctor: exit 0" 0
check_eq "... and ecs-user logs in" ecs-user "$(ecs_login)"

# --- authorized_keys 0666 (StrictModes) ---------------------------------------------------
hx "$H" chmod 0666 /home/ecs-user/.ssh/authorized_keys
doctor --user ecs-user
check_rc "authorized_keys 0666: exit 1" 1
check_has "... ✗ StrictModes" "$fail_mark key file modes: /home/ecs-user/.ssh/authorized_keys can be written by group or others (mode 0666): sshd (StrictModes) ignores" "$OUT"
if [[ $(ecs_login) == ecs-user ]]; then bad "... a real key login fails"; else ok "... a real key login fails"; fi
fix=$(fix_of "key file modes")
check_eq "... the fix" "sshdctl key add ecs-user --pubkey KEY.pub --fix-perms" "$fix"
run_fix "${fix/KEY.pub/-}" <"$LAB_KEY.pub"
check_rc "... which repairs the modes (the key is there: unchanged)" 3
check_eq "... the file is 0600" 600 "$(hx "$H" stat -c %a /home/ecs-user/.ssh/authorized_keys)"
doctor --user ecs-user
check_rc "... doctor: exit 0" 0
check_eq "... and ecs-user logs in" ecs-user "$(ecs_login)"

# --- /run/nologin -------------------------------------------------------------------------
hx "$H" sh -c 'echo "down for maintenance" >/run/nologin'
doctor --user ecs-user
check_rc "/run/nologin: exit 1 for ecs-user" 1
check_has "... ✗ pam_nologin" "$fail_mark nologin: /run/nologin exists: pam_nologin (/etc/pam.d/sshd:" "$OUT"
check_has "... quoting the file" "| it says: down for maintenance" "$OUT"
if [[ $(ecs_login) == ecs-user ]]; then bad "... a real login fails"; else ok "... a real login fails"; fi
doctor --user root
check_has "... root is exempt: a warning, not a failure" "! nologin: /run/nologin exists" "$OUT"
doctor --user ecs-user
fix=$(fix_of nologin)
check_eq "... the fix (outside sshdctl)" "rm /run/nologin" "$fix"
run_fix "$fix"
check_rc "... which works" 0
doctor --user ecs-user
check_rc "... doctor: exit 0" 0
check_eq "... and ecs-user logs in" ecs-user "$(ecs_login)"

# --- root's password locked ---------------------------------------------------------------
pw=$(new_password)
set_root_password "$H" "$pw"
capture hx "$H" "$bin" root-login enable
check_rc "root-login enable (root may log in with a password)" 0
check "... sshd answers again" wait_sshd "$addr"
doctor
check_rc "... doctor for root: exit 0" 0
check_root_login "... and root logs in with the password" "$addr" "$pw"
hx "$H" usermod -L root
doctor
check_rc "root locked (usermod -L): exit 1" 1
check_has "... ✗ password locked" "$fail_mark password: password locked" "$OUT"
fix=$(fix_of password)
check_root_refused "... a real root login is refused" "$addr" "$pw"
check_eq "... the fix" "sshdctl passwd root --unlock" "$fix"
run_fix "$fix"
check_rc "... which works" 0
doctor
check_rc "... doctor: exit 0" 0
check_root_login "... and root logs in with the same password" "$addr" "$pw"

# --- DenyUsers root in a Match block ------------------------------------------------------
hx "$H" sed -i '/^Match User root$/a\  DenyUsers root' /etc/ssh/sshd_config
reload_in "$H"
check "... sshd answers again" wait_sshd "$addr"
line=$(hx "$H" grep -n '^ *DenyUsers root$' /etc/ssh/sshd_config | cut -d: -f1)
doctor
check_rc "DenyUsers root in Match User root: exit 1" 1
check_has "... ✗ names the list, the line and the block" \
    "$fail_mark Allow/Deny lists: DenyUsers root matches root from 192.0.2.1: sshd refuses root  [/etc/ssh/sshd_config:$line (Match User root)]" "$OUT"
fix=$(fix_of "Allow/Deny lists")
check_root_refused "... a real root login is refused" "$addr" "$pw"
check_eq "... the fix" 'sshdctl unset DenyUsers --match "User root"' "$fix"
run_fix "$fix"
check_rc "... which works" 0
check "... sshd answers again" wait_sshd "$addr"
doctor
check_rc "... doctor: exit 0" 0
check_root_login "... and root logs in" "$addr" "$pw"

finish

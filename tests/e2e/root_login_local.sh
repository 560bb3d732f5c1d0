#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# End to end, local mode: `sshdctl root-login enable` run as root inside a
# real Debian 12 cloud-like host (PermitRootLogin no in sshd_config,
# PasswordAuthentication no in cloud-init's drop-in) lets root log in with a
# password, and only root; `root-login disable` restores both files byte for
# byte and root is refused again. A local window whose run is killed after its writes is
# reverted by the host's timer.
#
# Everything is checked independently of sshdctl: the host's own `sshd -T`,
# sha256sum of the files, and real password logins over the network from
# this machine with strict host key checking.
#
# sshdctl reloads sshd through systemd after each change; the test checks that it
# said so, then waits for sshd to answer again (it re-executes itself on a reload).
#
# Needs root and SSHDCTL_BUILD_DIR (the build dir with bin/sshdctl); fails,
# never skips, when either is missing or the lab cannot run here.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2eroot

lab_up 1
h=${P}1
a=$(addr_of "$h")
ctl=$LAB_CONTROLLER_ADDR
files=(/etc/ssh/sshd_config /etc/ssh/sshd_config.d/50-cloud-init.conf)
pw=$(new_password)

# ------------------------------------------------------------ starting point --
orig=$(sums "$h" "${files[@]}")
check_has "recorded sha256 of sshd_config and the cloud-init drop-in" "50-cloud-init.conf" "$orig"
check_eq "before: sshd -T for root says no/no" \
    "permitrootlogin no passwordauthentication no" "$(eff "$h" root "$ctl")"
set_root_password "$h" "$pw"
check_root_refused "before: root password login is refused" "$a" "$pw"

# ------------------------------------------------------------------- enable --
capture hx "$h" "$bin" root-login enable
check_rc "root-login enable exits 0 (changed)" 0
check_has "... and says sshd -t validated the result" "validated" "$OUT"
check_has "... and that it reloaded ssh.service through systemd, job done" \
    "$(reloaded_text "$(flavor_of "$h")")" "$OUT"
check_eq "after enable: sshd -T for root: permitrootlogin yes, passwordauthentication yes (beats the cloud-init drop-in)" \
    "permitrootlogin yes passwordauthentication yes" "$(eff "$h" root "$ctl")"
check_has "after enable: sshd -T for ecs-user still has passwordauthentication no (root only)" \
    "passwordauthentication no" "$(eff "$h" ecs-user "$ctl")"
check "after enable: sshd -t accepts the configuration" hx "$h" sshd -t
after_enable=$(sums "$h" "${files[@]}")
check_eq "after enable: files keep mode and owner" \
    "$(grep -v '^[0-9a-f]\{64\} ' <<<"$orig")" "$(grep -v '^[0-9a-f]\{64\} ' <<<"$after_enable")"

check "sshd answers again after sshdctl's reload" wait_sshd "$a"
check_root_login "root logs in with the password (sshpass, strict host key checking): id -u is 0" "$a" "$pw"
check_eq "ecs-user's key login still works" ecs-user "$("$lab" ssh "$h" id -un 2>&1 || true)"

# --------------------------------------------------------------- idempotent --
capture hx "$h" "$bin" root-login enable
check_rc "a second root-login enable exits 3 (unchanged)" 3
check_eq "... and writes nothing" "$after_enable" "$(sums "$h" "${files[@]}")"

# ------------------------------------------------------------------ disable --
capture hx "$h" "$bin" root-login disable
check_rc "root-login disable exits 0 (changed)" 0
check_eq "after disable: sshd -T for root says no/no" \
    "permitrootlogin no passwordauthentication no" "$(eff "$h" root "$ctl")"
check_eq "after disable: both files are byte-identical to the originals (sha256, mode, owner)" \
    "$orig" "$(sums "$h" "${files[@]}")"
check_has "disable reloaded ssh.service through systemd, job done" \
    "$(reloaded_text "$(flavor_of "$h")")" "$OUT"
check "sshd answers again after sshdctl's reload" wait_sshd "$a"
check_root_refused "after disable: root password login is refused" "$a" "$pw"
check_eq "ecs-user's key login still works" ecs-user "$("$lab" ssh "$h" id -un 2>&1 || true)"

capture hx "$h" "$bin" root-login disable
check_rc "a second root-login disable exits 3 (unchanged)" 3
check_eq "... and writes nothing" "$orig" "$(sums "$h" "${files[@]}")"

# ------------------------------------------- a local window, its run killed --
# Without systemd (sysv) there are no transient timers: a window is refused, nothing written.
if [[ $(flavor_of "$h") == sysv ]]; then
    capture hx "$h" "$bin" --confirm-within 15s root-login enable
    check_rc "sysv: root-login enable --confirm-within 15s is refused" 1
    check_has "... saying why" "need systemd (transient timers), which this host does not run; nothing was changed" "$ERR"
    check_eq "... and writes nothing" "$orig" "$(sums "$h" "${files[@]}")"
    finish
    exit
fi
# The window's timer is set up before the first live write, so a run that dies after its
# writes (a dropped session, an Ansible module killed) is still reverted by the host itself.
capture hx "$h" env SSHDCTL_TEST_KILL_AT=applied "$bin" --confirm-within 15s root-login enable
check_eq "a local root-login enable --confirm-within 15s killed after its writes dies of SIGKILL" 137 "$RC"
check_eq "... its files are written" "permitrootlogin yes passwordauthentication yes" "$(eff "$h" root "$ctl")"
check_has "... its change set is left 'applied'" "applied" "$(hx "$h" sh -c 'cat /var/lib/sshdctl/changes/*/state')"
sleep 25
check_eq "after 15 s the window's timer has reverted it: both files as they were" \
    "$orig" "$(sums "$h" "${files[@]}")"
check_eq "... and sshd -T for root says no/no" \
    "permitrootlogin no passwordauthentication no" "$(eff "$h" root "$ctl")"

finish

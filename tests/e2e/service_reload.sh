#!/bin/bash
# sshd is reloaded through the real systemd of a lab host, over D-Bus, after a change:
# the job is awaited, the new settings are live for new connections, an open session
# survives, and failures (a job that fails, an unknown unit, a caller that is not root,
# no D-Bus at all) are reported as such. Checks are made independently of sshdctl
# (systemctl show, real SSH connections). Needs root; fails, never skips, where the lab
# cannot run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2esvc

in_host() { hx "$H" "$@"; }
sshdctl() { in_host "$bin" "$@"; }
# The kill -HUP entry of ExecReload names the pid of the last reload's kill: it moves on
# every reload. MainPID does not: sshd re-executes itself in place on SIGHUP.
reload_marker() { in_host systemctl show ssh -p ExecReload | grep -o 'argv\[\]=/bin/kill[^}]*pid=[0-9]*' | grep -o 'pid=[0-9]*$'; }
main_pid() { in_host systemctl show ssh -p MainPID --value; }

lab_up 1
H=${P}1
ssh_host() { ssh -F "$LAB_SSH_CONFIG" "$H" "$@"; }
# sshd closes its listener for an instant while it re-executes: retry briefly.
banner_is_live() {
    for _ in 1 2 3 4 5; do
        if ssh_host -v true 2>&1 | grep -q sshdctl-banner-is-live; then return 0; fi
        sleep 0.3
    done
    return 1
}

# ---------------------------------------------------------------- reload after a change --
in_host sh -c 'echo sshdctl-banner-is-live > /etc/ssh/e2e-banner'
if ssh_host -v true 2>&1 | grep -q sshdctl-banner-is-live; then bad "no banner before the change"; else ok "no banner before the change"; fi
ssh_host 'sleep 6; echo session-survived' >"$tmp/session.out" 2>&1 &
session=$!
sleep 1
pid_before=$(main_pid)
marker_before=$(reload_marker)
if out=$(sshdctl set Banner /etc/ssh/e2e-banner 2>&1); then ok "set Banner exits 0"; else bad "set Banner exits 0" "$out"; fi
if grep -q 'reload of ssh.service through systemd (D-Bus): done' <<<"$out"; then ok "the reload job was awaited and reported done"; else bad "the reload job was awaited and reported done" "$out"; fi
if [[ $(reload_marker) != "$marker_before" ]]; then ok "systemd ran ExecReload (its kill pid moved)"; else bad "systemd ran ExecReload" "$marker_before"; fi
if [[ $(main_pid) == "$pid_before" ]]; then ok "MainPID unchanged: a reload, not a restart"; else bad "MainPID unchanged" "$pid_before -> $(main_pid)"; fi
if [[ $(in_host systemctl is-active ssh) == active ]]; then ok "ssh.service active after the reload"; else bad "ssh.service active after the reload"; fi
if banner_is_live; then ok "a new connection sees the new Banner"; else bad "a new connection sees the new Banner"; fi
if wait "$session" && grep -q session-survived "$tmp/session.out"; then ok "the open SSH session survived the reload"; else bad "the open SSH session survived the reload" "$(cat "$tmp/session.out")"; fi
if out=$(sshdctl set Banner /etc/ssh/e2e-banner 2>&1); then bad "an unchanged set exits 3" "$out"; else
    rc=$?; [[ $rc == 3 ]] && ! grep -q 'reload of' <<<"$out" && ok "an unchanged set exits 3 and reloads nothing" || bad "an unchanged set exits 3 and reloads nothing" "rc=$rc $out"; fi
if out=$(sshdctl --no-reload set Banner none 2>&1) && grep -q 'NOT RELOADED' <<<"$out"; then ok "--no-reload says loudly that nothing was reloaded"; else bad "--no-reload says so" "$out"; fi

# ---------------------------------------------------------------- status and errors --
if out=$(sshdctl service status 2>&1) && grep -q "ssh.service active/running, main pid $(main_pid)" <<<"$out"; then ok "service status names the unit, state and main pid"; else bad "service status" "$out"; fi
if out=$(sshdctl --unit nosuch.service service status 2>&1); then bad "unknown unit is an error" "$out"; else
    rc=$?; [[ $rc == 2 ]] && grep -q 'unit nosuch.service not found' <<<"$out" && ok "unknown unit: exit 2, 'not found'" || bad "unknown unit" "rc=$rc $out"; fi
if out=$(in_host runuser -u ecs-user -- "$bin" service reload 2>&1); then bad "non-root reload is refused" "$out"; else
    grep -q 'permission denied' <<<"$out" && ok "non-root reload: permission denied" || bad "non-root reload: permission denied" "$out"; fi

# A configuration that passes validation but cannot start: the host keys are gone.
in_host sh -c 'mkdir -p /root/keys && mv /etc/ssh/ssh_host_* /root/keys/'
if out=$(sshdctl service restart 2>&1); then bad "a failing restart is an error" "$out"; else
    grep -q 'restart of ssh.service failed: job failed' <<<"$out" && ok "a failing restart is reported as a failed job" || bad "failed restart reported" "$out"; fi
if grep -qi 'ssh' <<<"$(sed -n '2,$p' <<<"$out")"; then ok "the report quotes the unit's journal"; else bad "the report quotes the unit's journal" "$out"; fi
in_host sh -c 'mv /root/keys/* /etc/ssh/ && systemctl reset-failed ssh && systemctl start ssh'
if [[ $(in_host systemctl is-active ssh) == active ]]; then ok "ssh.service is back after restoring the keys"; else bad "ssh.service is back"; fi

# No D-Bus: the documented SIGHUP fallback, reported as such.
in_host sh -c 'systemctl stop dbus.socket dbus.service' || true
if out=$(sshdctl set Banner /etc/ssh/e2e-banner 2>&1) && grep -q 'SIGHUP to the pid in /run/sshd.pid (cannot talk to systemd over D-Bus' <<<"$out"; then
    ok "without D-Bus the reload falls back to SIGHUP and says so"; else bad "SIGHUP fallback reported" "$out"; fi
if banner_is_live; then ok "the SIGHUP reload made the Banner live again"; else bad "the SIGHUP reload made the Banner live"; fi

# Socket activation (Debian ships ssh.socket disabled): the socket unit owns the listening
# socket, so a Port change moves the socket (drop-in, daemon-reload, restart) and an open
# session survives.
in_host sh -c 'systemctl start dbus.socket dbus.service && systemctl disable --now ssh.service && systemctl enable --now ssh.socket' >/dev/null 2>&1
if [[ $(in_host systemctl is-active ssh.socket) == active ]]; then ok "the host now runs sshd socket-activated"; else bad "ssh.socket active"; fi
ssh_host true || true  # the first connection starts ssh.service through the socket
ssh_host 'sleep 5; echo session-survived' >"$tmp/session2.out" 2>&1 &
session=$!
sleep 1
if out=$(sshdctl set Port 2200 2>&1) && grep -q 'ssh.socket now listens on [^ ]*:2200 ' <<<"$out"; then
    ok "a Port change under ssh.socket moves the socket"; else bad "a Port change under ssh.socket moves the socket" "$out"; fi
if in_host systemctl cat ssh.socket | grep -q '^ListenStream=2200$'; then ok "systemd's ssh.socket has ListenStream=2200"; else bad "ssh.socket ListenStream=2200"; fi
answered=no
for _ in 1 2 3 4 5; do
    if ssh -F "$LAB_SSH_CONFIG" -p 2200 "$H" true 2>/dev/null; then answered=yes; break; fi
    sleep 0.3
done
if [[ $answered == yes ]]; then ok "sshd answers on the new Port 2200"; else bad "sshd answers on the new Port 2200"; fi
if ssh -F "$LAB_SSH_CONFIG" -p 22 -o ConnectTimeout=3 "$H" true 2>/dev/null; then bad "port 22 is closed now"; else ok "port 22 is closed now"; fi
if wait "$session" && grep -q session-survived "$tmp/session2.out"; then ok "an open session survived the move"; else bad "an open session survived the move" "$(cat "$tmp/session2.out")"; fi

finish

#!/bin/bash
# sshd behind ssh.socket (flavor socket: Debian 12; LAB_FLAVOR=trixie+socket: Debian 13), over
# SSH as ecs-user, with the host's own systemd and a login from this machine as the judges:
#   - service status names the socket; a setting change restarts ssh.service (Debian's sshd
#     exits on SIGHUP under the socket) and is probed; a burst of changes stays within the
#     start limit, keeps ssh.service up and an open session alive; a window's end (the
#     target's own revert script) restarts it the same way;
#   - Port 22 2222 moves the socket (sshdctl's drop-in), a key login on 2222 works, doctor
#     reports the socket's listeners; Port 22 closes 2222 again;
#   - with a generator of the socket's addresses, as Ubuntu's sshd-socket-generator does it
#     (reproduced in the host: its drop-in addresses.conf sorts after sshdctl's and resets
#     ListenStream=), sshdctl writes no drop-in of its own, removes its old one, and the socket
#     still listens where sshd_config says.
# Needs root; fails, never skips, where the lab cannot run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2esock

flavor=${LAB_FLAVOR:-socket}
[[ $flavor == socket || $flavor == *+socket ]] || fatal "socket_activation runs on a socket flavor, not $flavor"
lab_up 1 --flavor "$flavor"
H=${P}1
addr=$(addr_of "$H")
remote=("$bin" --host "ecs-user@$addr" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 5)
dropin=/etc/systemd/system/ssh.socket.d/50-sshdctl-listen.conf
listen() { hx "$H" systemctl show ssh.socket -p Listen --value; }
key_login_port() {
    ssh -F "$LAB_SSH_CONFIG" -p "$1" -o ConnectTimeout=5 "$H" id -un 2>&1 || true
}

check_eq "the host runs sshd through ssh.socket" active "$(hx "$H" systemctl is-active ssh.socket)"
capture "${remote[@]}" service status
check_rc "service status over SSH" 0
check_has "... names the socket" "ssh.socket" "$OUT"

capture "${remote[@]}" set X11Forwarding no
check_rc "set X11Forwarding no behind the socket" 0
check_has "... probed with a fresh login" "login probe: a fresh login as ecs-user with publickey works" "$OUT"
check_has "... and sshd uses it" "x11forwarding no" "$(hx "$H" sshd -T | grep -i '^x11forwarding')"
# Debian's sshd that took its socket from ssh.socket exits on SIGHUP ("Cannot bind any
# address"): the change restarts ssh.service instead, and it stays up.
check_has "... restarted, not reloaded (a SIGHUP would make it exit)" "restart of ssh.service" "$OUT"
check_eq "... ssh.service is running after it" active "$(hx "$H" systemctl is-active ssh.service)"

# --- a burst of changes: more restarts than ssh.service's start limit (5 in 10 s) allows ---
since=$(hx "$H" date '+%Y-%m-%d %H:%M:%S')
sleep 30 </dev/null | ssh -F "$LAB_SSH_CONFIG" "$H" 'sleep 12; echo still-here' >"$tmp/session.out" 2>&1 &
session=$!
burst_rc=
for v in 30 40 50 60 70 80 90; do
    capture "${remote[@]}" set LoginGraceTime "$v"
    burst_rc+="$RC "
done
check_eq "seven changes in a row each succeed" "0 0 0 0 0 0 0 " "$burst_rc"
check_eq "... ssh.service is still running" active "$(hx "$H" systemctl is-active ssh.service)"
check_eq "... ssh.socket is still listening" active "$(hx "$H" systemctl is-active ssh.socket)"
check_has "... sshd uses the last value" "logingracetime 90" "$(hx "$H" sshd -T | grep -i '^logingracetime')"
journal=$(hx "$H" journalctl -u ssh.service -u ssh.socket --since "$since" --no-pager)
check_lacks "... no sshd exited for want of its socket" "Cannot bind any address" "$journal"
check_lacks "... no start limit was hit" "start-limit" "$journal"
wait "$session" || true
check_eq "a session open during the burst is kept" still-here "$(tail -1 "$tmp/session.out")"

# --- a window ends behind the socket: the target's own revert restarts sshd ----------------
capture "${remote[@]}" --for 10s set MaxAuthTries 3
check_rc "set MaxAuthTries 3 --for 10s" 0
check "... the window's end runs to completion" wait_windows_over "$H" 40
check_eq "... the window's end puts MaxAuthTries back" "maxauthtries 6" "$(hx "$H" sshd -T | grep -i '^maxauthtries')"
check_eq "... and ssh.service is running after it" active "$(hx "$H" systemctl is-active ssh.service)"
check_eq "... a key login works" ecs-user "$(key_login_port 22)"

# --- Port moves the socket -----------------------------------------------------------------
capture "${remote[@]}" set Port 22 2222
check_rc "set Port 22 2222" 0
check_has "... the socket listens on both" "ssh.socket now listens on" "$OUT"
check_has "... systemd says 2222 is a listener" ":2222" "$(listen)"
check_has "... through sshdctl's drop-in" "ListenStream=2222" "$(hx "$H" cat "$dropin")"
check_eq "a key login on port 2222 works" ecs-user "$(key_login_port 2222)"
check_eq "... and on 22" ecs-user "$(key_login_port 22)"
capture "${remote[@]}" doctor --user ecs-user
check_has "doctor reports the socket's listeners" "(wanted by ssh.socket Listen)" "$OUT"
check_has "... 2222 among them" "2222" "$(grep -i 'port open' <<<"$OUT")"
capture "${remote[@]}" set Port 22
check_rc "set Port 22" 0
check_lacks "... 2222 is no listener any more" ":2222" "$(listen)"
check_lacks "... a login on 2222 is refused" ecs-user "$(key_login_port 2222)"

# --- a generator of the socket's addresses, as Ubuntu's --------------------------------------
hx "$H" sh -c 'cat > /usr/lib/systemd/system-generators/sshd-socket-generator && chmod 0755 /usr/lib/systemd/system-generators/sshd-socket-generator' <<'EOF'
#!/bin/sh
# As Ubuntu's sshd-socket-generator behaves: ssh.socket listens where sshd_config's Port and
# ListenAddress say, through a drop-in in the generator dir (nothing for the default 22).
out=$1/ssh.socket.d
# (Ubuntu's asks sshd -G, which OpenSSH 9.2 lacks: sshd -T says the same here.)
addrs=$( { /usr/sbin/sshd -G 2>/dev/null || /usr/sbin/sshd -T 2>/dev/null; } | awk '$1 == "listenaddress" { print $2 }' | sort)
[ -n "$addrs" ] || exit 0
[ "$(printf '%s ' $addrs)" = "0.0.0.0:22 [::]:22 " ] && exit 0
mkdir -p "$out"
{
    echo '[Socket]'
    echo 'ListenStream='
    echo 'BindIPv6Only=ipv6-only'
    for a in $addrs; do echo "ListenStream=$a"; done
} > "$out/addresses.conf"
EOF
hx "$H" systemctl daemon-reload
capture "${remote[@]}" set Port 22 2200
check_rc "set Port 22 2200 with the generator in place" 0
check_has "... the socket listens on both" "written by sshd-socket-generator from sshd_config" "$OUT"
check_has "... systemd says 2200 is a listener" ":2200" "$(listen)"
check_has "... from the generator's drop-in" "ListenStream=0.0.0.0:2200" \
    "$(hx "$H" cat /run/systemd/generator/ssh.socket.d/addresses.conf 2>&1)"
check_eq "... sshdctl wrote no drop-in of its own (and removed its old one)" absent \
    "$(hx "$H" sh -c "test -e $dropin && echo present || echo absent")"
check_eq "a key login on port 2200 works" ecs-user "$(key_login_port 2200)"
capture "${remote[@]}" set Port 22
check_rc "set Port 22 with the generator" 0
check_lacks "... 2200 is no listener any more" ":2200" "$(listen)"
check_eq "... and a key login on 22 works" ecs-user "$(key_login_port 22)"
finish

#!/bin/bash
# Reaching lab hosts with sshdctl --host (libssh, sudo as ecs-user): keys, passwords,
# keyboard-interactive, encrypted keys, a jump host, ssh config aliases; and every way it can
# go wrong is a distinct, clear error: unknown and changed host keys, a wrong key or
# password, DNS failure, refused, timed out, unreachable, sudo wanting a password, no sshd on
# the target. Needs root; fails, never skips, where the lab cannot run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2eacc
# expect DESC RC PATTERN CMD...: CMD exits RC and its output matches PATTERN
expect() {
    local d=$1 want=$2 pattern=$3 out rc
    shift 3
    if out=$("$@" 2>&1); then rc=0; else rc=$?; fi
    if [[ $rc == "$want" ]] && grep -qE -- "$pattern" <<<"$out"; then ok "$d"; else bad "$d" "rc=$rc: $out"; fi
}

lab_up 2
H=${P}1
addr=$(addr_of "$H")
H2=${P}2
addr2=$(addr_of "$H2")
keyed=("$bin" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 3)
remote=("${keyed[@]}" --host "ecs-user@$addr")

line=$(hx "$H" grep -n '^PermitRootLogin' /etc/ssh/sshd_config | cut -d: -f1)  # 33 on Debian 12
expect "show over SSH names the file:line that decides" 0 "PermitRootLogin no +# /etc/ssh/sshd_config:$line\b" \
    "${remote[@]}" show PermitRootLogin
expect "... and agrees with the host's own sshd -T (through sudo -n)" 0 "sshd -T: no" \
    "${remote[@]}" show PermitRootLogin PasswordAuthentication --user root --addr 192.0.2.1 --compare
expect "an ssh config alias works (-F)" 0 "PasswordAuthentication no" \
    "$bin" --host "$H" -F "$LAB_SSH_CONFIG" show PasswordAuthentication

: >"$tmp/empty_known_hosts"
expect "an unknown host key is refused, with its fingerprint" 1 "unknown host key SHA256:" \
    "$bin" --host "ecs-user@$addr" --identity "$LAB_KEY" --known-hosts "$tmp/empty_known_hosts" show UsePAM
expect "--accept-new records an unknown host" 0 "UsePAM yes" \
    "$bin" --host "ecs-user@$addr" --identity "$LAB_KEY" --known-hosts "$tmp/empty_known_hosts" --accept-new show UsePAM
if grep -q "$addr" "$tmp/empty_known_hosts"; then ok "... into the known_hosts file"; else bad "... into the known_hosts file"; fi
ssh-keygen -q -t ed25519 -N '' -f "$tmp/other" </dev/null
: >"$tmp/changed_known_hosts"
for t in ed25519 ecdsa rsa; do  # a wrong key of every type, whichever the server offers
    ssh-keygen -q -t "$t" -N '' -f "$tmp/wrong_$t" </dev/null
    printf '%s %s\n' "$addr" "$(cut -d' ' -f1,2 "$tmp/wrong_$t.pub")" >>"$tmp/changed_known_hosts"
done
expect "a changed host key is a hard stop, showing both fingerprints" 1 "HOST KEY CHANGED: .* records .*SHA256:.*offers SHA256:" \
    "$bin" --host "ecs-user@$addr" --identity "$LAB_KEY" --known-hosts "$tmp/changed_known_hosts" --accept-new show UsePAM
expect "a wrong key fails and lists the methods the server offers" 1 "authentication failed for user ecs-user; the server offers: publickey" \
    "$bin" --host "ecs-user@$addr" --identity "$tmp/other" --known-hosts "$LAB_KNOWN_HOSTS" show UsePAM
expect "an address where no host is: unreachable or timed out" 1 "host unreachable|timed out after 2 s" \
    "$bin" --host "ecs-user@${addr%.*}.250" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 2 show UsePAM
expect "a port where nothing listens: refused" 1 "connection refused: nothing listens on port 2201" \
    "${keyed[@]}" --host "ecs-user@$addr:2201" show UsePAM
expect "a name that does not resolve: DNS" 1 "cannot resolve the host name 'no-such-host.invalid' \(DNS\)" \
    "${keyed[@]}" --host "ecs-user@no-such-host.invalid" show UsePAM
# a listener that never answers: the handshake times out
"$lab" exec "$H" -- sh -c 'nohup python3 -c "import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((\"0.0.0.0\", 2200)); s.listen(8); time.sleep(120)" >/dev/null 2>&1 &'
sleep 0.5
expect "a listener that never answers: timed out" 1 "connection timed out after 2 s" \
    "$bin" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --host "ecs-user@$addr:2200" --connect-timeout 2 show UsePAM

# --- passwords, keyboard-interactive, encrypted keys, a jump host -------------------------
login_pw='ecs-Login-2718'
printf 'ecs-user:%s\n' "$login_pw" | "$lab" exec "$H" -- chpasswd
only_password() {  # a drop-in read before cloud-init's; then sshd reloads
    printf '%s\n' "$@" | hx "$H" sh -c 'cat > /etc/ssh/sshd_config.d/00-e2e.conf'
    reload_in "$H"
    sleep 0.5
}
mkdir -p "$tmp/home"  # no default keys, no agent: only the password can work
nokeys=(env -u SSH_AUTH_SOCK HOME="$tmp/home" "$bin" --host "ecs-user@$addr" --known-hosts "$LAB_KNOWN_HOSTS")
only_password "PasswordAuthentication yes" "KbdInteractiveAuthentication no"
printf '%s\n' "$login_pw" >"$tmp/pw"
chmod 600 "$tmp/pw"
expect "password login (--pass-file)" 0 "logged in as ecs-user with password" \
    "${nokeys[@]}" -v --pass-file "$tmp/pw" show UsePAM
expect "password login (--pass-stdin)" 0 "UsePAM yes" sh -c '"$@" <"$0"' "$tmp/pw" "${nokeys[@]}" --pass-stdin show UsePAM
printf 'not-the-password\n' >"$tmp/wrong_pw"
expect "a wrong password fails and lists the methods the server offers" 1 \
    "authentication failed for user ecs-user; the server offers: publickey, password; tried: .*password" \
    "${nokeys[@]}" --pass-file "$tmp/wrong_pw" show UsePAM
# before 8.7 (bullseye's 8.4) keyboard-interactive reaches PAM only with ChallengeResponseAuthentication
only_password "PasswordAuthentication no" "KbdInteractiveAuthentication yes" "ChallengeResponseAuthentication yes"
export E2E_PW=$login_pw
expect "keyboard-interactive login answered with the password (--pass-env)" 0 \
    "logged in as ecs-user with keyboard-interactive" "${nokeys[@]}" -v --pass-env E2E_PW show UsePAM
expect "no password given: the error says what the server offers" 1 \
    "the server offers: publickey, keyboard-interactive" "${nokeys[@]}" show UsePAM
hx "$H" rm /etc/ssh/sshd_config.d/00-e2e.conf
reload_in "$H"
sleep 0.5

ssh-keygen -q -t ed25519 -N 'pp-Secret-55' -f "$tmp/enc" </dev/null
"$lab" exec "$H" -- sh -c 'cat >> /home/ecs-user/.ssh/authorized_keys' <"$tmp/enc.pub"
# script(1) gives sshdctl a terminal; the passphrase is typed once the prompt is up
out=$( { sleep 2; printf 'pp-Secret-55\n'; } | script -qec "env -u SSH_AUTH_SOCK HOME=$tmp/home $bin --host ecs-user@$addr --identity $tmp/enc --known-hosts $LAB_KNOWN_HOSTS show UsePAM" /dev/null 2>&1 || true)
if [[ $out == *"UsePAM yes"* && $out == *[Pp]"assphrase"* ]]; then ok "an encrypted key: the passphrase is asked on the terminal"
else bad "an encrypted key: the passphrase is asked on the terminal" "$out"; fi
if [[ $out != *"pp-Secret-55"* ]]; then ok "... without echo"; else bad "... without echo" "$out"; fi
expect "an encrypted key with no terminal to ask on: a clear error" 2 "it is encrypted and no passphrase can be asked" \
    setsid env -u SSH_AUTH_SOCK HOME="$tmp/home" "$bin" --host "ecs-user@$addr" --identity "$tmp/enc" --known-hosts "$LAB_KNOWN_HOSTS" show UsePAM

expect "through a jump host (-J)" 0 "UsePAM yes" \
    "${keyed[@]}" --host "ecs-user@$addr2" -J "ecs-user@$addr" show UsePAM
if "$lab" exec "$H2" -- journalctl -u ssh --no-pager | grep -q "Accepted publickey for ecs-user from $addr "; then
    ok "... the target saw the login come from the jump host"
else bad "... the target saw the login come from the jump host"; fi

cat >"$tmp/jump_config" <<EOF
Host bastion
    HostName $addr
    User ecs-user
    IdentityFile $LAB_KEY
Host behind
    HostName $addr2
    User ecs-user
    IdentityFile $LAB_KEY
    ProxyJump bastion
    UserKnownHostsFile $LAB_KNOWN_HOSTS
EOF
sleep 1  # the -J login above is in an earlier second
since=$("$lab" exec "$H2" -- date +%s)
expect "through the ssh config's ProxyJump" 0 "UsePAM yes" "$bin" -F "$tmp/jump_config" --host behind show UsePAM
if "$lab" exec "$H2" -- journalctl -u ssh --since "@$since" --no-pager | grep -q "Accepted publickey for ecs-user from $addr "; then
    ok "... the target saw that login come from the jump host too"
else bad "... the target saw that login come from the jump host too"; fi

# --- no sshd binary on the target ---------------------------------------------------------
# A second sshd from a copy serves the login; the usual binary is hidden.
"$lab" exec "$H2" -- sh -c 'cp /usr/sbin/sshd /usr/local/sbin/sshd-alt && /usr/local/sbin/sshd-alt -p 2022 -o PidFile=/run/sshd-alt.pid && mv /usr/sbin/sshd /usr/sbin/sshd.hidden'
before=$("$lab" exec "$H2" -- sha256sum /etc/ssh/sshd_config)
expect "no sshd on the target: a change is refused, clearly" 2 "no /usr/sbin/sshd here" \
    "${keyed[@]}" --host "ecs-user@$addr2:2022" --accept-new set X11Forwarding no
if [[ $("$lab" exec "$H2" -- sha256sum /etc/ssh/sshd_config) == "$before" ]]; then ok "... nothing was written"
else bad "... nothing was written"; fi
"$lab" exec "$H2" -- sh -c 'mv /usr/sbin/sshd.hidden /usr/sbin/sshd; kill $(cat /run/sshd-alt.pid)'
"$lab" exec "$H" -- sh -c 'echo "ecs-user ALL=(ALL) ALL" > /etc/sudoers.d/90-cloud-init-users'
expect "sudo that needs a password is a clear error" 1 "sudo -n refused" "${remote[@]}" show UsePAM

finish

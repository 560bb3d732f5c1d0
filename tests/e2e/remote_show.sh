#!/bin/bash
# Remote hosts, first part: sshdctl --host reads a lab host's configuration over SSH (libssh,
# sudo -n as ecs-user), and every connection problem is a clear error: unknown and changed
# host keys, a wrong key, sudo that wants a password, an address where nothing listens.
# Changing a remote host is refused until the lock-out probe exists. Needs root; fails,
# never skips, where the lab cannot run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2erem
# expect DESC RC PATTERN CMD...: CMD exits RC and its output matches PATTERN
expect() {
    local d=$1 want=$2 pattern=$3 out rc
    shift 3
    if out=$("$@" 2>&1); then rc=0; else rc=$?; fi
    if [[ $rc == "$want" ]] && grep -qE -- "$pattern" <<<"$out"; then ok "$d"; else bad "$d" "rc=$rc: $out"; fi
}

lab_up 1
H=${P}1
addr=$(addr_of "$H")
remote=("$bin" --host "ecs-user@$addr" -i "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 3)

expect "show over SSH names the file:line that decides" 0 "PermitRootLogin no +# /etc/ssh/sshd_config:33" \
    "${remote[@]}" show PermitRootLogin
expect "... and agrees with the host's own sshd -T (through sudo -n)" 0 "sshd -T: no" \
    "${remote[@]}" show PermitRootLogin PasswordAuthentication --user root --addr 192.0.2.1 --compare
expect "an ssh config alias works (-F)" 0 "PasswordAuthentication no" \
    "$bin" --host "$H" -F "$LAB_SSH_CONFIG" show PasswordAuthentication

: >"$tmp/empty_known_hosts"
expect "an unknown host key is refused, with its fingerprint" 1 "unknown host key SHA256:" \
    "$bin" --host "ecs-user@$addr" -i "$LAB_KEY" --known-hosts "$tmp/empty_known_hosts" show UsePAM
expect "--accept-new records an unknown host" 0 "UsePAM yes" \
    "$bin" --host "ecs-user@$addr" -i "$LAB_KEY" --known-hosts "$tmp/empty_known_hosts" --accept-new show UsePAM
if grep -q "$addr" "$tmp/empty_known_hosts"; then ok "... into the known_hosts file"; else bad "... into the known_hosts file"; fi
ssh-keygen -q -t ed25519 -N '' -f "$tmp/other" </dev/null
: >"$tmp/changed_known_hosts"
for t in ed25519 ecdsa rsa; do  # a wrong key of every type, whichever the server offers
    ssh-keygen -q -t "$t" -N '' -f "$tmp/wrong_$t" </dev/null
    printf '%s %s\n' "$addr" "$(cut -d' ' -f1,2 "$tmp/wrong_$t.pub")" >>"$tmp/changed_known_hosts"
done
expect "a changed host key is a hard stop, showing both fingerprints" 1 "HOST KEY CHANGED: .* records .*SHA256:.*offers SHA256:" \
    "$bin" --host "ecs-user@$addr" -i "$LAB_KEY" --known-hosts "$tmp/changed_known_hosts" --accept-new show UsePAM
expect "a wrong key fails and lists the methods the server offers" 1 "authentication failed for user ecs-user; the server offers: publickey" \
    "$bin" --host "ecs-user@$addr" -i "$tmp/other" --known-hosts "$LAB_KNOWN_HOSTS" show UsePAM
expect "an address where nothing listens is a clear error" 1 "cannot connect|refused|timed out" \
    "$bin" --host "ecs-user@${addr%.*}.250" -i "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 2 show UsePAM
"$lab" exec "$H" -- sh -c 'echo "ecs-user ALL=(ALL) ALL" > /etc/sudoers.d/90-cloud-init-users'
expect "sudo that needs a password is a clear error" 1 "sudo -n refused" "${remote[@]}" show UsePAM

finish

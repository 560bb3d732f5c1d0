#!/bin/bash
# Accounts on a lab host, over SSH as ecs-user (key, sudo): a key bound with `key add` logs in
# and `key remove` takes it away; `passwd` sets a password that logs in, and unlocks a locked
# account; a `tempkey` works within its TTL and is refused by sshd after it, then `key prune`
# removes it; a stored credential logs in, and a wrong store passphrase changes nothing.
# Every login is made with the system ssh, independent of sshdctl. Needs root; fails, never
# skips, where the lab cannot run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2eacct

lab_up 1
H=${P}1
addr=$(addr_of "$H")
sudo_args "$(flavor_of "$H")"
remote=("$bin" --host "ecs-user@$addr" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 5
    "${SUDO_ARGS[@]}")
hx "$H" useradd -m -s /bin/bash alice
# key_login KEY: alice logs in with KEY only (system ssh); prints the user name
key_login() {
    ssh -F /dev/null -o UserKnownHostsFile="$LAB_KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
        -o ConnectTimeout=5 -i "$1" "alice@$addr" id -un 2>&1
}
# pw_login PW: alice logs in with a password only (system ssh)
pw_login() {
    SSHPASS=$1 sshpass -e ssh -F /dev/null -o UserKnownHostsFile="$LAB_KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
        -o StrictHostKeyChecking=yes -o PubkeyAuthentication=no -o PreferredAuthentications=password \
        -o NumberOfPasswordPrompts=1 -o ConnectTimeout=5 "alice@$addr" id -un 2>&1
}

# --- keys ---------------------------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -C 'alice@laptop' -f "$tmp/alice" </dev/null
capture "${remote[@]}" key add alice --pubkey "$tmp/alice.pub" --options 'no-port-forwarding'
check_rc "key add alice over SSH" 0
check_has "... ~/.ssh was created for alice" "created /home/alice/.ssh (0700, owned by alice)" "$OUT"
check_eq "... file and directory: owner and modes sshd accepts" "700 alice 600 alice" \
    "$(hx "$H" stat -c '%a %U' /home/alice/.ssh /home/alice/.ssh/authorized_keys | tr '\n' ' ' | sed 's/ $//')"
check_eq "alice logs in with that key (system ssh)" alice "$(key_login "$tmp/alice")"
capture "${remote[@]}" key add alice --pubkey "$tmp/alice.pub" --options 'no-port-forwarding'
check_rc "the same key again: unchanged" 3
capture "${remote[@]}" key list alice
check_has "key list shows options, type and fingerprint" \
    "/home/alice/.ssh/authorized_keys:1: no-port-forwarding ssh-ed25519 $(ssh-keygen -lf "$tmp/alice.pub" | cut -d' ' -f2)" "$OUT"
hx "$H" chmod 0666 /home/alice/.ssh/authorized_keys
ssh-keygen -q -t ecdsa -N '' -f "$tmp/second" </dev/null
capture "${remote[@]}" key add alice --pubkey "$tmp/second.pub"
check_rc "a key file others may write: refused (sshd would ignore it)" 1
check_has "... saying why" "StrictModes" "$ERR"
capture "${remote[@]}" key add alice --pubkey "$tmp/second.pub" --fix-perms
check_rc "--fix-perms repairs it and adds the key" 0
check_eq "... the file is 0600 again" 600 "$(hx "$H" stat -c '%a' /home/alice/.ssh/authorized_keys)"
check_eq "... and the second key logs in" alice "$(key_login "$tmp/second")"
before=$(hx "$H" sha256sum /home/alice/.ssh/authorized_keys)
capture "${remote[@]}" key add nobody-here --pubkey "$tmp/alice.pub"
check_rc "an unknown user: bad input" 2
printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIbroken x\n' >"$tmp/bad.pub"
capture "${remote[@]}" key add alice --pubkey "$tmp/bad.pub"
check_rc "a malformed key: bad input" 2
check_eq "... nothing was written" "$before" "$(hx "$H" sha256sum /home/alice/.ssh/authorized_keys)"
capture "${remote[@]}" key remove alice --comment alice@laptop
check_rc "key remove alice --comment" 0
if [[ $(key_login "$tmp/alice") == alice ]]; then bad "... and that key no longer logs in"; else ok "... and that key no longer logs in"; fi
check_eq "... the other key still does" alice "$(key_login "$tmp/second")"

before=$(hx "$H" sha256sum /home/ecs-user/.ssh/authorized_keys)
capture "${remote[@]}" key remove ecs-user --pubkey "$LAB_KEY.pub"
check_rc "removing the key this very login uses: rolled back (exit 6)" 6
check_has "... because the fresh login failed" "rolled back: a fresh login as ecs-user with publickey fails" "$ERR"
check_eq "... ecs-user's authorized_keys is as before" "$before" "$(hx "$H" sha256sum /home/ecs-user/.ssh/authorized_keys)"

# --- passwords ----------------------------------------------------------------------------
capture "${remote[@]}" set PasswordAuthentication yes --match "User alice"
check_rc "password logons allowed for alice only (Match block)" 0
alice_pw=$(new_password)
capture "${remote[@]}" -v passwd alice --stdin <<<"$alice_pw"
check_rc "passwd alice --stdin over SSH" 0
check_has "... reported without the hash" "alice's password hash changed" "$OUT"
hash=$(hx "$H" getent shadow alice | cut -d: -f2)
check_lacks "... no hash in the output or the -v log" "$hash" "$OUT$ERR"
check_lacks "... no password either" "$alice_pw" "$OUT$ERR"
check_eq "alice logs in with the new password (system ssh)" alice "$(pw_login "$alice_pw")"
hx "$H" usermod -L alice
if [[ $(pw_login "$alice_pw") == alice ]]; then bad "a locked account is refused"; else ok "a locked account is refused"; fi
capture "${remote[@]}" passwd alice --unlock
check_rc "passwd alice --unlock" 0
check_has "... says what it did" "alice's account was unlocked" "$OUT"
check_has "... with a masked diff of the shadow file" "+alice:<hash changed>:" "$OUT"
check_eq "... and alice logs in again with the same password" alice "$(pw_login "$alice_pw")"

# --- a temporary key ----------------------------------------------------------------------
capture "${remote[@]}" tempkey alice --ttl 15s --out "$tmp/temp"
check_rc "tempkey alice --ttl 15s" 0
check_eq "... the private key file is 0600" 600 "$(stat -c '%a' "$tmp/temp")"
# OpenSSH 8.4 (bullseye) knows no Z suffix: the host's local time is written there
if [[ ${LAB_FLAVOR:-bookworm} == bullseye* ]]; then form='[0-9]{14}"'; else form='[0-9]{14}Z"'; fi
expires=$(hx "$H" grep -oE "expiry-time=\"$form" /home/alice/.ssh/authorized_keys | head -n 1)
check_has "... installed with expiry-time in the form its OpenSSH reads" 'expiry-time="' "$expires"
check_eq "within the TTL the temporary key logs in" alice "$(key_login "$tmp/temp")"
sleep 17
if [[ $(key_login "$tmp/temp") == alice ]]; then bad "after the TTL sshd refuses it"; else ok "after the TTL sshd refuses it"; fi
capture "${remote[@]}" key prune alice
check_rc "key prune removes the expired key" 0
check_has "... naming it" "removed expired ssh-ed25519" "$OUT"
check_eq "... and the file no longer has it" 0 "$(hx "$H" grep -c expiry-time /home/alice/.ssh/authorized_keys || true)"

"${remote[@]}" tempkey alice --ttl 30s >"$tmp/piped" 2>"$tmp/piped.err" || true
check_eq "tempkey without --out writes the private key to a pipe" "OPENSSH PRIVATE KEY-----" "$(head -n 1 "$tmp/piped" | cut -d" " -f2-)"
check_has "... and its report to stderr" "tempkey: SHA256:" "$(cat "$tmp/piped.err")"
chmod 600 "$tmp/piped"
check_eq "... and that key logs in" alice "$(key_login "$tmp/piped")"

# --- stored credentials -------------------------------------------------------------------
export E2E_STORE_PASS='store-Pass-99'
store=(--store "$tmp/creds" --store-pass-env E2E_STORE_PASS)
capture "$bin" "${store[@]}" credential add lab-ecs --user ecs-user --key "$LAB_KEY"
check_rc "credential add (a key)" 0
capture "$bin" "${store[@]}" credential add lab-alice --user alice --password-stdin <<<"$alice_pw"
check_rc "credential add (a password)" 0
check_eq "the store is 0600" 600 "$(stat -c '%a' "$tmp/creds")"
if grep -q -a -e "$alice_pw" -e "OPENSSH PRIVATE" -e ecs-user "$tmp/creds"; then bad "the store holds no secret or user in clear"
else ok "the store holds no secret or user in clear"; fi
capture "$bin" "${store[@]}" credential list
check_has "credential list names users and kinds, not secrets" "lab-alice  alice  password" "$OUT"
check_lacks "... no password in the list" "$alice_pw" "$OUT"
capture env -u SSH_AUTH_SOCK HOME="$tmp" "$bin" "${store[@]}" --credential lab-ecs --known-hosts "$LAB_KNOWN_HOSTS" \
    "${SUDO_ARGS[@]}" --host "$addr" show UsePAM
check_rc "--credential logs in with the stored key" 0
check_has "... and reads the configuration" "UsePAM yes" "$OUT"
store_sum=$(sha256sum "$tmp/creds")
export E2E_WRONG_PASS=nope
capture "$bin" --store "$tmp/creds" --store-pass-env E2E_WRONG_PASS credential add x --user y --password-env E2E_WRONG_PASS
check_rc "a wrong store passphrase: refused" 1
check_has "... clearly" "wrong passphrase" "$ERR"
check_eq "... the store is untouched" "$store_sum" "$(sha256sum "$tmp/creds")"

finish

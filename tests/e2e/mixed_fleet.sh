#!/bin/bash
# One policy across every flavor of the lab: one inventory with a host of each (Debian 11
# with OpenSSH 8.4, Debian 12 with 9.2, Debian 13 with 10.0, ssh.socket, no systemd, sudo
# asking for a password). Each host's own `sshd -T` is the judge:
#   - plan of examples/policies/baseline.yml changes nothing; apply makes every host's sshd
#     use the baseline, with the key exchange list of its release; audit then finds no drift;
#     revert --rollout brings every file back byte for byte;
#   - a keyword spelt otherwise on an older release is written that release's way, and the
#     plan says so; a keyword a release lacks fails that host alone, before anything is
#     written there, naming the release, while the others change.
# Needs root; fails, never skips, where the lab cannot run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2emixed
examples=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples" && pwd)

flavors=(bullseye bookworm trixie socket sysv sudopw)
lab_up ${#flavors[@]} --flavor "$(IFS=,; printf '%s' "${flavors[*]}")"
declare -A host_of=()
for ((i = 1; i <= ${#flavors[@]}; i++)); do
    h=${P}$i
    f=$("$lab" flavor "$h")
    check_eq "$h is a $f host" "${flavors[i - 1]}" "$f"
    host_of[$f]=$h
done
hosts=()
for f in "${flavors[@]}"; do hosts+=("${host_of[$f]}"); done
files=(/etc/ssh/sshd_config /etc/ssh/sshd_config.d/50-cloud-init.conf)
all_sums() { local h; for h in "${hosts[@]}"; do sums "$h" "${files[@]}" | sed "s|^|$h |"; done; }
# as_before WHAT: every host's files are as they were at the start; else the lines that differ
as_before() {
    local now
    now=$(all_sums)
    if [[ $now == "$pristine" ]]; then ok "$1"
    else bad "$1" "$(diff <(printf '%s\n' "$pristine") <(printf '%s\n' "$now"))"; fi
}

{
    printf '[lab]\n'
    for h in "${hosts[@]}"; do printf '%s ansible_host=%s\n' "$h" "$(addr_of "$h")"; done
    printf '\n[lab:vars]\nansible_user=ecs-user\nansible_ssh_private_key_file=%s\nansible_become=true\n' "$LAB_KEY"
} >"$tmp/hosts.ini"
# the sudopw host's sudo wants ecs-user's password: given to every host's sudo that asks
export MIXED_SUDO_PW=${LAB_SUDO_PASSWORD:?the lab exported no LAB_SUDO_PASSWORD for the sudopw host}
fleet=("$bin" -i "$tmp/hosts.ini" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 5 --pass-env MIXED_SUDO_PW)
rollout_of() { grep -oE 'rollout [0-9]{8}T[0-9]{12}Z-[0-9a-f]{6}' <<<"$1" | head -n 1 | cut -d' ' -f2; }
sshd_T() { hx "$1" sshd -T -C user=ecs-user,host=h,addr=192.0.2.1; }
key_login() { ssh -F "$LAB_SSH_CONFIG" "$1" id -un 2>&1; }

# every global value of the baseline, and the key exchange list of the host's release
kex_of() {
    case $1 in
        bullseye) echo "curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256" ;;
        trixie) echo "mlkem768x25519-sha256,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256" ;;
        *) echo "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256" ;;
    esac
}
baseline_holds() {
    local f=$1 h=${host_of[$1]} t want
    t=$(sshd_T "$h")
    for want in "permitrootlogin no" "passwordauthentication no" "kbdinteractiveauthentication no" \
        "permitemptypasswords no" "pubkeyauthentication yes" "x11forwarding no" "allowagentforwarding no" \
        "maxauthtries 3" "logingracetime 30" "clientaliveinterval 300" "clientalivecountmax 3" "loglevel VERBOSE" \
        "ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr" \
        "macs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com" \
        "kexalgorithms $(kex_of "$f")"; do
        grep -qixF "$want" <<<"$t" || { echo "$h ($f): sshd -T has no '$want'"; return 1; }
    done
}

# --- plan, apply, audit, revert of the baseline --------------------------------------------
pristine=$(all_sums)
capture "${fleet[@]}" plan "$examples/policies/baseline.yml"
check_rc "plan of the baseline on a host of each flavor" 0
check_has "... every host would change" "${#hosts[@]} hosts: ${#hosts[@]} would change, 0 unchanged, 0 failed" "$OUT"
as_before "... and nothing changed"

capture "${fleet[@]}" --report "$tmp/apply.jsonl" apply "$examples/policies/baseline.yml"
check_rc "apply of the baseline on every flavor" 0
rollout=$(rollout_of "$OUT$ERR")
[[ -n $rollout ]] || bad "... names its rollout" "$OUT"
for f in "${flavors[@]}"; do
    check "$f (${host_of[$f]}): its own sshd -T says what the baseline says, with its release's key exchange list" \
        baseline_holds "$f"
    check_eq "$f: ecs-user's key login still works" ecs-user "$(key_login "${host_of[$f]}")"
done

capture "${fleet[@]}" audit --policy "$examples/policies/baseline.yml"
check_rc "audit after the apply: no drift on any flavor" 0
check_lacks "... no host drifts" "drift" "$(grep -iv '0 drift\|no drift' <<<"$OUT" || true)"

capture "${fleet[@]}" revert --rollout "$rollout"
check_rc "revert --rollout $rollout" 0
as_before "... every host's files are byte for byte as before"

# --- one keyword, two spellings: 8.4 gets its own --------------------------------------------
capture "${fleet[@]}" set PubkeyAcceptedAlgorithms ssh-ed25519,rsa-sha2-512
check_rc "set PubkeyAcceptedAlgorithms on every flavor" 0
check_has "... the Debian 11 host is told the old spelling is written" \
    "$(addr_of "${host_of[bullseye]}"): OpenSSH 8.4: PubkeyAcceptedAlgorithms is written as PubkeyAcceptedKeyTypes (its name before 8.5)" "$OUT$ERR"
spelling_rollout=$(rollout_of "$OUT$ERR")
check_has "... its file says PubkeyAcceptedKeyTypes" "PubkeyAcceptedKeyTypes ssh-ed25519,rsa-sha2-512" \
    "$(hx "${host_of[bullseye]}" cat /etc/ssh/sshd_config)"
check_has "... and its sshd uses it" "pubkeyacceptedkeytypes ssh-ed25519,rsa-sha2-512" "$(sshd_T "${host_of[bullseye]}")"
for f in bookworm trixie sysv; do
    check_has "$f: sshd uses PubkeyAcceptedAlgorithms" "pubkeyacceptedalgorithms ssh-ed25519,rsa-sha2-512" \
        "$(sshd_T "${host_of[$f]}")"
done
check_eq "... and the key login works on the Debian 11 host" ecs-user "$(key_login "${host_of[bullseye]}")"
capture "${fleet[@]}" revert --rollout "$spelling_rollout"
check_rc "... reverted" 0
as_before "... byte for byte"

# --- a keyword 8.4 lacks: that host alone fails, untouched -----------------------------------
old_sums=$(sums "${host_of[bullseye]}" "${files[@]}")
capture "${fleet[@]}" --report "$tmp/ct.jsonl" set ChannelTimeout session=30m
check_rc "set ChannelTimeout: one host failed, the others changed (fleet exit 7)" 7
line=$(grep "\"host\":\"${host_of[bullseye]}\"" "$tmp/ct.jsonl" || true)
check_has "... the Debian 11 host failed with exit 2" '"exit_code":2' "$line"
check_has "... naming its release and when the keyword came" "OpenSSH 8.4 does not know ChannelTimeout (added in OpenSSH 9.2)" "$line"
check_eq "... and its files are untouched" "$old_sums" "$(sums "${host_of[bullseye]}" "${files[@]}")"
for f in bookworm trixie socket sysv sudopw; do
    check_has "$f: sshd uses ChannelTimeout" "channeltimeout session=30m" "$(sshd_T "${host_of[$f]}")"
done
finish

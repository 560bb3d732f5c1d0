#!/bin/bash
# Fleet rollouts on 10 lab hosts from an Ansible inventory: plan changes nothing; apply of the
# hardening baseline makes every host's own `sshd -T` say what the policy says; a second apply
# changes and reloads nothing; revert --rollout restores every host's files byte for byte; a
# failed canary stops the rollout; the failure budget stops new hosts (3 bad hosts of 10); an
# unreachable host and a changed host key fail alone; --report writes a JSON line per host.
# Needs root; fails, never skips, where the lab cannot run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2efleet
examples=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../examples" && pwd)

N=10
lab_up $N
hosts=()
for ((i = 1; i <= N; i++)); do hosts+=("${P}$i"); done
files=(/etc/ssh/sshd_config /etc/ssh/sshd_config.d/50-cloud-init.conf)

# An Ansible INI inventory: two groups, host vars as Ansible names them.
{
    printf '[web]\n'
    for ((i = 1; i <= 5; i++)); do printf '%s ansible_host=%s\n' "${P}$i" "$(addr_of "${P}$i")"; done
    printf '\n[db]\n'
    for ((i = 6; i <= N; i++)); do printf '%s ansible_host=%s\n' "${P}$i" "$(addr_of "${P}$i")"; done
    printf '\n[all:vars]\nansible_user=ecs-user\nansible_ssh_private_key_file=%s\nansible_become=true\n' "$LAB_KEY"
} >"$tmp/hosts.ini"
fleet=("$bin" -i "$tmp/hosts.ini" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 5)
rollout_of() { grep -oE 'rollout [0-9]{8}T[0-9]{12}Z-[0-9a-f]{6}' <<<"$1" | head -n 1 | cut -d' ' -f2; }
all_sums() { local h; for h in "${hosts[@]}"; do sums "$h" "${files[@]}"; done; }
reload_marker() { hx "$1" systemctl show ssh -p ExecReload | grep -o 'pid=[0-9]*' | tail -n 1; }
all_markers() { local h; for h in "${hosts[@]}"; do reload_marker "$h"; done; }
# policy_matches HOST: the host's own sshd -T has every global value of the baseline
policy_matches() {
    local t
    t=$(hx "$1" sshd -T -C user=ecs-user,host=h,addr=192.0.2.1)
    for want in "permitrootlogin no" "passwordauthentication no" "kbdinteractiveauthentication no" \
        "permitemptypasswords no" "x11forwarding no" "allowagentforwarding no" "maxauthtries 3" \
        "logingracetime 30" "clientaliveinterval 300" "loglevel VERBOSE" \
        "ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr" \
        "macs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com"; do
        grep -qxF "$want" <<<"$t" || { echo "$1: no '$want'"; return 1; }
    done
}

# --- plan: per-host diffs, nothing changed -----------------------------------------------
before=$(all_sums)
capture "${fleet[@]}" plan "$examples/policies/baseline.yml"
check_rc "plan of the baseline on 10 hosts" 0
check_has "... every host would change" "10 hosts: 10 would change, 0 unchanged, 0 failed" "$OUT"
check_eq "... and nothing changed" "$before" "$(all_sums)"
capture "${fleet[@]}" --limit 'db:!*10' plan "$examples/policies/baseline.yml"
check_has "--limit 'db:!*10' plans 4 hosts" "4 hosts: 4 would change" "$OUT"

# --- audit of stock hosts: the expected drift, with the lines that decide it ----------------
capture "${fleet[@]}" --report "$tmp/audit.jsonl" audit --policy "$examples/policies/baseline.yml"
check_rc "audit of stock hosts: drift (exit 7)" 7
check_has "... X11Forwarding from Debian's sshd_config" "X11Forwarding: want no, have yes (/etc/ssh/sshd_config:" "$OUT"
check_has "... MaxAuthTries from sshd's default" "MaxAuthTries: want 3, have 6 (sshd's default;" "$OUT"
check_has "... the policy's line named" "policy $examples/policies/baseline.yml:21)" "$OUT"
check_lacks "... PermitRootLogin already complies" "PermitRootLogin: want" "$OUT"
check_lacks "... PasswordAuthentication too (cloud-init's drop-in)" "PasswordAuthentication: want" "$OUT"
check_eq "... a JSON line per host, none compliant" "$N" "$(grep -c '"compliant":false' "$tmp/audit.jsonl")"
capture "$bin" --host "ecs-user@$(addr_of "${P}1")" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" \
    audit --policy "$examples/policies/baseline.yml"
check_rc "audit of one host: exit 9 (drift)" 9
check_eq "... audit changed nothing" "$before" "$(all_sums)"

# --- apply: every host as the policy says -------------------------------------------------
markers=$(all_markers)
capture "${fleet[@]}" --report "$tmp/report.jsonl" apply "$examples/policies/baseline.yml"
check_rc "apply of the baseline on 10 hosts" 0
check_has "... 10 changed" "10 hosts: 10 changed, 0 unchanged, 0 failed, 0 not started" "$OUT"
rollout=$(rollout_of "$ERR")
[[ -n $rollout ]] && ok "... the rollout has an ID ($rollout)" || bad "... the rollout has an ID" "$ERR"
check_has "... a line per host without a terminal" "${P}3: changed (" "$ERR"
for h in "${hosts[@]}"; do
    if m=$(policy_matches "$h"); then ok "$h: its own sshd -T matches the policy"; else bad "$h: sshd -T" "$m"; fi
done
check_eq "... every host's journal has its change set of the rollout" "$N" \
    "$(for h in "${hosts[@]}"; do hx "$h" sh -c "grep -l '^rollout $rollout\$' /var/lib/sshdctl/changes/*/manifest"; done | wc -l)"
check_eq "... --report has a JSON line per host" "$N" "$(grep -c '"status":"changed"' "$tmp/report.jsonl")"
check_has "... with the keys it changed" '"MaxAuthTries","LoginGraceTime"' "$(head -n 1 "$tmp/report.jsonl")"
after=$(all_sums)
markers_after=$(all_markers)
[[ $markers != "$markers_after" ]] && ok "... sshd was reloaded" || bad "... sshd was reloaded" "$markers_after"
check "... and ecs-user's key login still works" ssh -F "$LAB_SSH_CONFIG" "${P}7" true
capture "${fleet[@]}" audit --policy "$examples/policies/baseline.yml"
check_rc "after apply, audit passes on every host (exit 0)" 0
check_has "... 10 ok" "10 hosts: 0 changed, 0 unchanged, 10 ok, 0 failed" "$OUT"

# --- idempotent: nothing written, nothing reloaded ---------------------------------------
capture "${fleet[@]}" apply "$examples/policies/baseline.yml"
check_rc "a second apply: all unchanged (exit 3)" 3
check_has "... reported" "10 hosts: 0 changed, 10 unchanged" "$OUT"
check_eq "... no file written" "$after" "$(all_sums)"
check_eq "... no sshd reloaded" "$markers_after" "$(all_markers)"

# --- revert the rollout: every host's files byte for byte ---------------------------------
capture "${fleet[@]}" revert --rollout "$rollout"
check_rc "revert --rollout $rollout" 0
check_has "... on every host" "10 hosts: 10 changed" "$OUT"
check_eq "... every host's files are as before the rollout" "$before" "$(all_sums)"
check_eq "... and sshd uses them" "permitrootlogin no passwordauthentication no" "$(eff "${P}4" ecs-user 192.0.2.1)"

# --- a canary that fails stops the rollout -------------------------------------------------
break_host() { hx "$1" sh -c 'printf "Ciphers no-such-cipher\n" > /etc/ssh/sshd_config.d/10-broken.conf'; }
mend_host() { hx "$1" rm -f /etc/ssh/sshd_config.d/10-broken.conf; }
break_host "${P}1"
before=$(all_sums)
capture "${fleet[@]}" --canary 1 set PermitRootLogin prohibit-password
check_rc "a failed canary aborts (exit 8)" 8
check_has "... the canary failed validation" "${P}1" "$OUT"
check_has "... sshd -t's refusal is shown" "exit 4" "$OUT"
check_has "... no other host was started" "a canary failed: no other host was started" "$OUT"
check_has "... 9 not started" "0 changed, 0 unchanged, 1 failed, 9 not started" "$OUT"
check_eq "... nothing changed anywhere" "$before" "$(all_sums)"
mend_host "${P}1"

# --- failure budget: 3 bad hosts of 10 -----------------------------------------------------
for h in "${P}2" "${P}3" "${P}4"; do break_host "$h"; done
capture "${fleet[@]}" --batch 2 --max-failures 2 set PermitRootLogin prohibit-password
check_rc "3 bad hosts, --max-failures 2, --batch 2: aborted (exit 8)" 8
check_has "... after the second batch" "1 changed, 0 unchanged, 3 failed, 6 not started" "$OUT"
check_has "... says why" "the failure budget (--max-failures 2) was exceeded" "$OUT"
check_eq "... hosts after it untouched" "permitrootlogin no passwordauthentication no" "$(eff "${P}8" ecs-user 192.0.2.1)"
capture "${fleet[@]}" --max-failures 3 set PermitRootLogin prohibit-password
check_rc "--max-failures 3: every host tried, some failed (exit 7)" 7
check_has "... the 7 others changed or were already so" "6 changed, 1 unchanged, 3 failed, 0 not started" "$OUT"
check_eq "... a good host has the value" "permitrootlogin without-password passwordauthentication no" \
    "$(eff "${P}9" ecs-user 192.0.2.1)"
for h in "${P}2" "${P}3" "${P}4"; do mend_host "$h"; done

# --- an unreachable host and a changed host key fail alone ---------------------------------
cp "$tmp/hosts.ini" "$tmp/more.ini"
sed -i "s/^\[db\]$/[db]\ngone ansible_host=${LAB_SUBNET%.*}.250/" "$tmp/more.ini"
grep -vF "$(addr_of "${P}5") " "$LAB_KNOWN_HOSTS" >"$tmp/known_hosts"
for t in ed25519 ecdsa rsa; do  # a wrong key of every type, whichever the server offers
    ssh-keygen -q -t "$t" -N '' -f "$tmp/wrong_$t" </dev/null
    printf '%s %s\n' "$(addr_of "${P}5")" "$(cut -d' ' -f1,2 "$tmp/wrong_$t.pub")" >>"$tmp/known_hosts"
done
capture "$bin" -i "$tmp/more.ini" --known-hosts "$tmp/known_hosts" --connect-timeout 3 --report "$tmp/r2.jsonl" \
    set PermitRootLogin no
check_rc "an unreachable host and a changed host key: the others go on (exit 7)" 7
check_has "... 11 hosts, 2 failed" "11 hosts: 6 changed, 3 unchanged, 2 failed, 0 not started" "$OUT"
check_has "... the changed key is named" "$(addr_of "${P}5")" "$(grep '"host":"'"${P}5"'"' "$tmp/r2.jsonl")"
check_has "... as a changed host key" "HOST KEY CHANGED" "$(grep '"host":"'"${P}5"'"' "$tmp/r2.jsonl")"
check_has "... the unreachable host is reported" '"status":"failed"' "$(grep '"host":"gone"' "$tmp/r2.jsonl")"
check_eq "... ${P}5 was not touched" "permitrootlogin without-password passwordauthentication no" \
    "$(eff "${P}5" ecs-user 192.0.2.1)"

# --- bad input: a clear error, nothing started --------------------------------------------
printf 'sshd:\n  PermitRootLogin: no\n  Ciphers: [aes128-ctr]\n  PermitRootLogn: no\n' >"$tmp/bad.yml"
capture "${fleet[@]}" apply "$tmp/bad.yml"
check_rc "a policy with a typo: bad input (exit 2)" 2
check_has "... names the line" "bad.yml:4: unknown sshd keyword 'PermitRootLogn' (did you mean PermitRootLogin?)" "$ERR"
capture "${fleet[@]}" --limit nosuch set PermitRootLogin no
check_rc "--limit naming nothing: bad input" 2
check_has "... lists the groups" "groups:" "$ERR"

finish

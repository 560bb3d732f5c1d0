#!/bin/bash
# shellcheck source-path=SCRIPTDIR
# End to end, the Ansible collection sshdctl.core with real Ansible against a real Debian 12
# lab host (ecs-user, key, become through sudo): check mode changes nothing and shows the
# diff; a change, a fresh connection (meta: reset_connection) and sshdctl.core.confirm keep
# it (sshd -T judges, the journal says done); the same run again is unchanged; bad input
# fails with sshdctl's words and changes nothing; a change that locks Ansible out cannot be
# confirmed and the host reverts it by itself; state=absent; the key, policy and root_login modules.
#
# Needs root and SSHDCTL_BUILD_DIR (the binary the modules run on the host); fails, never skips.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2eans
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
command -v ansible-playbook >/dev/null || fatal "ansible-playbook not found (apt-get install ansible-core)"

lab_up 1
h=${P}1
a=$(addr_of "$h")
export ANSIBLE_COLLECTIONS_PATH=$repo/ansible/collections ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_NOCOLOR=1
export ANSIBLE_SSH_ARGS="-F $LAB_SSH_CONFIG -o UserKnownHostsFile=$LAB_KNOWN_HOSTS -o ControlMaster=auto -o ControlPersist=60s"
export ANSIBLE_TIMEOUT=10 ANSIBLE_PIPELINING=True ANSIBLE_LOCALHOST_WARNING=False ANSIBLE_PYTHON_INTERPRETER=auto_silent
inv=$tmp/inventory
# sudopw: sudo asks ecs-user's password, which Ansible's become gets from the inventory
become=""
[[ $(flavor_of "$h") == *sudopw ]] && become=" ansible_become_password=$LAB_SUDO_PASSWORD"
printf '[lab]\n%s ansible_host=%s ansible_user=ecs-user ansible_ssh_private_key_file=%s ansible_python_interpreter=/usr/bin/python3%s\n' \
    "$h" "$a" "$LAB_KEY" "$become" >"$inv"
res=$tmp/result.json
play() { capture ansible-playbook -i "$inv" -e "sshdctl=$bin result_file=$res" "$@"; }
tsv() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
sshd_T() { hx "$h" sshd -T | awk -v k="$1" '$1 == k { print $2 }'; }
conf=/etc/ssh/sshd_config
orig=$(sums "$h" "$conf")

# ------------------------------------------------------------------ check mode --
play "$repo/tests/e2e/ansible/change.yml" -e mode=check -e '{"settings": {"MaxAuthTries": 4, "X11Forwarding": false}}' --diff
check_rc "check mode (--check --diff) runs" 0
check_eq "... reports changed" "True" "$(tsv "$res" 'd["changed"]')"
check_has "... with sshdctl's diff as Ansible's diff" "+MaxAuthTries 4" "$OUT"
check_eq "... and writes nothing" "$orig" "$(sums "$h" "$conf")"
check_eq "... no change set was made" "0" "$(hx "$h" sh -c 'ls /var/lib/sshdctl/changes 2>/dev/null | grep -vc open' || true)"

# --------------------------------------------------------- change and confirm --
play "$repo/tests/e2e/ansible/change.yml" -e mode=apply -e '{"settings": {"MaxAuthTries": 4, "X11Forwarding": false}}'
check_rc "the change, a fresh connection, the confirmation: the play succeeds" 0
id=$(tsv "$res" 'd["id"]')
check_has "... the module returns the change set ID" "Z-" "$id"
check_eq "... confirmed over the fresh connection" "True" "$(tsv "$res.confirm" 'd["changed"]')"
check_eq "sshd -T says maxauthtries 4" 4 "$(sshd_T maxauthtries)"
check_eq "... and x11forwarding no (a boolean became no)" no "$(sshd_T x11forwarding)"
hist=$(hx "$h" "$bin" history)
check_has "the target's journal has the change set, done, with the reason" "$id  done  apply" "$hist"
check_eq "... and its timer was stopped by the confirmation" inactive \
    "$(hx "$h" systemctl is-active "sshdctl-window-$id.timer" 2>/dev/null || true)"
play "$repo/tests/e2e/ansible/change.yml" -e mode=apply -e '{"settings": {"MaxAuthTries": 4, "X11Forwarding": false}}'
check_rc "the same play again" 0
check_eq "... is unchanged" "False" "$(tsv "$res" 'd["changed"]')"

# ------------------------------------------------------------------- bad input --
before=$(sums "$h" "$conf")
play "$repo/tests/e2e/ansible/change.yml" -e mode=apply -e '{"settings": {"X11Forwarding": "maybe"}}'
check_rc "an invalid value fails the play" 2
check_has "... with sshdctl's words" "invalid value 'maybe' for X11Forwarding; allowed: yes, no" "$OUT"
check_eq "... and nothing changed" "$before" "$(sums "$h" "$conf")"

# ----------------------------------------------------------------- lock-out ----
play "$repo/tests/e2e/ansible/change.yml" -e mode=apply -e confirm_timeout=25 -e '{"settings": {"AllowUsers": "nobody"}}'
check_rc "a change that locks ecs-user out: the play fails (the fresh connection cannot log in)" 4
check_has "... at the confirmation, the host unreachable" "UNREACHABLE" "$OUT"
check_eq "... the lock-out is live meanwhile" "nobody" "$(sshd_T allowusers)"
sleep 35
check_eq "after its confirm timeout the host has undone it by itself" "" "$(sshd_T allowusers)"
check_eq "ecs-user logs in again" ecs-user "$("$lab" ssh "$h" id -un 2>&1 || true)"
check_eq "sshd_config is as the confirmed change left it" "$before" "$(sums "$h" "$conf")"

# ------------------------------------------------------------------- absent ----
play "$repo/tests/e2e/ansible/change.yml" -e mode=absent -e '{"settings": {"MaxAuthTries": null}}'
check_rc "state=absent, confirmed" 0
check_eq "... sshd's default applies again" 6 "$(sshd_T maxauthtries)"

# ----------------------------------------------------------------------- key --
ssh-keygen -q -t ed25519 -N '' -C ansible-e2e-key -f "$tmp/k"
key_login() { ssh -F /dev/null -o UserKnownHostsFile="$LAB_KNOWN_HOSTS" -o StrictHostKeyChecking=yes -o BatchMode=yes \
    -o IdentitiesOnly=yes -i "$tmp/k" -o ConnectTimeout=5 "ecs-user@$a" id -un 2>&1 || true; }
check_has "before: the new key does not log in" "Permission denied" "$(key_login)"
play "$repo/tests/e2e/ansible/key.yml" -e key_state=present -e "pubkey='$(cat "$tmp/k.pub")'" -e comment=ansible-e2e-key
check_rc "sshdctl.core.key adds a key for ecs-user, confirmed over a fresh connection" 0
check_eq "... changed" "True" "$(tsv "$res" 'd["changed"]')"
check_eq "... and sshd takes it: a login with that key" ecs-user "$(key_login)"
play "$repo/tests/e2e/ansible/key.yml" -e key_state=present -e "pubkey='$(cat "$tmp/k.pub")'" -e comment=ansible-e2e-key
check_eq "the same key again is unchanged" "False" "$(tsv "$res" 'd["changed"]')"
play "$repo/tests/e2e/ansible/key.yml" -e key_state=absent -e comment=ansible-e2e-key
check_rc "state=absent by its comment" 0
check_has "... and the key logs in no more" "Permission denied" "$(key_login)"
check_eq "... while the lab key still does" ecs-user "$("$lab" ssh "$h" id -un 2>&1 || true)"

# ------------------------------------------------------- policy and root_login --
pw=$(new_password)
play "$repo/tests/e2e/ansible/policy.yml" -e "root_password=$pw"
check_rc "sshdctl.core.policy (inline content) and root_login (password, a 10m window)" 0
check_eq "... sshd -T says clientaliveinterval 240" 240 "$(sshd_T clientaliveinterval)"
check_lacks "... the password is not in Ansible's output" "$pw" "$OUT$ERR"
check_has "... root_login says the window" "reverts it by itself after 10m" "$(tsv "$res" 'd["root"]["msg"]')"
check "sshd answers" wait_sshd "$a"
check_root_login "root logs in with that password" "$a" "$pw"
finish

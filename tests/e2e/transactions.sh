#!/bin/bash
# The journal on a lab host, over SSH: every change is a change set on the target (root-only),
# history and show-change read it, revert undoes a change (root logon proved refused again with
# the system ssh), refuses on drift unless --force, and can itself be reverted; a second run
# waits for the target's lock; and sshdctl killed at every step of a change leaves sshd_config
# old or new and valid, and the next run finishes the journal. Maintenance windows: --for and
# --confirm-within revert by themselves on the target (a systemd timer), confirm keeps a change.
# Needs root; fails, never skips, where the lab cannot run.
set -euo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
trap 'lab_down; rm -rf "$tmp"' EXIT
e2e_require
e2e_prefix e2etxn

lab_up 5
H=${P}1
addr=$(addr_of "$H")
sudo_args "$(flavor_of "$H")"
remote=("$bin" --host "ecs-user@$addr" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 5
    "${SUDO_ARGS[@]}")
id_in() { grep -oE 'change set [0-9]{8}T[0-9]{12}Z-[0-9a-f]{6}' <<<"$1" | head -n 1 | cut -d' ' -f3; }
on() { "$bin" --host "ecs-user@$(addr_of "$1")" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 5 "${SUDO_ARGS[@]}" "${@:2}"; }

# --- maintenance windows (started first; checked once the rest has taken its time) ---------
win_pw=$(new_password)
capture on "${P}2" --for 10s root-login enable --password-stdin <<<"$win_pw"
check_rc "root-login enable --for 10s" 0
check_has "... says when the target reverts it" "window: the target reverts this change at" "$OUT"
win_for=$(id_in "$OUT")
capture on "${P}3" --confirm-within 10s root-login enable --password-stdin <<<"$win_pw"
check_rc "root-login enable --confirm-within 10s (never confirmed)" 0
capture on "${P}4" --confirm-within 10s root-login enable --password-stdin <<<"$win_pw"
check_rc "root-login enable --confirm-within 10s (confirmed)" 0
win_confirmed=$(id_in "$OUT")
check_root_login "within the window root logs in" "$(addr_of "${P}2")" "$win_pw"
capture on "${P}4" confirm "$win_confirmed"
check_rc "confirm keeps the change" 0
check_has "... and stops its timer" "timer sshdctl-window-$win_confirmed.timer is stopped" "$OUT"
capture on "${P}5" --confirm-within 10s root-login enable --password-stdin <<<"$win_pw"
check_rc "a window on ${P}5" 0
capture on "${P}5" --for 1h root-login enable --password-stdin <<<"$win_pw"
check_has "... replaced by a new --for on the same change" "the new window replaces the one change set" "$OUT"
win_started=$(date +%s)

# --- the journal --------------------------------------------------------------------------
root_pw=$(new_password)
capture "${remote[@]}" --reason "maintenance window" root-login enable --password-stdin <<<"$root_pw"
check_rc "root-login enable over SSH" 0
id=$(id_in "$OUT")
check "... names its change set" test -n "$id"
check_eq "... recorded on the target, root-only" "700 root 600 600 600" \
    "$(hx "$H" stat -c '%a %U' "/var/lib/sshdctl/changes/$id" | tr '\n' ' ')$(hx "$H" stat -c '%a' \
        "/var/lib/sshdctl/changes/$id/manifest" "/var/lib/sshdctl/changes/$id/before.1" \
        "/var/lib/sshdctl/changes/$id/after.1" | tr '\n' ' ' | sed 's/ $//')"
check_has "... with the reason and the operator" "reason maintenance%20window" \
    "$(hx "$H" cat "/var/lib/sshdctl/changes/$id/manifest" | sed 's/ /%20/2g')"
check_root_login "root logs in with the password" "$addr" "$root_pw"
capture "${remote[@]}" history
check_has "history over SSH lists it" "$id  done  root-login enable  (maintenance window)" "$OUT"
capture "${remote[@]}" show-change "$id"
check_has "show-change shows the sshd_config diff" "+PermitRootLogin yes" "$OUT"
check_has "... and the shadow change masked" "+root:<hash changed>:" "$OUT"
check_lacks "... without any hash" "\$6\$" "$OUT"

# --- revert -------------------------------------------------------------------------------
capture "${remote[@]}" revert "$id"
check_rc "revert over SSH" 0
rid=$(id_in "$OUT")
check_has "... validated and reloaded" "$(reloaded_text "$(flavor_of "$H")")" "$OUT"
check_root_refused "after the revert the root login is refused again (system ssh)" "$addr" "$root_pw"
capture "${remote[@]}" history
check_has "history shows the original as reverted" "$id  reverted by $rid" "$OUT"
capture "${remote[@]}" revert "$rid"
check_rc "a revert of the revert" 0
last=$(id_in "$OUT")
check_root_login "... restores the change: root logs in again" "$addr" "$root_pw"
hx "$H" sh -c 'echo "# edited by hand" >> /etc/ssh/sshd_config'
capture "${remote[@]}" revert "$last"
check_rc "revert refuses when the file changed since" 2
check_has "... and shows the hand edit" "+# edited by hand" "$ERR"
capture "${remote[@]}" revert --force "$last"
check_rc "--force reverts anyway" 0
check_root_refused "... root is refused again" "$addr" "$root_pw"

# --- the lock -----------------------------------------------------------------------------
hx "$H" sh -c 'mkdir -p /var/lib/sshdctl && (sleep 30 & echo "$! 0 $(cat /proc/sys/kernel/random/boot_id)" > /var/lib/sshdctl/lock)'
capture "${remote[@]}" --lock-timeout 2 set X11Forwarding no
check_rc "a second run waits for the lock, then gives up clearly" 1
check_has "... naming the holder" "another sshdctl run (pid" "$ERR"
hx "$H" sh -c 'read -r pid rest </var/lib/sshdctl/lock && kill "$pid"'
capture "${remote[@]}" --lock-timeout 2 set X11Forwarding no
check_rc "a lock whose owner is gone is taken over" 0

# --- kill points --------------------------------------------------------------------------
exercised=0
for k in $(seq 1 20); do
    before=$(hx "$H" sha256sum /etc/ssh/sshd_config | cut -d' ' -f1)
    value=no
    hx "$H" grep -q '^X11Forwarding no' /etc/ssh/sshd_config && value=yes
    if SSHDCTL_TEST_KILL_AT=$k "${remote[@]}" set X11Forwarding "$value" >"$tmp/kill.out" 2>&1; then rc=0; else rc=$?; fi
    if ! grep -q "test hook: killed at step" "$tmp/kill.out"; then
        check_eq "beyond the last step ($k) the change completes" 0 "$rc"
        break
    fi
    exercised=$((exercised + 1))
    where=$(grep -o 'killed at step.*' "$tmp/kill.out")
    now=$(hx "$H" sha256sum /etc/ssh/sshd_config | cut -d' ' -f1)
    xf=$(hx "$H" grep '^X11Forwarding' /etc/ssh/sshd_config || true)
    if [[ $now == "$before" || $xf == "X11Forwarding $value" ]] && hx "$H" sshd -t; then
        ok "$where: sshd_config is old or new, and valid"
    else bad "$where: sshd_config is neither old nor new, or invalid" "$xf"; fi
    capture "${remote[@]}" set UseDNS no
    # Killed once the fresh login confirmed the change on the target: it stays (the operator's
    # login works with it); killed before: the next run undoes it.
    if [[ $where == *"(probed)"* ]]; then
        check_has "... confirmed by its fresh login, the change stays" "was confirmed by a fresh login before its run ended: it stays" "$OUT"
        check_eq "... (the file as the change made it)" "X11Forwarding $value" "$xf"
    elif [[ $where == *"(confirmed)"* ]]; then
        check_eq "... the confirmed change stays" "X11Forwarding $value" "$xf"
    elif [[ $now != "$before" ]]; then
        check_has "... the next run rolls the interrupted change back" "was interrupted: rolled back" "$OUT"
    fi
    capture "${remote[@]}" history
    check_lacks "... and no change set is left unfinished" "  prepared  " "$OUT"
    check_lacks "... (none applied either)" "  applied  " "$OUT"
    "${remote[@]}" unset UseDNS >/dev/null 2>&1 || true
done
printf 'kill points exercised: %d\n' "$exercised"
if ((exercised >= 5)); then ok "$exercised kill points exercised (lock, journal, file, applied, reloaded)"
else bad "only $exercised kill points exercised"; fi
check_eq "ecs-user still logs in" ecs-user "$(ssh -F "$LAB_SSH_CONFIG" "$H" id -un 2>&1)"

# --- the windows, later -------------------------------------------------------------------
sleep $((win_started + 14 - $(date +%s) > 0 ? win_started + 14 - $(date +%s) : 0))
check_root_refused "after --for 10s, with nothing more done, root is refused again" "$(addr_of "${P}2")" "$win_pw"
capture on "${P}2" history
check_has "... history shows the automatic revert" "window revert of $win_for" "$OUT"
check_has "... and the change set as reverted" "$win_for  reverted by " "$OUT"
check_eq "... the target's sshd_config says no again" "PermitRootLogin no" "$(hx "${P}2" grep '^PermitRootLogin' /etc/ssh/sshd_config)"
check_root_refused "--confirm-within 10s without confirm: reverted" "$(addr_of "${P}3")" "$win_pw"
check_root_login "--confirm-within 10s with confirm: it stays" "$(addr_of "${P}4")" "$win_pw"
capture on "${P}4" history
check_has "... history says it was confirmed" "window: confirmed by" "$OUT"
check_root_login "a window replaced by --for 1h has not ended after 10 s" "$(addr_of "${P}5")" "$win_pw"

finish

#!/bin/bash
# The fault matrix of "never locked out" (ctest label faults). Each fault is injected at each
# step of a remote change it can hit, the change being one that locks the operator out
# (AllowUsers nobody) wherever that makes the fault sharper. Every row is judged with the
# host's own tools, not sshdctl's word: every file is the old or the new one, whole; sshd -t
# passes; ecs-user's key login (system ssh) works again within confirm-timeout + 30 s with
# nothing done by hand; the journal on the host says what happened; and the next run works at
# once (within its 30 s lock wait).
#
# The outcome table is written to $FAULTS_TABLE (default: the build dir's faults.md, or
# faults.FLAVOR.md under LAB_FLAVOR) and must equal docs/faults.md (docs/faults.FLAVOR.md for a
# flavor other than bookworm; the test fails when they differ: copy it over after a deliberate
# change; FAULTS_UPDATE=1 does so). Where a flavor behaves otherwise the row says why. The matrix runs with --confirm-timeout 10 and
# --command-timeout 5, so that each dead-man acts within seconds.
#
# Steps (the transaction's fault points, see src/cli/test_seam.h): connect (the login), snapshot
# (after the one read of the host), planned (the plan is made, nothing sent), committed (the
# files are in place, the dead-man armed, sshd not yet reloaded), reloaded (sshd runs the new
# files), probed (the fresh login was tried), confirmed (a confirmed change: kept).
set -uo pipefail

# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
# shellcheck source=../../bench/measure.sh
. "$E2E_DIR/../../bench/measure.sh"
cleanup() {
    [[ -z ${PROXY_PID:-} ]] || kill -KILL "$PROXY_PID" 2>/dev/null
    lab_down
    rm -rf "$tmp"
}
trap cleanup EXIT
e2e_require
e2e_prefix flt
repo=$(cd "$E2E_DIR/../.." && pwd)
pbin=$SSHDCTL_BUILD_DIR/bin/latency_proxy
[[ -x $pbin ]] || fatal "no latency_proxy in $SSHDCTL_BUILD_DIR/bin (built with the project)"

lab_up 1 --persistent
H=${P}1
flavor=$(flavor_of "$H")
sudo_args "$flavor"  # sudopw: every remote run gives sudo ecs-user's password
# sysv: no systemd, so no D-Bus, no timers and no windows; sshd is Debian's init script's
systemd=1
[[ $flavor == *sysv ]] && systemd=
restart_ssh="systemctl restart ssh"
[[ -n $systemd ]] || restart_ssh="/etc/init.d/ssh restart >/dev/null"
sshd_state() {  # what runs sshd on the host says of it
    if [[ -n $systemd ]]; then hx "$H" systemctl is-active ssh.service 2>&1
    else hx "$H" /etc/init.d/ssh status 2>&1; fi
}
table=$SSHDCTL_BUILD_DIR/faults.md
[[ $flavor == bookworm ]] || table=$SSHDCTL_BUILD_DIR/faults.$flavor.md
table=${FAULTS_TABLE:-$table}
addr=$(addr_of "$H")
CT=10
direct_with() {  # direct_with CONFIRM_TIMEOUT: the direct path's command line in $direct
    direct=("$bin" --host "ecs-user@$addr" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --connect-timeout 5
        --confirm-timeout "$1" "${SUDO_ARGS[@]}")
}
direct_with "$CT"
key_login() { ssh -F "$LAB_SSH_CONFIG" -o ConnectTimeout=3 "$H" true </dev/null >/dev/null 2>&1; }
conf_sha() { hx "$H" sha256sum /etc/ssh/sshd_config | cut -d' ' -f1; }
sets() { hx "$H" sh -c 'ls -d /var/lib/sshdctl/changes/*/ 2>/dev/null | wc -l'; }
newest_state() { hx "$H" sh -c 'd=$(ls -d /var/lib/sshdctl/changes/*/ | tail -n 1); cat "$d/state"'; }
unfinished() { hx "$H" sh -c 'ls /var/lib/sshdctl/changes/*.open 2>/dev/null | wc -l'; }

# A fresh proxy in front of the host for each run: the path a fault closes or freezes.
proxy_up() {
    [[ -z ${PROXY_PID:-} ]] || { kill -KILL "$PROXY_PID"; wait "$PROXY_PID"; } 2>/dev/null
    PROXY_PID=
    rm -f "$tmp/known_hosts" "$tmp/ssh_config"
    proxy_start "$pbin" 0 "$tmp/stats" "127.0.0.1:0=$addr:22" || fatal "latency_proxy did not start"
    local port
    port=$(proxy_get map.1.listen) || fatal "no listen port in the proxy's stats"
    port=${port##*:}
    proxy_files "$tmp" "$H" "$port" "$LAB_KEY" "$LAB_KNOWN_HOSTS" || fatal "cannot write the proxy's client files"
    via=("$bin" --host "ecs-user@127.0.0.1:$port" --identity "$LAB_KEY" --known-hosts "$tmp/known_hosts"
        --connect-timeout 5 --command-timeout 5 --confirm-timeout "$CT" "${SUDO_ARGS[@]}")
    # the path must take a login before a fault is put on it (said when it needed time)
    local i
    for ((i = 0; i < 40; i++)); do
        ssh -F "$tmp/ssh_config" -o ConnectTimeout=3 "$H" true </dev/null >/dev/null 2>&1 && break
        sleep 0.25
    done
    ((i == 0)) || printf 'note: the path through the proxy took a login after %d tries (sshd: %s)\n' "$((i + 1))" \
        "$(sshd_state)"
}

# What the host did, in the table's words, from the journal's state of the newest change set
# (or the count of change sets: none new means nothing changed).
outcome() {
    local before_sets=$1 state
    if (($(sets) == before_sets)); then printf 'nothing changed'; return; fi
    state=$(newest_state)
    case $state in
        done) printf 'kept: confirmed by a fresh login' ;;
        "rolled-back: reverted by the target: not confirmed within"*) printf "undone by the host's dead-man" ;;
        "rolled-back: reverted by the target at boot"*) printf 'undone at boot, before sshd' ;;
        "rolled-back: the login probe failed") printf 'rolled back at once (exit 6)' ;;
        "rolled-back: the reload failed") printf 'rolled back at once: reload failed (exit 6)' ;;
        "rolled-back: interrupted") printf 'undone by the next run' ;;
        *) printf 'journal: %s' "$state" ;;
    esac
}

# judge ROW STEP WANT BEFORE_SHA BEFORE_SETS [KEPT_LINE]: waits for the host to settle, checks
# the rules above and that the outcome is WANT; records the table cell.
n_next=10
judge() {
    local row=$1 step=$2 want=$3 before=$4 before_sets=$5 kept=${6:-} t0 i back="" got now
    t0=$(date +%s)
    for ((i = 0; i < CT + 30; i++)); do
        if key_login; then back=$(($(date +%s) - t0)); break; fi
        sleep 1
    done
    if [[ -n $back ]]; then ok "$row at $step: ecs-user's key login works (after ${back} s, nothing done by hand)"
    else bad "$row at $step: ecs-user is locked out $((CT + 30)) s after the fault"; fi
    for ((i = 0; i < CT + 30; i++)); do
        (($(unfinished) == 0)) && break
        sleep 1
    done
    check_eq "... no change set left unfinished on the host" 0 "$(unfinished)"
    now=$(conf_sha)
    if [[ -n $kept ]]; then
        if hx "$H" grep -qx "$kept" /etc/ssh/sshd_config; then ok "... sshd_config is the new one, whole"
        else bad "... sshd_config is not the new one" "$(hx "$H" tail -n 3 /etc/ssh/sshd_config)"; fi
    else
        check_eq "... sshd_config is the old one, whole" "$before" "$now"
    fi
    check "... sshd -t passes on the host" hx "$H" sshd -t
    got=$(outcome "$before_sets")
    check_eq "... the host's journal: $want" "$want" "$got"
    printf '%s\t%s\t%s\n' "$row" "$step" "$got" >>"$tmp/cells"
    # the next run, at once: its lock wait (30 s) is the bound
    local t1=$SECONDS
    capture "${direct[@]}" --lock-timeout 30 set MaxSessions "$n_next"
    n_next=$((n_next + 1))
    check_rc "... the next run works at once ($((SECONDS - t1)) s)" 0
    "${direct[@]}" unset MaxSessions >/dev/null 2>&1 || true
    settle
}
# settle: sshd re-executes itself after each reload and refuses connections meanwhile; the next
# cell starts once it accepts them again
settle() {
    local i
    for ((i = 0; i < 40; i++)); do key_login && return 0; sleep 0.25; done
}

# run_fault ROW STEP MODE: one run of the lock-out change through the proxy with the fault of
# MODE at STEP; sets RC, OUT, ERR and the run's seconds in DUR.
lockout=(set AllowUsers nobody)
run_fault() {
    local row=$1 step=$2 mode=$3 t1 pid
    proxy_up
    t1=$SECONDS
    if [[ $step == connect ]]; then
        # the login in flight: the path frozen, then the fault
        kill -STOP "$PROXY_PID"
        "${via[@]}" "${lockout[@]}" >"$tmp/cap.out" 2>"$tmp/cap.err" &
        pid=$!
        sleep 1
        case $mode in
            kill) kill -KILL "$pid" ;;
            int) kill -INT "$pid" ;;
            close) kill -KILL "$PROXY_PID" ;;
            hole) ;;  # stays frozen: the run must give up by itself
        esac
        wait "$pid"; RC=$?
        OUT=$(<"$tmp/cap.out"); ERR=$(<"$tmp/cap.err")
    else
        case $mode in
            kill) capture env SSHDCTL_TEST_KILL_AT="$step" "${via[@]}" "${lockout[@]}" ;;
            int) capture env SSHDCTL_TEST_SIGNAL_AT="$step:INT" "${via[@]}" "${lockout[@]}" ;;
            close) capture env SSHDCTL_TEST_RUN_AT="$step:kill -KILL $PROXY_PID" "${via[@]}" "${lockout[@]}" ;;
            hole) capture env SSHDCTL_TEST_RUN_AT="$step:kill -STOP $PROXY_PID" "${via[@]}" "${lockout[@]}" ;;
        esac
    fi
    DUR=$((SECONDS - t1))
    # the path itself failed before the fault was injected (sshd was re-executing after the
    # last reload when the login came): set-up, not an outcome; said, and tried again once
    if [[ $step != connect && $ERR == *"connection refused: nothing listens on port"* && -z ${RETRIED:-} ]]; then
        printf 'note: %s at %s: the proxy did not take the connection (%s); trying again\n' "$row" "$step" \
            "$(tail -n 2 "$tmp/stats.err" 2>/dev/null | tr '\n' ' ')"
        settle
        RETRIED=1 run_fault "$@"
        return
    fi
    # a frozen path goes away now, without forwarding what it holds (SIGKILL, never SIGCONT:
    # a thawed proxy would deliver a held commit late); the host's side closes with it
    kill -KILL "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null
    PROXY_PID=
}

steps=(connect snapshot planned committed reloaded probed)
want_for() {  # the outcome each fault must have at each step
    case $2 in
        connect | snapshot | planned) printf 'nothing changed' ;;
        *) printf "undone by the host's dead-man" ;;
    esac
}

key_login || fatal "ecs-user cannot log in to $H before the matrix"
declare -A row_name=([kill]="controller SIGKILL" [int]="controller SIGINT (Ctrl-C)"
    [close]="path closed (proxy killed)" [hole]="path black-holed (proxy frozen)")
for mode in kill int close hole; do
    for step in "${steps[@]}"; do
        before=$(conf_sha); before_sets=$(sets)
        run_fault "${row_name[$mode]}" "$step" "$mode"
        case $mode in
            kill) check_eq "${row_name[$mode]} at $step: the run died" 137 "$RC" ;;
            int)
                check_eq "${row_name[$mode]} at $step: the run ends at once with 130" 130 "$RC"
                case $step in
                    connect | snapshot | planned)
                        check_has "... and says nothing was changed" "nothing was changed" "$ERR" ;;
                    *) check_has "... and says what the host does by itself" "by itself at" "$ERR" ;;
                esac ;;
            close | hole)
                if ((RC != 0)); then ok "${row_name[$mode]} at $step: the run fails (exit $RC) after $DUR s"
                else bad "${row_name[$mode]} at $step: the run succeeded on a dead path" "$ERR"; fi
                if ((DUR <= 60)); then ok "... and gave up within 60 s"; else bad "... it took $DUR s"; fi
                case $step in
                    committed | reloaded | probed)
                        check_has "... and says what the host does by itself" "by itself at" "$ERR" ;;
                esac ;;
        esac
        judge "${row_name[$mode]}" "$step" "$(want_for "$mode" "$step")" "$before" "$before_sets"
    done
done

# --- a change that keeps the login, killed after its fresh login ---------------------------
for step in probed confirmed; do
    before=$(conf_sha); before_sets=$(sets)
    value=no
    hx "$H" grep -qx 'X11Forwarding no' /etc/ssh/sshd_config && value=yes
    capture env SSHDCTL_TEST_KILL_AT="$step" "${direct[@]}" set X11Forwarding "$value"
    check_eq "controller SIGKILL at $step of a change that keeps the login: the run died" 137 "$RC"
    judge "controller SIGKILL, login kept" "$step" "kept: confirmed by a fresh login" "$before" "$before_sets" \
        "X11Forwarding $value"
done

# --- single faults -------------------------------------------------------------------------
# the probe fails with the path alive: rolled back at once
before=$(conf_sha); before_sets=$(sets)
capture "${direct[@]}" "${lockout[@]}"
check_rc "the probe fails (AllowUsers nobody), path alive: rolled back, exit 6" 6
check_has "... and the login works again" "the login works again" "$ERR"
judge "the probe fails, path alive" "probed" "rolled back at once (exit 6)" "$before" "$before_sets"

# the fresh login comes after --confirm-timeout (a harmless change): the dead-man undoes it
# first; the run's rollback finds it undone and says so
before=$(conf_sha); before_sets=$(sets)
capture env SSHDCTL_TEST_RUN_AT="reloaded:sleep $((CT + 5))" "${direct[@]}" set MaxSessions 7
check_rc "a fresh login later than --confirm-timeout: rolled back, exit 6" 6
check_has "... saying the host's dead-man had undone it first" \
    "by itself already (reverted by the target: not confirmed within" "$ERR"
judge "a fresh login later than --confirm-timeout" "reloaded" "undone by the host's dead-man" "$before" "$before_sets"

# sshd does not start with the new files (a ListenAddress the host does not have passes sshd -t).
# The probe retries refused connections for 10 s: a longer confirm timeout lets this run's own
# rollback act first (with 10 s, the dead-man and the rollback race; either leaves the old files)
before=$(conf_sha); before_sets=$(sets)
direct_with 60
capture "${direct[@]}" set ListenAddress 192.0.2.77
direct_with "$CT"
check_rc "sshd fails to start after the reload (ListenAddress 192.0.2.77): rolled back, exit 6" 6
if [[ -n $systemd ]]; then
    unit=ssh.service
    [[ $flavor == *socket ]] && unit=ssh.socket  # which starts ssh.service at the next connection
    check "... and $unit runs again" hx "$H" systemctl is-active --quiet "$unit"
else  # sshd exited at its SIGHUP; the rollback starts it again with its init script
    check "... and sshd runs again (/etc/init.d/ssh status)" hx "$H" /etc/init.d/ssh status
fi
# OpenSSH 10 tells systemd it is reloading (sd_notify RELOADING=1) and never READY again: the
# reload job itself fails there; under ssh.socket the new address is the socket's, which cannot
# bind it; 9.2 and 8.4 take the SIGHUP, and the probe finds sshd gone
want="rolled back at once (exit 6)"
[[ $flavor == trixie* || $flavor == *socket ]] && want="rolled back at once: reload failed (exit 6)"
judge "sshd fails to start after the reload" "reloaded" "$want" "$before" "$before_sets"

# a reboot while the dead-man is armed (the run killed after the reload, a long timeout)
before=$(conf_sha); before_sets=$(sets)
direct_with 600
capture env SSHDCTL_TEST_KILL_AT=reloaded "${direct[@]}" "${lockout[@]}"
direct_with "$CT"
if key_login; then bad "the lock-out is live before the reboot"; else ok "reboot with an armed dead-man: locked out before it"; fi
# without systemd the boot step is an init script, in insserv's boot order before ssh
[[ -n $systemd ]] || check "... the boot step is in the host's boot order, before ssh" hx "$H" sh -c \
    'grep -q "^ssh:.*sshdctl-boot" /etc/init.d/.depend.start'
if runs_inside "$H"; then
    capture hx "$H" "$bin" history
    check_has "... history on the host shows the armed dead-man and its deadline" "dead-man: the target undoes this change at" "$OUT"
else  # the journal's own files, which history reads
    check "... the host's journal has the armed dead-man and a deadline ahead" hx "$H" sh -c \
        'd=$(ls -d /var/lib/sshdctl/changes/*/ | tail -n 1); read -r t _ <"$d/deadline" && [ "$t" -gt "$(date +%s)" ] && grep -q "^systemd " "$d/armed"'
fi
check "... the host reboots" "$lab" reboot "$H"
judge "reboot, dead-man armed" "reloaded" "undone at boot, before sshd" "$before" "$before_sets"

# windows are systemd timers: refused without systemd (remote_change.sysv checks the refusal)
if [[ -n $systemd ]]; then
    # a reboot that keeps the host down past the end of a --for window
    before=$(conf_sha); before_sets=$(sets)
    capture "${direct[@]}" --for 10s set MaxAuthTries 2
    check_rc "a --for 10s window" 0
    check "... the host goes down for 15 s and comes back" "$lab" reboot "$H" --down 15
    check_eq "... the window ended at boot: the old sshd_config" "$before" "$(conf_sha)"
    check_has "... the journal says so" "reverted by" "$(newest_state)$(hx "$H" sh -c 'cat /var/lib/sshdctl/changes/*/state')"
    printf '%s\t%s\t%s\n' "reboot past the end of a --for window" "down" "window ended at boot" >>"$tmp/cells"
    # a reboot inside a window: the window goes on for the time it has left
    capture "${direct[@]}" --for 20s set MaxAuthTries 2
    check_rc "a --for 20s window" 0
    check "... a quick reboot" "$lab" reboot "$H"
    check "... the window goes on after the reboot" hx "$H" grep -qx 'MaxAuthTries 2' /etc/ssh/sshd_config
    check "... with a timer for its time left" hx "$H" sh -c 'systemctl list-timers --no-pager | grep -q sshdctl-window-'
    for ((i = 0; i < 40; i++)); do hx "$H" grep -qx 'MaxAuthTries 2' /etc/ssh/sshd_config || break; sleep 1; done
    check_eq "... and ends on time: the old sshd_config" "$before" "$(conf_sha)"
    printf '%s\t%s\t%s\n' "reboot inside a --for window" "open" "window re-armed for its time left, ended on time" >>"$tmp/cells"
    # a window made on the host itself (sshdctl run there, as root): its boot step is written by
    # the window itself, so a reboot past its end ends it at boot too
    if runs_inside "$H"; then
        before=$(conf_sha)
        capture hx "$H" "$bin" --for 10s set MaxAuthTries 2
        check_rc "a local --for 10s window (sshdctl on the host itself)" 0
        check "... the host goes down for 15 s and comes back" "$lab" reboot "$H" --down 15
        check_eq "... the window ended at boot: the old sshd_config" "$before" "$(conf_sha)"
        printf '%s\t%s\t%s\n' "reboot past the end of a local --for window" "down" "window ended at boot" >>"$tmp/cells"
    else
        printf 'note: a local --for window does not apply on %s (the sshdctl built here does not run inside it)\n' "$flavor"
    fi
else  # the window is refused before anything is written
    before=$(conf_sha); before_sets=$(sets)
    capture "${direct[@]}" --for 10s set MaxAuthTries 2
    if ((RC != 0)); then ok "a --for 10s window without systemd: refused (exit $RC)"
    else bad "a --for 10s window without systemd: the change went through"; fi
    check_has "... saying windows need systemd" "maintenance windows need systemd" "$ERR"
    judge "a --for window without systemd" "planned" "nothing changed" "$before" "$before_sets"
fi


# disk full, read-only: nothing changes, the error says so
# The shell line that puts DIR on a tmpfs just big enough for what it holds (plus a
# little), copies it back whole (any error is the setup's failure: a host that lost its
# host keys would fail the run for the wrong reason) and then fills what is left.
fill_up() {
    local dir=$1
    printf '%s' "mkdir -p /run/flt && cp -a $dir/. /run/flt/ && mount -t tmpfs -o size=\$((\$(du -sk /run/flt | cut -f1) + 64))k tmpfs $dir && cp -a /run/flt/. $dir/ && { dd if=/dev/zero of=$dir/fill bs=4k 2>/dev/null; true; }"
}
# The copy on the tmpfs is the test's, not a real full disk's: no dead-man of an earlier run
# (each next run above arms one, for --confirm-timeout) may come due while it is there; it
# would run from the copy and keep it busy. So the set-up waits until every deadline armed in
# this boot (a reboot ends the others' timers and sleeps) is 2 s past.
deadlines_past() {
    local i
    for ((i = 0; i < CT + 15; i++)); do
        hx "$H" sh -c 'now=$(date +%s); read -r b </proc/sys/kernel/random/boot_id
            for d in /var/lib/sshdctl/changes/*/; do
                [ -e "${d}deadline" ] || continue
                ob=; { read -r _ ob <"${d}owner"; } 2>/dev/null; [ "$ob" = "$b" ] || continue
                read -r t _ <"${d}deadline"; [ $((t + 2)) -lt "$now" ] || exit 1
            done' && return 0
        sleep 1
    done
    return 1
}
# what holds DIR (cwd or open file of a process on the host), when it cannot be unmounted
holders() { printf '%s' "{ ls -l /proc/[0-9]*/cwd /proc/[0-9]*/fd/* 2>/dev/null | grep ' -> $1'; exit 1; }"; }
full_case() {
    local row=$1 setup=$2 undo=$3
    before=$(conf_sha); before_sets=$(sets)
    deadlines_past || fatal "a dead-man is still due on the host before: $row"
    hx "$H" sh -c "$setup" || fatal "cannot set up: $row"
    capture "${direct[@]}" "${lockout[@]}"
    hx "$H" sh -c "$undo" || fatal "cannot undo the set-up of: $row"
    if ((RC != 0)); then ok "$row: refused (exit $RC)"; else bad "$row: the change went through"; fi
    check_has "... naming what could not be written" "unwritable" "$OUT$ERR"
    judge "$row" "committed" "nothing changed" "$before" "$before_sets"
}
full_case "disk full on /var/lib/sshdctl" \
    "$(fill_up /var/lib/sshdctl)" \
    "umount /var/lib/sshdctl || $(holders /var/lib/sshdctl); rm -rf /run/flt"
full_case "disk full on /etc/ssh" \
    "$(fill_up /etc/ssh)" \
    "umount /etc/ssh || $(holders /etc/ssh); rm -rf /run/flt"
full_case "/etc/ssh read-only" \
    'mount --bind /etc/ssh /etc/ssh && mount -o remount,bind,ro /etc/ssh' \
    "umount /etc/ssh || $(holders /etc/ssh)"

# two operators at once: the second waits for the first's confirmation; both edits stay
before_sets=$(sets)
env SSHDCTL_TEST_RUN_AT="reloaded:sleep 4" "${direct[@]}" set MaxStartups 7:30:70 >"$tmp/a.out" 2>&1 &
apid=$!
for ((i = 0; i < 100; i++)); do (($(unfinished) > 0)) && break; sleep 0.1; done
capture "${direct[@]}" --lock-timeout 30 set LoginGraceTime 77
wait "$apid"; arc=$?
check_eq "two operators at once: the first one's change" 0 "$arc"
check_rc "... the second one's, after waiting for the first" 0
check "... both edits are in sshd_config" hx "$H" sh -c 'grep -qx "MaxStartups 7:30:70" /etc/ssh/sshd_config && grep -qx "LoginGraceTime 77" /etc/ssh/sshd_config'
"${direct[@]}" unset MaxStartups LoginGraceTime >/dev/null 2>&1 || "${direct[@]}" unset MaxStartups >/dev/null 2>&1
"${direct[@]}" unset LoginGraceTime >/dev/null 2>&1 || true
printf '%s\t%s\t%s\n' "two operators at once" "committed" "the second waits for the first; both edits kept" >>"$tmp/cells"

# the host key changed between two runs: refused before anything is read
before=$(conf_sha); before_sets=$(sets)
hx "$H" sh -c "mkdir -p /run/keys && mv /etc/ssh/ssh_host_* /run/keys/ && ssh-keygen -A -q && $restart_ssh"
capture "${direct[@]}" "${lockout[@]}"
hx "$H" sh -c "rm -f /etc/ssh/ssh_host_* && mv /run/keys/* /etc/ssh/ && $restart_ssh"
if ((RC != 0)); then ok "the host key changed: refused (exit $RC)"; else bad "the host key changed: the change went through"; fi
check_has "... naming the changed host key" "HOST KEY CHANGED" "$ERR"
judge "the host key changed" "connect" "nothing changed" "$before" "$before_sets"

# sudo refuses (it asks for a password none was given for; on sudopw, a wrong one is given)
before=$(conf_sha); before_sets=$(sets)
hx "$H" sh -c 'printf "ecs-user ALL=(ALL) PASSWD: ALL\n" >/etc/sudoers.d/zz-faults && chmod 440 /etc/sudoers.d/zz-faults'
capture env E2E_LOGIN_PW=not-the-password "${direct[@]}" "${lockout[@]}"
hx "$H" rm -f /etc/sudoers.d/zz-faults
if ((RC != 0)); then ok "sudo refuses: refused (exit $RC)"; else bad "sudo refuses: the change went through"; fi
check_has "... naming sudo" "sudo" "$ERR"
judge "sudo refuses" "connect" "nothing changed" "$before" "$before_sets"

# D-Bus and systemd-run exist only under systemd; without it every row above already took the
# SIGHUP and the detached sleep these two rows force
if [[ -n $systemd ]]; then
    # D-Bus stopped on the host: systemd cannot be asked, so sshd is reloaded by SIGHUP to its pid
    # file (as its ExecReload does); the probe fails and the change goes at once. Under ssh.socket
    # the SIGHUP ends Debian's sshd and the socket starts it again at the next connection, which
    # makes the probe and the rollback slower: a longer confirm timeout there lets this run's own
    # rollback act first (with 10 s, it and the dead-man race; either leaves the old files)
    before=$(conf_sha); before_sets=$(sets)
    [[ $flavor == *socket ]] && direct_with 60
    hx "$H" systemctl stop dbus.socket dbus.service
    capture "${direct[@]}" "${lockout[@]}"
    direct_with "$CT"
    hx "$H" systemctl start dbus.socket dbus.service
    # systemd 257's logind does not find the new bus by itself: logins wait for it (25 s) until it
    # is restarted, which an administrator restarting D-Bus does too
    hx "$H" systemctl restart systemd-logind
    check_rc "D-Bus stopped on the host: rolled back, exit 6" 6
    judge "D-Bus stopped on the host" "reloaded" "rolled back at once (exit 6)" "$before" "$before_sets"

    # no systemd timer to be had (systemd-run fails): the dead-man is a detached sleep instead
    before=$(conf_sha); before_sets=$(sets)
    hx "$H" mount --bind /bin/false /usr/bin/systemd-run
    capture env SSHDCTL_TEST_KILL_AT=reloaded "${direct[@]}" "${lockout[@]}"
    hx "$H" umount /usr/bin/systemd-run
    check_eq "systemd-run fails on the host, the controller killed after the reload: the run died" 137 "$RC"
    check_has "... the dead-man is a detached sleep" "process " "$(hx "$H" sh -c 'd=$(ls -d /var/lib/sshdctl/changes/*/ | tail -n 1); cat "$d/armed"')"
    judge "no systemd timer (systemd-run fails): a detached sleep" "reloaded" "undone by the host's dead-man" "$before" "$before_sets"
else
    printf 'note: the D-Bus and systemd-run rows do not apply on %s (no systemd)\n' "$flavor"
fi


# SIGTERM after the commit: as Ctrl-C
before=$(conf_sha); before_sets=$(sets)
capture env SSHDCTL_TEST_SIGNAL_AT="reloaded:TERM" "${direct[@]}" "${lockout[@]}"
check_eq "controller SIGTERM after the reload: the run ends at once with 143" 143 "$RC"
check_has "... and says what the host does by itself" "by itself at" "$ERR"
judge "controller SIGTERM" "reloaded" "undone by the host's dead-man" "$before" "$before_sets"

# a fleet's report says per host how the change was kept
printf "%s ansible_user=ecs-user\n" "$addr" >"$tmp/inventory"
capture "$bin" -i "$tmp/inventory" --identity "$LAB_KEY" --known-hosts "$LAB_KNOWN_HOSTS" --report "$tmp/report.jsonl" \
    "${SUDO_ARGS[@]}" set MaxSessions 5
check_rc "a fleet change on the host" 0
check_has "... its report says the change was confirmed by a fresh login" '"confirmation":"confirmed by a fresh login"' \
    "$(cat "$tmp/report.jsonl")"
check_has "... and so does its table" "confirmed by a fresh login]" "$OUT"
"${direct[@]}" unset MaxSessions >/dev/null 2>&1 || true

# --- the table -----------------------------------------------------------------------------
{
    if [[ $flavor == bookworm ]]; then printf '# The fault matrix\n\n'
    else printf '# The fault matrix on the %s lab flavor\n\n' "$flavor"; fi
    test_name='ctest label `faults`'
    [[ $flavor == bookworm ]] || test_name="ctest \`faults.$flavor\`, label \`e2e-full\`"
    printf 'Written by `tests/e2e/faults.sh` (%s); the test fails when this file\n' "$test_name"
    printf 'differs from what the run saw. Each fault hits a remote change that locks the operator out\n'
    printf '(`set AllowUsers nobody`, unless the row says otherwise) through a proxy the fault closes or\n'
    printf 'freezes, with `--confirm-timeout 10 --command-timeout 5`. In every cell the host was judged\n'
    printf 'with its own tools: sshd_config old or new and whole, `sshd -t` passes, the key login of\n'
    printf 'ecs-user works again within confirm-timeout + 30 s with nothing done by hand, no change set\n'
    printf 'left unfinished, and the next run works at once.\n\n'
    printf '| fault | %s |\n|---|%s\n' "$(IFS='|'; sed 's/|/ | /g' <<<"${steps[*]}")" "$(printf -- '---|%.0s' "${steps[@]}")"
    for mode in kill int close hole; do
        line="| ${row_name[$mode]} |"
        for step in "${steps[@]}"; do
            line+=" $(awk -F'\t' -v r="${row_name[$mode]}" -v s="$step" '$1 == r && $2 == s { print $3 }' "$tmp/cells") |"
        done
        printf '%s\n' "$line"
    done
    printf '\n| fault | step | what the host did |\n|---|---|---|\n'
    awk -F'\t' '$1 !~ /^(controller SIGKILL|controller SIGINT \(Ctrl-C\)|path closed \(proxy killed\)|path black-holed \(proxy frozen\))$/ {
        printf "| %s | %s | %s |\n", $1, $2, $3 }' "$tmp/cells"
} >"$table"
cat "$table"
# each flavor's table is its own file (bookworm's is docs/faults.md)
doc=docs/faults.md
[[ $flavor == bookworm ]] || doc=docs/faults.$flavor.md
if [[ ${FAULTS_UPDATE:-} == 1 ]]; then cp "$table" "$repo/$doc"; fi
if cmp -s "$table" "$repo/$doc"; then ok "$doc is the table this run saw"
else bad "$doc differs from this run's table ($table)" "$(diff "$repo/$doc" "$table" 2>&1 | head -n 8)"; fi
finish

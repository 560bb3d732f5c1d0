# shellcheck shell=bash
# Helpers shared by the e2e tests (sourced, not run). They check the machine
# and the build first and fail loudly (never skip) when the lab cannot run.
# All checks here are independent of sshdctl: sshd -T, sha256sum, real ssh
# logins from this machine (the controller) to the lab hosts.
#
# A test sources this file, sets an EXIT trap that calls lab_down, calls
# e2e_require and e2e_prefix, and ends with `finish`, which prints the final
# "N passed, M failed" line.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lab=$E2E_DIR/lab
passed=0
failed=0
tmp=$(mktemp -d /tmp/sshdctl-e2e.XXXXXX)
# a signal ends the test through its EXIT trap (which takes the hosts down)
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { passed=$((passed + 1)); printf 'ok   - %s\n' "$1"; }
bad() {
    failed=$((failed + 1))
    printf 'FAIL - %s\n' "$1"
    [[ -z ${2:-} ]] || printf '%s\n' "$2" | head -n 8 | sed 's/^/       /'
}
finish() {
    printf '%d passed, %d failed\n' "$passed" "$failed"
    ((failed == 0))
}
# fatal MSG: the test cannot go on; counts as a failure, ends the test
fatal() {
    printf 'FATAL: %s\n' "$*" >&2
    bad "$*"
    finish || true
    exit 1
}

# e2e_require: root, the lab's tools, sshpass, and a build with the binary.
# Sets bin (the sshdctl binary, same path on this machine and in the hosts).
e2e_require() {
    [[ $EUID -eq 0 ]] || fatal "must run as root (the lab uses network namespaces and systemd-nspawn)"
    local t
    for t in systemd-nspawn nsenter ip ssh sshpass sha256sum; do
        command -v "$t" >/dev/null 2>&1 \
            || fatal "$t not found (run scripts/setup, or apt-get install systemd-container sshpass openssh-client iproute2)"
    done
    [[ -n ${SSHDCTL_BUILD_DIR:-} ]] \
        || fatal "SSHDCTL_BUILD_DIR is not set (the build dir with bin/sshdctl; ctest sets it, e.g. SSHDCTL_BUILD_DIR=build/default)"
    [[ -d $SSHDCTL_BUILD_DIR ]] || fatal "SSHDCTL_BUILD_DIR is not a directory: $SSHDCTL_BUILD_DIR"
    SSHDCTL_BUILD_DIR=$(realpath "$SSHDCTL_BUILD_DIR")
    export SSHDCTL_BUILD_DIR
    bin=$SSHDCTL_BUILD_DIR/bin/sshdctl
    [[ -x $bin ]] || fatal "the sshdctl binary is missing: $bin (build it first: cmake --build --preset default)"
    [[ -d $SSHDCTL_BUILD_DIR/share/sshdctl/lenses ]] \
        || fatal "sshdctl's lenses are missing: $SSHDCTL_BUILD_DIR/share/sshdctl/lenses"
}

# e2e_prefix BASE: sets P, the test's lab prefix: BASE-PIDx, unique per run,
# so that the same test can run from two build dirs at once. Hosts left by
# runs of this test that died without their EXIT trap (SIGKILL, e.g. a ctest
# timeout) are taken down here.
e2e_prefix() {
    local base=$1 states d p pid
    P=$base-$$x
    states=$(dirname "$("$lab" state-dir --prefix "$base")")
    for d in "$states/$base"-*x; do
        [[ -d $d ]] || continue
        p=${d##*/}; pid=${p#"$base"-}; pid=${pid%x}
        [[ $pid =~ ^[0-9]+$ ]] || continue
        kill -0 "$pid" 2>/dev/null && continue
        printf 'note: taking down %s, left by a run that died\n' "$p" >&2
        "$lab" down --prefix "$p" >/dev/null 2>&1 || true
    done
}

# lab_up N [--persistent]: boot the test's hosts (prefix $P), source the state env.
# A failed up is fatal; the test's EXIT trap runs `lab down`.
lab_up() {
    "$lab" down --prefix "$P" >/dev/null 2>&1 || true
    if ! "$lab" up "$@" --prefix "$P" >"$tmp/up.out" 2>"$tmp/up.err"; then
        cat "$tmp/up.err" >&2
        fatal "lab up $* --prefix $P failed (see above)"
    fi
    # shellcheck disable=SC1091
    . "$("$lab" state-dir --prefix "$P")/env"
    # sshdctl runs inside the hosts too: every library it needs must be in the image. The
    # binary is built here, on Debian 12: it runs inside hosts of Debian 12's flavors only
    # (Debian 11 and 13 hosts are reached over SSH, as a controller on Debian 12 reaches them).
    local missing h
    while read -r h _; do
        runs_inside "$h" || continue
        missing=$("$lab" exec "$h" -- ldd "$bin" 2>&1 | grep 'not found' || true)
        [[ -z $missing ]] || fatal "the lab image lacks libraries of sshdctl (add their packages to PACKAGES in tests/e2e/lab): $missing"
        break
    done <"$LAB_HOSTS"
}
lab_down() { [[ -z ${P:-} ]] || "$lab" down --prefix "$P" >/dev/null 2>&1 || true; }
addr_of() { awk -v n="$1" '$1 == n { print $2 }' "$LAB_HOSTS"; }

# hx HOST CMD...: run CMD as root inside HOST (no SSH)
hx() { local h=$1; shift; "$lab" exec "$h" -- "$@"; }

# --- what differs between flavors (LAB_FLAVOR; ctest's e2e.STORY.FLAVOR) -------------------
# flavor_of HOST: its flavor (bookworm, trixie+socket, sysv, ...)
flavor_of() { "$lab" flavor "$1"; }
# runs_inside HOST: whether the sshdctl built here runs inside HOST (a Debian 12 root: the
# binary needs its glibc and libraries; not on bullseye or trixie flavors)
runs_inside() { case $(flavor_of "$1") in bullseye* | trixie*) return 1 ;; esac; }
# sudo_args FLAVOR: sets SUDO_ARGS to what a remote sshdctl needs to become root there
# (sudopw: ecs-user's password, from the start; it is exported as E2E_LOGIN_PW)
sudo_args() {
    SUDO_ARGS=()
    if [[ $1 == *sudopw ]]; then
        export E2E_LOGIN_PW=$LAB_SUDO_PASSWORD
        SUDO_ARGS=(--pass-env E2E_LOGIN_PW)
    fi
}
# reloaded_text FLAVOR: how sshdctl reports that sshd took a change there
reloaded_text() {
    case $1 in
        sysv) echo "reload of sshd (pid file) through SIGHUP to the pid in /run/sshd.pid" ;;
        # under ssh.socket Debian's sshd exits on SIGHUP (it re-executes without the socket)
        *socket) echo "restart of ssh.service through systemd (D-Bus): done (sshd runs with ssh.socket's socket" ;;
        *) echo "reload of ssh.service through systemd (D-Bus): done" ;;
    esac
}
# reload_in HOST: reload sshd inside HOST the way its init does (not through sshdctl)
reload_in() {
    case $(flavor_of "$1") in
        sysv) hx "$1" /etc/init.d/ssh reload >/dev/null ;;
        *socket) hx "$1" sh -c 'systemctl reset-failed ssh.service; systemctl restart ssh.service' ;;
        *) hx "$1" systemctl reload ssh ;;
    esac
}

# capture CMD...: run CMD; sets RC, OUT, ERR (never trips set -e)
capture() {
    if "$@" >"$tmp/cap.out" 2>"$tmp/cap.err"; then RC=0; else RC=$?; fi
    OUT=$(<"$tmp/cap.out")
    ERR=$(<"$tmp/cap.err")
}

# check_eq DESC WANT GOT
check_eq() {
    if [[ $3 == "$2" ]]; then ok "$1"; else bad "$1" "want: $2"$'\n'"got:  $3"; fi
}
# check_rc DESC WANT: RC of the last capture is WANT
check_rc() {
    if [[ $RC == "$2" ]]; then ok "$1"
    else bad "$1" "want exit $2, got $RC"$'\n'"stdout: $OUT"$'\n'"stderr: $ERR"; fi
}
# check_has DESC NEEDLE HAYSTACK (fixed string)
check_has() {
    if [[ $3 == *"$2"* ]]; then ok "$1"; else bad "$1" "no '$2' in:"$'\n'"$3"; fi
}
# check_lacks DESC NEEDLE HAYSTACK (fixed string): NEEDLE does not occur
check_lacks() {
    if [[ $3 != *"$2"* ]]; then ok "$1"; else bad "$1" "found: $2"; fi
}
# check DESC CMD...: CMD exits 0
check() {
    local d=$1; shift
    if "$@" >"$tmp/chk.out" 2>&1; then ok "$d"; else bad "$d" "$(tail -n 5 "$tmp/chk.out")"; fi
}

# eff HOST USER ADDR: what the host's own sshd says it would use for that
# connection: "permitrootlogin X passwordauthentication Y"
eff() {
    local out
    if ! out=$(hx "$1" sshd -T -C "user=$2,host=h,addr=$3" 2>&1); then
        printf 'sshd -T failed: %s' "$(tail -n 2 <<<"$out" | tr '\n' ' ')"
        return 0
    fi
    awk '$1 == "permitrootlogin" { p = $2 } $1 == "passwordauthentication" { a = $2 }
         END { printf "permitrootlogin %s passwordauthentication %s", p, a }' <<<"$out"
}

# sums HOST FILE...: sha256 (and mode/owner) of files inside HOST
sums() {
    local h=$1; shift
    hx "$h" sh -c 'sha256sum "$@" && stat -c "%n %a %U:%G" "$@"' sh "$@" 2>&1 || true
}

# new_password: a random password (base64 of 18 random bytes, no '+' or '/')
new_password() { head -c 18 /dev/urandom | base64 | tr '+/' 'xy'; }

# set_root_password HOST PW: chpasswd reads it on stdin (never in an argv)
set_root_password() { printf 'root:%s\n' "$2" | hx "$1" chpasswd; }

# wait_sshd ADDR: until ADDR:22 answers with an SSH banner (at most ~15 s)
wait_sshd() {
    local i
    for ((i = 0; i < 75; i++)); do
        # shellcheck disable=SC2016  # expanded by the inner bash
        if timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/22" && head -c 4 <&3 | grep -q "^SSH-"' "$1" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# wait_windows_over HOST [SECS]: until no sshdctl-window-* timer or service is loaded on HOST
# (a window's end has run to completion, its restart of sshd included), at most SECS (40) s.
# A file check alone is too early: the files are put back before sshd is restarted, and
# behind ssh.socket that restart removes /run/sshd for an instant, so sshd -T fails then.
wait_windows_over() {
    local i
    for ((i = 0; i < ${2:-40}; i++)); do
        [[ -z $(hx "$1" systemctl list-units --all --plain --no-legend 'sshdctl-window-*') ]] && return 0
        sleep 1
    done
    return 1
}

# root_pw_login ADDR PW [CMD...]: log in from this machine as root with
# password PW (no key, strict host key checking against the lab's
# known_hosts), run CMD (default: id -u). Sets RC, OUT, ERR. Retried briefly while the connection itself
# fails (sshd refuses connections for an instant around a reload); an
# authentication failure is final.
root_pw_login() {
    local i a=$1 pw=$2
    shift 2
    (($#)) || set -- id -u
    for ((i = 0; i < 10; i++)); do
        if SSHPASS=$pw sshpass -e ssh -F /dev/null \
                -o UserKnownHostsFile="$LAB_KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
                -o StrictHostKeyChecking=yes -o PubkeyAuthentication=no \
                -o PreferredAuthentications=password -o NumberOfPasswordPrompts=1 \
                -o ConnectTimeout=5 "root@$a" "$@" </dev/null >"$tmp/login.out" 2>"$tmp/login.err"; then
            RC=0
        else
            RC=$?
        fi
        OUT=$(<"$tmp/login.out")
        ERR=$(<"$tmp/login.err")
        # 5: sshpass saw the password refused; "Permission denied": the
        # server refused every offered method. Both are final answers.
        if ((RC == 0 || RC == 5)) || [[ $ERR == *"Permission denied"* ]]; then return 0; fi
        sleep 0.5
    done
}
# login_refused: the last root_pw_login was refused at authentication (not
# a connection failure)
login_refused() { ((RC != 0)) && [[ -z $OUT ]] && { ((RC == 5)) || [[ $ERR == *"Permission denied"* ]]; }; }

# check_root_login DESC ADDR PW: the root password login works, id -u says 0
check_root_login() {
    root_pw_login "$2" "$3"
    if ((RC == 0)) && [[ $OUT == 0 ]]; then ok "$1"
    else bad "$1" "exit $RC, stdout '$OUT', stderr: $ERR"; fi
}
# check_root_refused DESC ADDR PW: the root password login is refused
check_root_refused() {
    root_pw_login "$2" "$3"
    if login_refused; then ok "$1 (exit $RC: $(head -n 1 <<<"$ERR"))"
    else bad "$1" "exit $RC, stdout '$OUT', stderr: $ERR"; fi
}

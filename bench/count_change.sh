#!/usr/bin/env bash
# bench/count_change.sh -- what ONE remote change costs on one lab host: the sequential round
# trips its connections needed, the processes it started on the host, and its wall time. The
# command reaches the host only through a fresh bench/latency_proxy (DELAY ms each way).
#
# Usage (as root): bench/count_change.sh [--delay-ms MS] [--user USER] HOST -- COMMAND [ARG...]
#   HOST          a lab host that is up (tests/e2e/lab up N --prefix P gives P1..PN)
#   COMMAND       makes one change on HOST. These words in its arguments are replaced (and
#                 exported as CC_SSH_CONFIG, CC_KNOWN_HOSTS, CC_INVENTORY, CC_PORT, CC_KEY):
#                   @SSH_CONFIG@   ssh config: "Host HOST" leads to 127.0.0.1:PORT (the proxy),
#                                  "Host 127.0.0.1" for tools given address and port; user, key
#                                  and strict host key checking as in the lab's ssh_config
#                   @KNOWN_HOSTS@  HOST's real host keys, recorded for [127.0.0.1]:PORT
#                   @INVENTORY@    Ansible INI inventory of HOST: ansible_host=127.0.0.1,
#                                  ansible_port=PORT, ansible_user, the lab key
#                   @PORT@         the proxy's port; @KEY@ the lab's private key
#   --delay-ms MS  the proxy's delay each way (default 25; 0 times the command with only the
#                  proxy's own cost, but then the counts have no margin against timing)
#   --user USER    the login user whose user manager is kept running (default ecs-user)
# Examples:
#   bench/count_change.sh bench1 -- build/default/bin/sshdctl -i @INVENTORY@ -F @SSH_CONFIG@ \
#       --known-hosts @KNOWN_HOSTS@ set PermitRootLogin yes
#   bench/count_change.sh bench1 -- ssh -F @SSH_CONFIG@ bench1 \
#       "sudo sed -i 's/^PermitRootLogin .*/PermitRootLogin yes/' /etc/ssh/sshd_config && sudo sshd -t && sudo systemctl reload ssh"
# Output (stdout; the command's own stdout and stderr go to stderr):
#   turns N              times a client spoke again after hearing the server, summed over
#                        every connection the command made to HOST (latency_proxy's count)
#   round_trips N        the same as chains of answers (latency_proxy's round_trips): the
#                        sequential round trips; less sensitive to a slow host than turns
#   target_processes N   processes started in HOST's pid namespace from just before the command
#                        until HOST is quiet again, this script's own readings subtracted
#   seconds S            the command's wall time, through the proxy
#   connections N        connections the command made through the proxy
#   exit N               the command's exit status (also this script's)
# Turns, round trips and processes are counted, not timed (see bench/README.md), for the tests
# to assert; seconds are timed. A host slower than the delay to send a message it sends on its
# own can add one turn (a round trip only when slower than twice the delay): assert bounds, or
# give a longer delay. Exit status 2: this script could not measure.
#
# How: the proxy listens on a free port of 127.0.0.1 and forwards to HOST:22; USER's user manager
# is kept running during the count (loginctl enable-linger, undone at the end if it was off), so
# that it does not start or stop in the middle; the host must be quiet (its pid counter moves
# only by the readings, TP_QUIET_MS, default 500) before the command starts and is waited for
# after it ends, when also every proxied connection has closed.
# Environment: LATENCY_PROXY (default: build/default/bin/latency_proxy if up to date, else
# compiled into a temp dir), TP_QUIET_MS, TP_SETTLE_TIMEOUT (default 30 s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
lab="$repo/tests/e2e/lab"
# shellcheck source=bench/measure.sh
. "$here/measure.sh"
die() { echo "count_change.sh: $*" >&2; exit 2; }
usage() { sed -n '/^# Usage/,/^# Examples/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

delay=25 user=ecs-user host=
while (($#)); do
  case $1 in
    --delay-ms)
      if (($# < 2)) || ! [[ $2 =~ ^[0-9]+$ ]]; then die "--delay-ms needs a number"; fi
      delay=$2
      shift 2
      ;;
    --user) (($# > 1)) || die "--user needs a name"; user=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) [[ -z $host ]] || die "one HOST only (then --)"; host=$1; shift ;;
  esac
done
[[ -n $host ]] || { usage >&2; die "no HOST"; }
(($#)) || { usage >&2; die "no COMMAND after --"; }
[[ $EUID -eq 0 ]] || die "must run as root (the lab needs it)"

[[ $host =~ ^[a-z]([a-z0-9-]*[a-z-])?[0-9]+$ ]] || die "not a lab host name: $host"
state="$("$lab" state-dir --prefix "${host%"${host##*[!0-9]}"}")"
[[ -f $state/env ]] || die "no lab prefix is up for $host ($state)"
# shellcheck disable=SC1091
. "$state/env"
addr=$(awk -v n="$host" '$1 == n { print $2 }' "$LAB_HOSTS")
[[ -n $addr ]] || die "$host is not a host of $LAB_HOSTS"

tmp="$(mktemp -d /tmp/count_change.XXXXXX)"
warm=0
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  proxy_stop
  ((warm != 1)) || tp_unwarm "$host" "$user"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bin=$(proxy_binary "$tmp") || die "no latency_proxy"
proxy_start "$bin" "$delay" "$tmp/stats" "127.0.0.1:0=$addr:22" || die "latency_proxy did not start"
port=$(proxy_get map.1.listen) || die "no listen port in the proxy's stats"
port=${port##*:}
: >"$tmp/ssh_config"
: >"$tmp/known_hosts"
proxy_files "$tmp" "$host" "$port" "$LAB_KEY" "$LAB_KNOWN_HOSTS" || die "cannot write the client files"
proxy_files_end "$tmp" "$LAB_KEY"
printf '[lab]\n%s ansible_host=127.0.0.1 ansible_port=%s ansible_user=%s ansible_ssh_private_key_file=%s\n\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\n' \
  "$host" "$port" "$user" "$LAB_KEY" >"$tmp/inventory.ini"
export CC_SSH_CONFIG="$tmp/ssh_config" CC_KNOWN_HOSTS="$tmp/known_hosts" CC_INVENTORY="$tmp/inventory.ini" \
  CC_PORT="$port" CC_KEY="$LAB_KEY"
cmd=()
for a in "$@"; do
  a=${a//@SSH_CONFIG@/$CC_SSH_CONFIG}
  a=${a//@KNOWN_HOSTS@/$CC_KNOWN_HOSTS}
  a=${a//@INVENTORY@/$CC_INVENTORY}
  a=${a//@PORT@/$CC_PORT}
  cmd+=("${a//@KEY@/$CC_KEY}")
done

warm=$(tp_warm "$host" "$user") || die "cannot keep the user manager of $user running on $host"
cost=$(tp_cost "$host") || die "cannot read the pid counter of $host"
tp_settle "$host" "$cost" >/dev/null || die "$host is not quiet before the command"
before=$(tp_read "$host") || die "cannot read the pid counter of $host"

t0=${EPOCHREALTIME/./}
rc=0
"${cmd[@]}" >&2 || rc=$?
t1=${EPOCHREALTIME/./}

proxy_quiet 30 || echo "count_change.sh: warning: the turns of connections still open may be missing" >&2
after=$(tp_settle "$host" "$cost") || echo "count_change.sh: warning: $host still busy; the process count is a lower bound" >&2
[[ -n $after ]] || die "cannot read the pid counter of $host"
proxy_stop
us=$((t1 - t0))
printf 'turns %s\n' "$(proxy_get turns)"
printf 'round_trips %s\n' "$(proxy_get round_trips)"
printf 'target_processes %s\n' "$(tp_count "$before" "$cost" "$after")"
printf 'seconds %d.%03d\n' $((us / 1000000)) $((us % 1000000 / 1000))
printf 'connections %s\n' "$(proxy_get connections)"
printf 'exit %s\n' "$rc"
exit "$rc"

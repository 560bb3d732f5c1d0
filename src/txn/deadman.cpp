#include "sshdctl/txn/deadman.h"

#include <sodium.h>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/validate.h"

namespace sshdctl::txn {

using text::shell_quote;

std::string deadman_unit(const std::string& id) { return "sshdctl-deadman-" + id; }

std::string script_functions() {
  std::string check_specs;
  for (const char* spec : config::kCheckConnections) check_specs += " " + shell_quote(spec);
  // The lock is a file "PID TIME BOOT_ID" made with noclobber (O_EXCL, no process; see
  // TargetLock); an older sshdctl's lock directory is read through its pid file. An empty lock
  // for 5 s is one whose taker died between the create and the write: taken over, once (empty
  // again, it is this run's own write that fails: return 2, unwritable). Nothing there after a
  // failed create, three times: unwritable too. sshd_t checks with sshd -T -C for each of
  // kCheckConnections (validate.h), then each line of $X (the commit's block checks, split by
  // the newline IFS the scripts set; unset in undo.sh), up to the first refusal: its output, the effective
  // configuration, is dropped; `said` keeps sshd's complaints. sshd needs its privilege
  // separation directory, missing before ssh.service starts (at boot) or when sshd never ran.
  // reload_sshd: see deadman.h; a socket unit needs nothing (the next connection starts sshd).
  return R"SH(reload_sshd() {
  case $1 in *.socket) return 0 ;; esac
  if systemctl is-active --quiet "${1%.service}.socket"; then
    systemctl reset-failed "$1" 2>/dev/null
    systemctl restart "$1"
  else
    systemctl reload-or-restart "$1"
  fi
}
sshd_t() {
  made=
  [ -d /run/sshd ] || { mkdir -m 755 /run/sshd && made=1; }
  for spec in)SH" +
         check_specs + R"SH( ${X:-}; do
    said=$(/usr/sbin/sshd -T -C "$spec" "$@" 2>&1 >/dev/null)
    r=$?
    [ $r = 0 ] || break
  done
  [ -z "$made" ] || rmdir /run/sshd
  return $r
}
take_lock() {
  boot=
  { read -r boot </proc/sys/kernel/random/boot_id; } 2>/dev/null
  n=0 e=0 g=0
  while :; do
    set -C
    { echo "$$ $now $boot" >$L; } 2>/dev/null && { set +C; return 0; }
    set +C
    if [ ! -e $L ]; then
      g=$((g + 1))
      [ $g -lt 3 ] || return 2
      continue
    fi
    p= t= b= f=$L
    [ -d $L ] && f=$L/pid
    { IFS=' ' read -r p t b <$f; } 2>/dev/null
    [ "$p" = "$$" ] && [ "$b" = "$boot" ] && return 0
    if [ -n "$p" ] && { { [ -n "$b" ] && [ "$b" != "$boot" ]; } || ! kill -0 "$p" 2>/dev/null; }; then
      rm -rf $L
      continue
    fi
    if [ -z "$p" ] && [ $n -ge 5 ]; then
      e=$((e + 1))
      [ $e -le 1 ] || { rm -f $L; return 2; }
      rm -rf $L
      continue
    fi
    n=$((n + 1))
    [ $n -le "$1" ] || return 1
    echo "waiting for the lock (pid ${p:-?})" >&2
    sleep 1
  done
}
)SH";
}

std::string confirm_command(const std::string& token) {
  return "echo ok >" + std::string(kConfirmDir) + "/" + token + "/ok";
}

std::string new_token() {
  if (sodium_init() < 0) throw Error(ErrorKind::kInternal, "libsodium cannot start");
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  char hex[2 * sizeof raw + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return hex;
}

std::string undo_script(const ChangeSet& set, const std::string& reload_unit, long timeout_s,
                        const std::vector<std::string>& tokens, const std::string& state_dir) {
  bool sshd = false;
  for (const auto& f : set.files) sshd = sshd || f.path.rfind("/etc/ssh/", 0) == 0;
  std::string token_dirs;
  for (const auto& t : tokens) token_dirs += " $K/" + t;
  std::string s =
      "#!/bin/sh\n# Written by sshdctl: the dead-man of change set " + set.id +
      ". Undoes the change on this host by itself\n"
      "# unless a fresh login confirmed it (see sshdctl --help: Never locked out). Needs sh, coreutils,\n"
      "# sshd and systemctl (or a pid file for sshd) only.\n"
      "# Usage: sh undo.sh deadline|boot|rollback|recover|confirm [WHY [WAIT [NOW]]]\n"
      "trap '' HUP PIPE INT TERM\n"
      "set -uf\n"
      "umask 077\n"
      "mode=${1:-deadline} why=${2:-interrupted}\n"
      "V=" +
      shell_quote(state_dir) + "\nJ=$V/changes/" + set.id +
      " L=$V/lock K=$V/confirm\n"
      "now=${4:-$(date +%s)}\n"
      // The next run's recovery waits (up to $3 s, the lock wait) for a run
      // still confirming this change set: its root shell, the owner, is alive.
      "if [ $mode = recover ]; then\n"
      "  boot=\n"
      "  { read -r boot </proc/sys/kernel/random/boot_id; } 2>/dev/null\n"
      "  n=0\n"
      "  while :; do\n"
      "    o= ob= st=\n"
      "    { read -r o ob <$J/owner; } 2>/dev/null\n"
      "    { read -r st <$J/state; } 2>/dev/null\n"
      "    case $st in prepared | applied) ;; *) break ;; esac\n"
      "    [ -n \"$o\" ] && [ \"$o\" != \"$$\" ] && [ \"$ob\" = \"$boot\" ] && kill -0 \"$o\" 2>/dev/null || break\n"
      "    n=$((n + 1))\n"
      "    if [ $n -gt \"${3:-30}\" ]; then\n"
      "      d=; { read -r d rest <$J/deadline; } 2>/dev/null\n"
      "      echo \"inflight $o ${d:-0}\"; exit 20\n"
      "    fi\n"
      "    echo \"waiting for the run of pid $o\" >&2\n"
      "    sleep 1\n"
      "  done\n"
      "fi\n" +
      script_functions() +
      "take_lock 60 || { echo \"locked ${p:-?} ${t:-0}\"; exit 12; }\n"
      "trap 'rm -rf $L' EXIT\n"
      "state=\n"
      "{ read -r state <$J/state; } 2>/dev/null\n"
      "case $state in\n"
      "  prepared | applied) ;;\n"
      "  *) echo \"nothing: $state\"; [ $mode = confirm ] && exit 3; exit 0 ;;\n"
      "esac\n"
      // Confirmed: every token a probe was to leave is there (none asked: only the
      // run itself confirms, through its own session).
      "confirmed() {\n"
      "  n=0\n"
      "  while read -r k; do [ -e \"$K/$k/ok\" ] || return 1; n=$((n + 1)); done <$J/confirm\n"
      "  [ $n -gt 0 ] || [ $mode = confirm ]\n"
      "}\n"
      // The state is rewritten in place, as the journal does (a torn write leaves no
      // word a reader takes for a finished change).
      "finish() {\n"
      "  printf '%s\\n' \"$1\" >$J/state\n"
      "  rm -rf $J.open" +
      token_dirs + "\n" +
      "}\n"
      // Confirmed: the lock goes with the tokens, in the one program the subshell becomes.
      "if confirmed; then\n"
      "  printf '%s\\n' done >$J/state\n"
      "  echo confirmed\n"
      "  trap - EXIT\n"
      "  exec rm -rf $J.open" +
      token_dirs +
      " $L\n"
      "fi\n"
      "[ $mode = confirm ] && { echo unconfirmed; exit 3; }\n"
      // The revert rules of `sshdctl revert` and of the recovery of an interrupted
      // change: a file as the change left it goes back; a file as it was is left; any
      // other file means someone changed it since, and then nothing is touched.
      "sum() { s=-; [ -e \"$1\" ] || return 0; s=$(sha256sum <\"$1\") || s='?'; s=${s%% *}; }\n"
      "live= drift=\n"
      "at() {\n"
      "  sum \"$2\"\n"
      "  if [ \"$s\" = \"$3\" ] && [ \"$s\" != \"$4\" ]; then live=\"$live $1\"\n"
      "  elif [ \"$s\" != \"$4\" ]; then drift=\"$drift $2\"; fi\n"
      "}\n";
  // Per file: its check (`at`), and the two ways `files` can put it back.
  std::string cases;
  for (std::size_t i = 0; i < set.files.size(); ++i) {
    const auto& f = set.files[i];
    const std::string n = std::to_string(i);
    const std::string path = shell_quote(f.path);
    s += "at " + n + " " + path + " " + f.after_sha.value_or("-") + " " + f.before_sha.value_or("-") + "\n";
    const std::string tail = " " + n + " " + path + " " + text::octal_mode(f.info.mode) + " " +
                             std::to_string(f.info.uid) + ":" + std::to_string(f.info.gid);
    cases += "      before." + n + ") " + (f.before_sha ? "put before" + tail : "rm -f -- " + path) + " ;;\n";
    cases += "      after." + n + ") " + (f.after_sha ? "put after" + tail : "rm -f -- " + path) + " ;;\n";
  }
  s +=
      "if [ -n \"$drift\" ]; then\n"
      "  finish \"abandoned: changed since the change:$drift (left as they are)\"\n"
      "  echo \"drift$drift\"; exit 10\n"
      "fi\n"
      "if [ -z \"$live\" ]; then\n"
      "  if [ \"$state\" = prepared ]; then finish 'abandoned: interrupted before any file changed'\n"
      "  else finish 'abandoned: no file is as the change left it'; fi\n"
      "  echo \"nothing: no file to revert\"; exit 0\n"
      "fi\n"
      "put() { cp \"$J/$1.$2\" \"$3.sshdctl-undo\" && chmod $4 \"$3.sshdctl-undo\" && chown $5 \"$3.sshdctl-undo\" &&\n"
      "  mv -f \"$3.sshdctl-undo\" \"$3\"; }\n"
      "files() {\n"
      "  ok=0\n"
      "  for i in $live; do\n"
      "    case $1.$i in\n";
  s += cases;
  s += "    esac || ok=1\n"
       "  done\n"
       "  sync\n"
       "  return $ok\n"
       "}\n"
       "if ! files before; then\n"
       "  files after\n"
       "  echo 'unwritable: a file could not be put back (the change stays)'; exit 13\n"
       "fi\n";
  if (sshd)
    s += "if [ -x /usr/sbin/sshd ] && ! sshd_t; then\n"
         "  files after\n"
         "  finish \"abandoned: sshd -T refused the files as they were before (the change stays): $said\"\n"
         "  echo refused; printf '%s\\n' \"$said\"; exit 11\n"
         "fi\n"
         // The unit that runs sshd: the one named, else the first of Debian's and others'
         // names that is enabled or running; socket activation (neither) needs no reload. A
         // unit that failed (sshd did not start with the new files) is started again.
         "if [ $mode = deadline ]; then\n"
         "  if [ -d /run/systemd/system ]; then\n"
         "    for u in " +
         (reload_unit.empty() ? std::string() : shell_quote(reload_unit) + " ") +
         "ssh.service sshd.service; do\n"
         "      systemctl is-enabled --quiet \"$u\" 2>/dev/null || systemctl is-active --quiet \"$u\" || continue\n"
         "      reload_sshd \"$u\" || echo \"the reload of $u failed\"\n"
         "      break\n"
         "    done\n"
         // Without systemd: SIGHUP; when no sshd runs (the new files made it exit), its init
         // script starts it with the old ones.
         "  elif ! { [ -r /run/sshd.pid ] && read -r pid </run/sshd.pid && kill -HUP \"$pid\" 2>/dev/null; }; then\n"
         "    for s in /etc/init.d/ssh /etc/init.d/sshd; do\n"
         "      [ -x \"$s\" ] || continue\n"
         "      \"$s\" start </dev/null >/dev/null 2>&1 || echo \"the start of sshd by $s failed\"\n"
         "      break\n"
         "    done\n"
         "  fi\n"
         "fi\n";
  s += "case $mode in\n"
       "  deadline) finish 'rolled-back: reverted by the target: not confirmed within " +
       std::to_string(timeout_s) +
       " s' ;;\n"
       "  boot) finish 'rolled-back: reverted by the target at boot: the host restarted before the change was "
       "confirmed' ;;\n"
       "  *) finish \"rolled-back: $why\" ;;\n"
       "esac\n"
       "set -- $live\n"
       "echo \"reverted $#\"\n";
  return s;
}

std::string boot_unit() {
  return "# Written by sshdctl: before sshd starts, undo the changes no fresh login confirmed before the\n"
         "# host went down, and end the maintenance windows whose time passed meanwhile.\n"
         "[Unit]\n"
         "Description=sshdctl: changes and windows that came due while the host was down\n"
         "DefaultDependencies=no\n"
         "After=local-fs.target\n"
         "Before=ssh.service ssh.socket sshd.service shutdown.target\n"
         "Conflicts=shutdown.target\n"
         "ConditionPathExists=/var/lib/sshdctl/boot.sh\n"
         "\n"
         "[Service]\n"
         "Type=oneshot\n"
         "ExecStart=/bin/sh /var/lib/sshdctl/boot.sh\n"
         "TimeoutStartSec=300\n"
         "\n"
         "[Install]\n"
         "WantedBy=multi-user.target\n";
}

std::string boot_script() {
  return "#!/bin/sh\n"
         "# Written by sshdctl; sshdctl-boot.service (without systemd: /etc/init.d/sshdctl-boot) runs it\n"
         "# at boot, before sshd starts. A change that no fresh login confirmed is undone (the restart\n"
         "# ended the run that made it); a window that ended while the host was down is closed now;\n"
         "# one still open gets a timer for its time left.\n"
         "trap '' HUP PIPE INT TERM\n"
         "set -u\n"
         "V=/var/lib/sshdctl\n"
         "for o in $V/changes/*.open; do\n"
         "  [ -e \"$o\" ] || continue\n"
         "  J=${o%.open}\n"
         "  if [ -f \"$J/undo.sh\" ]; then echo \"${J##*/}: $(/bin/sh \"$J/undo.sh\" boot | tail -n 1)\"\n"
         "  else echo \"${J##*/}: interrupted; left for the next sshdctl run\"; fi\n"
         "done\n"
         "now=$(date +%s)\n"
         "for w in $V/changes/*/window; do\n"
         "  [ -e \"$w\" ] || continue\n"
         "  J=${w%/window} word= end=\n"
         "  { read -r word end rest <\"$w\"; } 2>/dev/null\n"
         "  [ \"$word\" = ends ] && [ -f \"$J/revert.sh\" ] || continue\n"
         "  due=$(date -d \"$end\" +%s 2>/dev/null) || continue\n"
         "  if [ \"$due\" -le \"$now\" ]; then\n"
         "    echo \"${J##*/}: window ended at $end: $(/bin/sh \"$J/revert.sh\" boot | tail -n 1)\"\n"
         "  else\n"
         "    systemd-run --quiet --no-block --unit=\"sshdctl-window-${J##*/}\" --on-active=$((due - now)) \\\n"
         "      --timer-property=AccuracySec=1s /bin/sh \"$J/revert.sh\" &&\n"
         "      echo \"${J##*/}: window open until $end\"\n"
         "  fi\n"
         "done\n"
         "exit 0\n";
}

std::string boot_init_script() {
  return "#!/bin/sh\n"
         "### BEGIN INIT INFO\n"
         "# Provides:          sshdctl-boot\n"
         "# Required-Start:    $local_fs\n"
         "# Required-Stop:\n"
         "# X-Start-Before:    ssh sshd\n"
         "# Default-Start:     2 3 4 5\n"
         "# Default-Stop:\n"
         "# Short-Description: sshdctl: changes that came due while the host was down\n"
         "# Description:       Written by sshdctl: before sshd starts, undo the changes no fresh\n"
         "#                    login confirmed before the host went down (runs\n"
         "#                    /var/lib/sshdctl/boot.sh).\n"
         "### END INIT INFO\n"
         "case \"$1\" in\n"
         "  start) [ ! -f /var/lib/sshdctl/boot.sh ] || /bin/sh /var/lib/sshdctl/boot.sh ;;\n"
         "  stop | restart | force-reload | status) ;;\n"
         "  *) echo \"Usage: $0 start\" >&2; exit 3 ;;\n"
         "esac\n"
         "exit 0\n";
}

}  // namespace sshdctl::txn

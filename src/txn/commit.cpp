// The commit step of a remote change, as one self-contained POSIX sh script (dash and busybox
// sh): one request, few processes, immune to the connection dying halfway (it ignores HUP,
// PIPE, INT and TERM, and its outcome is in the journal on the target, not in its answer).
//
// Its input is a tar archive (one `tar -x`): the change set's journal files, the candidate
// tree for sshd -t (Include lines pointed into it), and each new file as PATH.sshdctl-new next
// to PATH (same directory: the rename is atomic), with the mode and owner it must have.
// Steps, under the target's lock, held only while the script runs:
//   1. every file still has the before-hash the plan saw (else exit 10: "drift PATH" lines);
//   2. unpack, sync (the journal is on disk before any live file changes);
//   3. sshd -t on the whole candidate tree (else exit 11: "rejected", sshd's words, then
//      whether the live tree is refused too);
//   4. without systemd, enable the boot step's init script when the archive asks (ID/boot-enable:
//      "boot enabled" or "boot failed"); arm the dead-man (see deadman.h) when asked: a
//      transient systemd timer, else a detached sleep ("armed systemd UNIT" or "armed process
//      PID"); the journal files it needs (undo.sh, confirm, deadline) came in the archive;
//   5. rename each file into place (rm for a removed one); state "applied";
//   6. "committed", then release the lock (and remove the root shell's input file, $IN: no
//      secret stays, and the shell need not remove it at its end) with the `rm` the script's
//      subshell becomes (exec: no fork); its status is not the commit's (a lock left behind is
//      taken over as its owner is gone).
// Other exits: 12 "locked PID SINCE" (someone else's run holds the lock), 13 "unwritable …"
// (disk full, read-only: nothing live changed), 14 "symlink PATH", 15 "partial PATH" (a rename
// failed midway: the journal lets the next step undo the others).
#include <ctime>
#include <string>
#include <vector>

#include "sshdctl/common/text.h"
#include "sshdctl/txn/deadman.h"
#include "sshdctl/txn/transaction.h"

namespace sshdctl::txn {

std::string commit_script() {
  return R"SH(trap '' HUP PIPE INT TERM
set -f
nl='
'
IFS=$nl
id=$1 wait=$2 now=$3 main=$4 arm=$5 X=$6
[ "$X" != - ] || X=
shift 6
V=/var/lib/sshdctl
J=$V/changes/$id L=$V/lock C=$V/check-$id
[ -d $V/changes ] || mkdir -p -m 755 $V/changes || { echo "unwritable $V/changes"; exit 13; }
)SH" + script_functions() +
         R"SH(take_lock "$wait"
case $? in
  1) echo "locked ${p:-?} ${t:-0}"; exit 12 ;;
  2) echo "unwritable $L"; exit 13 ;;
esac
w= d= temps= exist= want= drift=
while [ $# -ge 3 ]; do
  if [ -L "$2" ]; then rm -rf $L; echo "symlink $2"; exit 14; fi
  if [ "$3" = - ]; then
    if [ -e "$2" ]; then drift="${drift}drift $2$nl"; fi
  elif [ -f "$2" ]; then
    exist=$exist$2$nl want="$want$3 $2$nl"
  else
    drift="${drift}drift $2$nl"
  fi
  if [ "$1" = W ]; then w=$w$2$nl temps=$temps$2.sshdctl-new$nl; else d=$d$2$nl; fi
  shift 3
done
if [ -n "$exist" ]; then
  sums=$(sha256sum -- $exist) || { rm -rf $L; echo "unreadable"; exit 13; }
  for line in $sums; do
    h=${line#\\} h=${h%% *} e=${want%%"$nl"*} want=${want#*"$nl"}
    [ "$h" = "${e%% *}" ] || drift="${drift}drift ${e#* }$nl"
  done
fi
if [ -n "$drift" ]; then rm -rf $L; printf '%s' "$drift"; exit 10; fi
undo() {
  { while read -r k; do rm -rf "$V/confirm/$k"; done <$J/confirm; } 2>/dev/null
  rm -rf $J $J.open $C $temps $L
}
if ! tar -x -f - -C / 2>&1 || ! echo "$$ $boot" >$J/owner || ! sync; then undo; echo "unwritable: the journal or a new file could not be written"; exit 13; fi
if [ -n "$main" ]; then
  if ! sshd_t -f "$C$main"; then
    echo rejected
    printf '%s\n' "$said"
    if sshd_t; then echo before-accepted; else echo before-rejected; printf '%s\n' "$said"; fi
    undo
    exit 11
  fi
fi
if [ -f $J/boot-enable ]; then
  rm -f $J/boot-enable
  if command -v update-rc.d >/dev/null 2>&1 && update-rc.d sshdctl-boot defaults </dev/null >/dev/null 2>&1; then
    echo "boot enabled"
  else
    echo "boot failed"
  fi
fi
if [ "$arm" -gt 0 ]; then
  u=sshdctl-deadman-$id
  if [ -d /run/systemd/system ] && systemd-run --quiet --unit=$u --on-active=$arm --timer-property=AccuracySec=1s \
    --description="sshdctl: undo change set $id unless a fresh login confirms it" /bin/sh $J/undo.sh deadline \
    </dev/null >/dev/null 2>&1; then
    echo "systemd $u" >$J/armed
  else
    (sleep $arm && exec /bin/sh $J/undo.sh deadline) </dev/null >/dev/null 2>&1 &
    echo "process $!" >$J/armed
  fi
  IFS=' ' read -r how what <$J/armed && echo "armed $how $what"
fi
for p in $w; do
  mv -f -- "$p.sshdctl-new" "$p" || { rm -rf $L $C; echo "partial $p"; exit 15; }
done
for p in $d; do
  rm -f -- "$p" || { rm -rf $L $C; echo "partial $p"; exit 15; }
done
echo applied >$J/state
echo committed
exec rm -rf $L $C ${IN:-}
)SH";
}

std::vector<std::string> commit_args(const std::string& id, int lock_wait_s, std::time_t now,
                                     const std::string& main_file, long arm_s,
                                     const std::vector<std::string>& more_checks,
                                     const std::vector<CommitFile>& files) {
  std::vector<std::string> args{
      id,        std::to_string(lock_wait_s), std::to_string(now),
      main_file, std::to_string(arm_s),       more_checks.empty() ? "-" : text::join(more_checks, "\n")};
  for (const auto& f : files) {
    args.emplace_back(f.removes ? "D" : "W");
    args.push_back(f.path);
    args.push_back(f.before_sha.value_or("-"));
  }
  return args;
}

}  // namespace sshdctl::txn

// The target-side half of "never locked out": every live remote change carries, in its commit,
// a script that undoes it on the target by itself (the dead-man), armed before sshd is reloaded
// and disarmed only by a confirmation a fresh login leaves on the target.
//
//   commit     writes ID/undo.sh, ID/confirm (the tokens the probes must leave), ID/deadline,
//              one directory per token (owned by the probing user), and arms the dead-man:
//              a transient systemd timer "sshdctl-deadman-ID" when systemd runs, else (or when
//              systemd-run fails) a detached `sleep` on the target (ID/armed says which);
//   probe      the fresh login, as the operator will log in, runs confirm_command(token):
//              it leaves TOKEN/ok, which only that user (and root) can write;
//   finalize   `undo.sh confirm` through the old session: with every token there, the change
//              set is "done"; without, it stays armed. The timer (or sleep) is left to run out:
//              at its time it finds the change set done and does nothing (one process fewer
//              per change than stopping it; `systemctl list-timers` shows it until then);
//   deadline   `undo.sh deadline` (the timer or the sleep): confirmed → done; else the files
//              still as the change left them go back, sshd -t, reload, "rolled-back: reverted
//              by the target: not confirmed within N s";
//   boot       sshdctl-boot.service (before ssh.service and ssh.socket) runs boot.sh, which
//              runs `undo.sh boot` for every change set still unconfirmed (the reboot ended
//              the run that made it) and ends the windows whose time passed while the host
//              was down (re-arming the others for the time left). Without systemd the init
//              script /etc/init.d/sshdctl-boot (ordered before ssh, enabled with update-rc.d
//              by the commit that writes it) runs the same boot.sh;
//   rollback, recover   the controller's own rollback (the probe failed) and the next run's
//              recovery of an interrupted change set run the same script, through one request.
// Every mode takes the target's lock (script_functions) for its own run only.
#pragma once

#include <string>
#include <vector>

#include "sshdctl/txn/journal.h"

namespace sshdctl::txn {

inline constexpr const char* kConfirmDir = "/var/lib/sshdctl/confirm";
inline constexpr const char* kBootUnit = "/etc/systemd/system/sshdctl-boot.service";
inline constexpr const char* kBootWants = "/etc/systemd/system/multi-user.target.wants/sshdctl-boot.service";
inline constexpr const char* kBootScript = "/var/lib/sshdctl/boot.sh";
inline constexpr const char* kBootInit = "/etc/init.d/sshdctl-boot";
// insserv's record of the boot order, which names kBootInit's service once it is enabled.
inline constexpr const char* kInitDepends = "/etc/init.d/.depend.start";
// In a change set's directory, from the commit's archive: the commit enables kBootInit
// (update-rc.d sshdctl-boot defaults) and says "boot enabled" or "boot failed".
inline constexpr const char* kBootEnable = "boot-enable";

// "sshdctl-deadman-ID": the timer and service of a change set's dead-man.
std::string deadman_unit(const std::string& id);

// POSIX sh functions the commit, undo and window scripts share:
//   take_lock WAIT  takes the target's lock ($L: the file /var/lib/sshdctl/lock holding
//                   "PID SINCE BOOT_ID", made with noclobber; a lock whose owner is dead or
//                   from another boot is taken over), waiting up to WAIT seconds and saying so on stderr each
//                   second (status 1: still taken, $p and $t name the holder; 2: unwritable).
//                   Needs $now (epoch seconds, for the record).
//   reload_sshd UNIT  reloads sshd's systemd unit (restarted when down). A service that runs
//                   with its socket's listening fd (UNIT's .socket active: Debian's Accept=no
//                   ssh.socket) is restarted instead, its start limit flushed first: on SIGHUP
//                   that sshd re-executes without the socket and exits. A .socket: nothing to
//                   do (the next connection starts sshd with the files).
//   sshd_t [ARG...] sshd -t ARG..., with the privilege separation directory it needs made
//                   for the check when missing; sshd's words in $said.
std::string script_functions();

// The dead-man script of `set` (ID/undo.sh): `sh undo.sh MODE [WHY]`, MODE one of deadline,
// boot, rollback, recover, confirm (see above). After an undo at the deadline sshd is reloaded
// (restarted when it is down): `reload_unit` if given, else ssh.service or sshd.service,
// whichever is enabled or running (neither, as under socket activation: nothing to reload);
// without systemd, SIGHUP to the pid in /run/sshd.pid, or when no sshd runs (the new files
// made it exit), `/etc/init.d/ssh start` (Debian's) or `/etc/init.d/sshd start`.
// `timeout_s`: the confirm timeout, for the journal's words. Exits: 0 done (its last line
// says what: "confirmed", "reverted N", "nothing: STATE"), 3 not confirmed (confirm mode),
// 10 "drift PATH" (a file changed since: left alone), 11 sshd -t refused the old files (the
// new ones stay), 12 "locked PID SINCE".
// `state_dir`: where the journal, lock and tokens are (the tests' own directory).
std::string undo_script(const ChangeSet& set, const std::string& reload_unit, long timeout_s,
                        const std::vector<std::string>& tokens, const std::string& state_dir = "/var/lib/sshdctl");

// What a probe's fresh login runs to confirm: leaves TOKEN/ok (works in sh, bash, zsh, csh
// and fish; no process of its own).
std::string confirm_command(const std::string& token);

// A fresh random token (hex).
std::string new_token();

// The boot unit (kBootUnit), its script (kBootScript), and the init script that runs it on a
// host without systemd (kBootInit: LSB headers, X-Start-Before ssh sshd).
std::string boot_unit();
std::string boot_script();
std::string boot_init_script();

}  // namespace sshdctl::txn

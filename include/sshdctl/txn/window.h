// Maintenance windows: a change that reverts itself on the target when its time is up,
// through a transient systemd timer that runs a shell script kept in the journal (the target
// needs sh, coreutils, sshd and systemctl, nothing of sshdctl).
#pragma once

#include <string>

#include "sshdctl/txn/journal.h"

namespace sshdctl::txn {

// "sshdctl-window-ID": the timer and service units of a change set's window.
std::string window_unit(const std::string& id);

// The script the timer runs: if the change set is still "done" and every file still as the
// change left it, a new change set is recorded, the before-images are put back (temp file,
// rename), sshd -t must accept them (else the change comes back), `reload_unit` is reloaded
// (none: socket activation) and the change set is marked reverted.
std::string revert_script(const ChangeSet& set, const std::string& reload_unit);

}  // namespace sshdctl::txn

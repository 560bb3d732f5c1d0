// Ctrl-C (SIGINT) and SIGTERM during a run: the run ends at once and says what the target is
// left with, as the transaction last told it (txn::Context::on_phase): before the commit
// nothing was changed; after it, the target's dead-man undoes the change unless a fresh login
// confirmed it. The target's steps ignore the signal's end of the connection (see commit.cpp).
#pragma once

#include <string>

namespace sshdctl::cli {

void install_interrupt_handler();
// What an interrupt now would leave ("HOST: before the commit: nothing was changed").
void set_interrupt_note(const std::string& note);

}  // namespace sshdctl::cli

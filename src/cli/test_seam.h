// THE TEST SEAM: the only place where sshdctl reads fault-injection settings, and only from
// the environment of a test. It turns them into a txn::FaultHook; production runs, which set
// none of these variables, get no hook at all.
//   SSHDCTL_TEST_KILL_AT=K|STEP   the K-th fault point reached (or the point named STEP) ends
//                                 the process with SIGKILL, as a crash there would (the
//                                 kill-point tests walk every K)
//   SSHDCTL_TEST_SIGNAL_AT=STEP:SIG  at fault point STEP the process sends itself SIG (INT or
//                                 TERM), as an operator's Ctrl-C there would
//   SSHDCTL_TEST_RUN_AT=STEP:CMD  at fault point STEP (e.g. "planned"), run CMD with /bin/sh
//                                 on this machine and go on (edit a target's file meanwhile,
//                                 cut the path)
// The points, in order: snapshot, locked, planned, committed (applied in-process), reloaded,
// probed, confirmed (see txn/transaction.cpp).
#pragma once

#include <memory>

#include "sshdctl/txn/transaction.h"

namespace sshdctl::cli {

// nullptr when no test setting is present.
std::unique_ptr<txn::FaultHook> test_fault_hook();

}  // namespace sshdctl::cli

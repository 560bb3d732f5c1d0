// Small filesystem helpers of this machine (never of a target: those go through Host).
#pragma once

#include <string>

namespace sshdctl {

// A fresh directory only we can use (mode 0700) under $TMPDIR or /tmp, named PREFIX.XXXXXX.
std::string make_private_dir(const std::string& prefix);

}  // namespace sshdctl

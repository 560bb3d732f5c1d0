// One policy for every OpenSSH release a fleet runs: what each release accepts (keywords,
// their spellings, algorithm names), and a plan fitted to the release of its target before
// anything is written.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sshdctl/config/catalog.h"
#include "sshdctl/config/plan.h"

namespace sshdctl::config {

// The algorithm lists whose names come and go with releases.
enum class Algorithms { kCipher, kMac, kKex, kKey };

// Which names a keyword's list takes (Ciphers: kCipher, …); nothing for other keywords.
std::optional<Algorithms> algorithms_of(const Keyword& keyword);
// Every name `version` accepts for `kind`, in `ssh -Q` order.
std::vector<std::string> algorithms_for(Algorithms kind, OpenSshVersion version);

// Why sshd `version` would refuse `values` for `keyword` (unknown keyword there, an algorithm
// name it does not know), naming what it accepts instead; nothing when it accepts them (or
// when the version is unknown: sshd -t judges then).
std::optional<std::string> version_problem(const Keyword& keyword, const std::vector<std::string>& values,
                                           OpenSshVersion version);

// Fits a plan to the target's release: every keyword it writes is spelt as that sshd spells it
// (a note says so when that is an older name), and a keyword or value that release does not
// accept is refused before anything is written: Error(kBadInput) naming `host`, the release
// and what it accepts.
void fit_to_version(Plan& plan, OpenSshVersion version, const std::string& host);

// A version condition of a policy: comparisons joined by commas, all of which must hold
// (">= 8.5", "< 9.0", ">= 8.5, < 9.9", "9.2"). Throws Error(kBadInput) when malformed.
struct VersionCondition {
  struct Term {
    std::string op;  // "<", "<=", ">", ">=", "=="
    OpenSshVersion version;
  };
  std::vector<Term> terms;
  std::string text;
  [[nodiscard]] bool holds(OpenSshVersion v) const;
};
VersionCondition parse_version_condition(std::string_view text);

}  // namespace sshdctl::config

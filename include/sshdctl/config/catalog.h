// What sshd accepts: every keyword of OpenSSH 9.x with its value grammar, how repeated
// lines combine, whether it is allowed inside Match, and how the lens shapes its value.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sshdctl::config {

enum class Combine {
  kFirstWins,     // the first value obtained is used (sshd_config(5))
  kAccumulate,    // every line adds values (Port, ListenAddress, HostKey, AcceptEnv, Allow/Deny…)
  kPerSubsystem,  // Subsystem: the first line for each subsystem name wins
};

enum class Grammar {
  kAny,      // free text (paths, patterns, commands)
  kYesNo,    // yes | no
  kEnum,     // one of `choices`
  kInteger,  // a non-negative integer within [min, max]
  kTime,     // sshd time format: 30, 2m, 1h30m
  kList,     // one or more words
};

enum class Shape {
  kScalar,     // value is the raw rest of the line
  kSpaceList,  // children 1..n, one word each
  kCommaList,  // children 1..n, one comma-separated item each
  kSubsystem,  // one child named after the subsystem, value = command
};

struct Keyword {
  std::string_view name;  // canonical spelling, as in sshd_config(5)
  Grammar grammar = Grammar::kAny;
  Combine combine = Combine::kFirstWins;
  Shape shape = Shape::kScalar;
  bool match_allowed = false;
  bool deprecated = false;
  std::vector<std::string_view> choices;  // for kEnum (compared case-insensitively)
  long min = 0;
  long max = 0;
};

// Case-insensitive lookup; nullptr when sshd does not know the keyword.
const Keyword* find_keyword(std::string_view name);
// The known keyword closest to a misspelling, for "did you mean" hints.
std::optional<std::string_view> closest_keyword(std::string_view name);
const std::vector<Keyword>& all_keywords();

// Checks `values` against the keyword's grammar; returns an error message naming the
// allowed values, or nothing when valid.
std::optional<std::string> check_value(const Keyword& keyword, const std::vector<std::string>& values);

}  // namespace sshdctl::config

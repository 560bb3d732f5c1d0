// What sshd accepts: every keyword of OpenSSH 8.4 to 10.x with its value grammar, how repeated
// lines combine, whether it is allowed inside Match, how the lens shapes its value, and which
// OpenSSH versions know it (and under which spelling).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sshdctl::config {

enum class Combine {
  kFirstWins,      // the first value obtained is used (sshd_config(5))
  kAccumulate,     // every line adds values (Port, ListenAddress, HostKey, AcceptEnv, Allow/Deny…)
  kPerSubsystem,   // Subsystem: the first line for each subsystem name wins
  kLastWins,       // every line overrides the one before (sshd's parser assigns these without
                   // asking whether a value was set: FingerprintHash, IPQoS, MaxStartups, …)
  kNoneOverrides,  // the first value wins, but a "none" line overrides every value before it and
                   // no later value overrides it (servconf.c assigns "none" unconditionally, a
                   // time only while unset: UnusedConnectionTimeout)
  kFirstPerPart,   // each of the two parts is taken from the first line that gives it (RekeyLimit:
                   // the amount from the first line, the interval from the first line with one;
                   // an interval "none" gives none)
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

// An OpenSSH release as its banner or `sshd -V` names it ("OpenSSH_9.2p1" is 9.2). 0.0: unknown.
struct OpenSshVersion {
  int major = 0;
  int minor = 0;
  [[nodiscard]] bool known() const { return major > 0; }
  friend bool operator==(const OpenSshVersion& a, const OpenSshVersion& b) {
    return a.major == b.major && a.minor == b.minor;
  }
  friend bool operator<(const OpenSshVersion& a, const OpenSshVersion& b) {
    return a.major != b.major ? a.major < b.major : a.minor < b.minor;
  }
  friend bool operator<=(const OpenSshVersion& a, const OpenSshVersion& b) { return !(b < a); }
};
// "9.2" (or "unknown").
std::string to_string(OpenSshVersion v);
// The first "OpenSSH_X.Y" (or a bare "X.Y") in `text`: a banner, `sshd -V` output, "9.2".
OpenSshVersion parse_openssh_version(std::string_view text);

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
  // The versions that know `name`: from `since` (0.0: every supported one, 8.4 and later) up to,
  // not including, `until` (0.0: still known). Before `since`, a renamed keyword was spelt
  // `old_name` (PubkeyAcceptedAlgorithms was PubkeyAcceptedKeyTypes before 8.5).
  OpenSshVersion since{};
  OpenSshVersion until{};
  std::string_view old_name{};
};

// Keywords whose value is the rest of the line, '#' and all (servconf.c takes the text after
// the keyword as it is): ForceCommand, VersionAddendum, AuthorizedKeysCommand,
// AuthorizedPrincipalsCommand. A trailing "# …" there is part of the value, not a comment.
bool takes_rest_of_line(std::string_view keyword);

// Case-insensitive lookup; nullptr when sshd does not know the keyword.
const Keyword* find_keyword(std::string_view name);
// The known keyword closest to a misspelling, for "did you mean" hints.
std::optional<std::string_view> closest_keyword(std::string_view name);
const std::vector<Keyword>& all_keywords();

// Whether release `v` falls in [since, until) (0.0 bounds: open); an unknown `v` is in.
bool in_releases(OpenSshVersion since, OpenSshVersion until, OpenSshVersion v);

// How sshd `version` spells the keyword: its name, the old name before a rename, or nothing
// when that version does not know it. An unknown version answers the current name.
std::optional<std::string_view> spelling_for(const Keyword& keyword, OpenSshVersion version);

// The name sshd -T prints the keyword under on that release (lower case; pubkeyacceptedkeytypes
// before 8.5); empty when that release does not know it.
std::string sshd_t_name(const Keyword& keyword, OpenSshVersion version);

// Checks `values` against the keyword's grammar; returns an error message naming the
// allowed values, or nothing when valid.
std::optional<std::string> check_value(const Keyword& keyword, const std::vector<std::string>& values);

}  // namespace sshdctl::config

// Effective values: sshd's first-value-wins (or accumulation) over the flattened
// configuration, with Match blocks evaluated for a connection.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sshdctl/config/catalog.h"
#include "sshdctl/config/match.h"
#include "sshdctl/config/model.h"

namespace sshdctl::config {

// Which option a line sets: the catalog entry (aliases resolved) and, for Subsystem, the name.
struct OptionKey {
  const Keyword* keyword = nullptr;
  std::string subsystem;  // subsystem name (case-sensitive, as sshd compares it), only for Subsystem
};

// The canonical catalog entry for a keyword as written, resolving old aliases
// (ChallengeResponseAuthentication is KbdInteractiveAuthentication, …); nullptr if unknown.
const Keyword* option_of(std::string_view written);
bool sets_option(const Entry& entry, const OptionKey& key);

// The value words a line contributes (Subsystem: the command, without the name; a
// rest-of-line keyword read from a file: one word, the rest of the line as sshd keeps it).
std::vector<std::string> option_values(const Entry& entry, const OptionKey& key);
// The same for the words of a line as the operator gives them (KEY's words after the keyword).
std::vector<std::string> value_words(const OptionKey& key, const std::vector<std::string>& words);

// Equal values for a keyword (case-insensitive for yes/no and enumerations, quotes ignored).
bool same_values(const Keyword& keyword, const std::vector<std::string>& a, const std::vector<std::string>& b);
// Does a line of `values` override the lines before it that set the keyword (kLastWins, and a
// "none" of kNoneOverrides)?
bool overrides_earlier(const Keyword& keyword, const std::vector<std::string>& values);

struct Effective {
  std::vector<std::string> values;      // empty: sshd's built-in default applies
  std::vector<const Entry*> sources;    // the lines the values come from
  std::vector<const Entry*> ignored;    // lines for this option that lose to `sources`
  bool from_match = false;              // the value comes from a Match block
  std::vector<const Entry*> uncertain;  // Match lines that apply to some connections only
};

// How Match blocks whose answer depends on unknown connection details are treated.
enum class Unknown {
  kIgnore,  // as not matching (what is certain); they are listed in `uncertain`
  kAssume,  // as matching (pessimistic: "could this override?")
};

// The value sshd uses without a connection (what `sshd -T` prints without -C): the lines
// outside Match blocks, unless a `Match all` block sets it (that block's value wins).
Effective resolve_global(const Model& model, const OptionKey& key);

// The value for a connection (what `sshd -T -C ...` prints): the first value from a
// matching Match block wins over the global one.
Effective resolve_for(const Model& model, const OptionKey& key, const Connection& conn, Unknown unknown);

// Every line that may decide `key` for a connection whose unknown details could be anything:
// the Match lines that may apply, up to and including the first one that certainly applies
// (all of them for a keyword whose last line wins);
// `global` says whether the global value (or sshd's default) may decide too.
struct Deciders {
  std::vector<const Entry*> lines;
  bool global = true;
};
Deciders possible_deciders(const Model& model, const OptionKey& key, const Connection& conn,
                           const std::function<bool(const Entry&)>& skip = {});
// True when whatever the unknown details are, sshd uses `value` (`fallback`: sshd's default).
bool certainly(const Model& model, const OptionKey& key, const Connection& conn, const std::string& value,
               const std::string& fallback);

// What sshd listens on, as systemd ListenStream= values: each ListenAddress (with its own
// port, or with every Port), else every Port on all addresses. Port defaults to 22.
std::vector<std::string> listen_streams(const Model& model);

// True for contexts sshd applies during its initial parse (outside Match, or `Match all`).
bool is_baseline_context(const Model& model, int context);

}  // namespace sshdctl::config

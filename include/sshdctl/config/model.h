// The sshd configuration as sshd reads it: each file's lines (as the lens parsed them),
// and the flattened sequence sshd processes after expanding Include in place.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sshdctl::config {

// One keyword line.
struct Directive {
  std::string keyword;            // as written
  std::vector<std::string> args;  // words (quotes kept); Subsystem: {name, command words...}
  std::string path;               // Augeas path of the node (empty for lines not yet written)
  int line = 0;                   // 1-based; 0 for lines not yet written
  // For the keywords sshd takes the rest of the line for (takes_rest_of_line): that rest as
  // sshd keeps it (inner tabs, quotes and " #" kept); empty for lines not read from a file.
  std::string raw;
};

struct Criterion {
  std::string name;      // as written (User, Group, Host, Address, LocalAddress, LocalPort, RDomain, all, …)
  std::string patterns;  // raw pattern list ("root,!admin"), empty for "all"
};

struct MatchBlock {
  std::vector<Criterion> criteria;
  std::vector<Directive> settings;
  std::string path;  // Augeas path of the Match node
  int line = 0;

  [[nodiscard]] bool is_all() const;
  // "User root Address 10.0.0.0/8"
  [[nodiscard]] std::string condition_text() const;
};

// A parsed file: global lines, then Match blocks (sshd ends a block only at the next Match
// or at the end of the file, so nothing global follows the first Match).
struct FileTree {
  std::string file;  // path on the target
  std::vector<Directive> global;
  std::vector<MatchBlock> blocks;
};

// A block context in the flattened order; `parent` links an Include inside a Match to the
// Match blocks of the included file (sshd requires both to match).
struct Context {
  const MatchBlock* block = nullptr;
  std::string file;
  int parent = -1;
};

struct Entry {
  const Directive* directive = nullptr;
  std::string file;
  int context = -1;  // index into Model::contexts, -1 = global
};

struct Model {
  std::string main_file;
  std::vector<std::string> files;      // every file read, in the order sshd reads them
  std::vector<const FileTree*> trees;  // the parsed tree of each entry of `files`
  std::vector<Entry> entries;          // every keyword line, in sshd's processing order
  std::vector<Context> contexts;
};

// Expands one Include pattern into target paths, sorted lexically (sshd uses glob(3)).
using IncludeExpander = std::function<std::vector<std::string>(const std::string& pattern)>;
// Returns the parsed tree of a target path (already loaded), or nullptr.
using TreeLookup = std::function<const FileTree*(const std::string& path)>;

// Resolves a pattern of an Include line: relative patterns are under /etc/ssh.
std::string include_pattern_path(const std::string& pattern);

// Flattens the Include tree starting at `main_file` exactly as sshd processes it.
// The trees must outlive the model. Throws Error on Include recursion deeper than sshd allows.
Model flatten(const std::string& main_file, const TreeLookup& lookup, const IncludeExpander& expand);

}  // namespace sshdctl::config

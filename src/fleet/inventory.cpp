#include "sshdctl/fleet/inventory.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <regex>
#include <set>
#include <system_error>
#include <utility>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"

namespace sshdctl::fleet {

namespace {

constexpr const char* kAll = "all";
constexpr const char* kUngrouped = "ungrouped";
constexpr const char* kCommandLine = "command line";
// A host range may not expand to more names than this (a typo like [0:9999999] stops here).
constexpr long kMaxRange = 65536;

// A variable's text and the line that set it (0: no line, e.g. the command line).
struct Var {
  std::string value;
  int line = 0;
};
using Vars = std::map<std::string, Var>;

struct HostEntry {
  int line = 0;                     // where the host first appears
  Vars vars;                        // its own variables, later lines win
  std::vector<std::string> groups;  // the groups that list it directly
};

struct GroupEntry {
  Vars vars;
  std::vector<std::string> children;
  std::vector<std::string> parents;  // none: a child of "all" only
};

bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// Collects groups and hosts as a parser meets them, then resolves membership and variables.
class Builder {
 public:
  explicit Builder(std::string source) : source_(std::move(source)) {
    group(kAll);
    group(kUngrouped);
  }

  [[nodiscard]] const std::string& source() const { return source_; }

  [[noreturn]] void fail(int line, const std::string& why) const {
    throw Error(ErrorKind::kBadInput, why, Location{{}, source_, line});
  }

  GroupEntry& group(const std::string& name) {
    auto [it, added] = groups_.try_emplace(name);
    if (added) group_order_.push_back(name);
    return it->second;
  }

  void add_host(const std::string& name, const std::string& in_group, int line) {
    auto [it, added] = hosts_.try_emplace(name);
    if (added) {
      it->second.line = line;
      host_order_.push_back(name);
    }
    group(in_group);
    auto& member_of = it->second.groups;
    if (std::find(member_of.begin(), member_of.end(), in_group) == member_of.end()) member_of.push_back(in_group);
  }

  void set_host_var(const std::string& host, const std::string& key, std::string value, int line) {
    hosts_.at(host).vars[key] = Var{std::move(value), line};
  }

  void set_group_var(const std::string& name, const std::string& key, std::string value, int line) {
    group(name).vars[key] = Var{std::move(value), line};
  }

  // PARENT gains CHILD; an edge that would close a loop is an error at LINE.
  void add_child(const std::string& parent, const std::string& child, int line) {
    group(parent);
    auto& entry = group(child);
    if (child == kAll) fail(line, "group 'all' cannot be a child of '" + parent + "' (every group is in 'all')");
    if (child == parent || reaches(child, parent))
      fail(line, "group '" + child + "' as a child of '" + parent + "' makes a loop (" + parent + " is already in " +
                     child + ")");
    auto& children = groups_.at(parent).children;
    if (std::find(children.begin(), children.end(), child) != children.end()) return;
    children.push_back(child);
    if (parent != kAll) entry.parents.push_back(parent);
  }

  [[nodiscard]] Inventory finish() const;

 private:
  // Whether TO is FROM or one of its descendants.
  [[nodiscard]] bool reaches(const std::string& from, const std::string& to) const {
    if (from == to) return true;
    const auto it = groups_.find(from);
    if (it == groups_.end()) return false;
    return std::any_of(it->second.children.begin(), it->second.children.end(),
                       [&](const std::string& child) { return reaches(child, to); });
  }

  // "all" is 0, a group in no other group 1, any other one more than its deepest parent.
  int depth(const std::string& name, std::map<std::string, int>& memo) const {
    if (name == kAll) return 0;
    if (const auto it = memo.find(name); it != memo.end()) return it->second;
    int deepest = 0;
    for (const auto& parent : groups_.at(name).parents) deepest = std::max(deepest, depth(parent, memo));
    return memo[name] = deepest + 1;
  }

  void add_ancestors(const std::string& name, std::set<std::string>& into) const {
    if (!into.insert(name).second) return;
    for (const auto& parent : groups_.at(name).parents) add_ancestors(parent, into);
  }

  [[nodiscard]] InventoryHost resolve(const std::string& name, const std::set<std::string>& member_of,
                                      std::map<std::string, int>& depths) const;

  std::string source_;
  std::map<std::string, GroupEntry> groups_;
  std::vector<std::string> group_order_;
  std::map<std::string, HostEntry> hosts_;
  std::vector<std::string> host_order_;
};

std::string expand_home(const std::string& path) {
  const char* home = std::getenv("HOME");
  if (path.rfind("~/", 0) != 0 || home == nullptr || *home == '\0') return path;
  return std::string(home) + path.substr(1);
}

InventoryHost Builder::resolve(const std::string& name, const std::set<std::string>& member_of,
                               std::map<std::string, int>& depths) const {
  // Group variables from the shallowest group to the deepest, equal depths by name (the later
  // name wins), then the host's own: Ansible's order without ansible_group_priority.
  std::vector<std::pair<int, std::string>> order;
  order.reserve(member_of.size());
  for (const auto& g : member_of) order.emplace_back(depth(g, depths), g);
  std::sort(order.begin(), order.end());
  Vars merged;
  for (const auto& [d, g] : order)
    for (const auto& [key, var] : groups_.at(g).vars) merged[key] = var;
  const HostEntry& entry = hosts_.at(name);
  for (const auto& [key, var] : entry.vars) merged[key] = var;

  InventoryHost host;
  host.name = name;
  host.source = entry.line > 0 ? source_ + ":" + std::to_string(entry.line) : source_;
  for (const auto& [key, var] : merged) host.vars[key] = var.value;
  const auto first_of = [&](std::initializer_list<const char*> keys) -> const Var* {
    for (const char* key : keys)
      if (const auto it = merged.find(key); it != merged.end()) return &it->second;
    return nullptr;
  };

  const Var* address = first_of({"ansible_host", "ansible_ssh_host"});
  host.address = address != nullptr && !address->value.empty() ? address->value : name;
  if (const Var* port = first_of({"ansible_port", "ansible_ssh_port"})) {
    const long value = is_digits(port->value) && port->value.size() <= 5 ? std::stol(port->value) : 0;
    if (value < 1 || value > 65535)
      fail(port->line, "host " + name + ": ansible_port '" + port->value + "' is not a port number (1-65535)");
    host.port = static_cast<int>(value);
  }
  if (const Var* user = first_of({"ansible_user", "ansible_ssh_user"})) host.user = user->value;
  if (const Var* key = first_of({"ansible_ssh_private_key_file", "ansible_private_key_file"}))
    host.identity = expand_home(key->value);
  if (const Var* become = first_of({"ansible_become"})) {
    const std::string word = text::lower(become->value);
    if (word == "true" || word == "yes" || word == "on" || word == "1" || word == "y" || word == "t") {
      host.become = true;
    } else if (word == "false" || word == "no" || word == "off" || word == "0" || word == "n" || word == "f") {
      host.become = false;
    } else {
      fail(become->line, "host " + name + ": ansible_become '" + become->value + "' is not a boolean (true or false)");
    }
  }
  for (const auto& g : member_of)
    if (g != kAll) host.groups.push_back(g);
  host.groups.emplace_back(kAll);
  return host;
}

Inventory Builder::finish() const {
  Inventory inventory;
  inventory.source = source_;
  std::map<std::string, int> depths;
  std::map<std::string, std::set<std::string>> membership;
  for (const auto& name : host_order_) {
    std::set<std::string> member_of{kAll};
    for (const auto& g : hosts_.at(name).groups)
      if (g != kAll && g != kUngrouped) add_ancestors(g, member_of);
    // As in Ansible, "ungrouped" holds exactly the hosts that no other group holds.
    if (member_of.size() == 1) member_of.insert(kUngrouped);
    inventory.hosts.push_back(resolve(name, member_of, depths));
    membership[name] = std::move(member_of);
  }
  for (const auto& g : group_order_) {
    auto& names = inventory.groups[g];
    for (const auto& name : host_order_)
      if (membership[name].count(g) != 0) names.push_back(name);
  }
  if (inventory.groups[kUngrouped].empty()) inventory.groups.erase(kUngrouped);
  return inventory;
}

// ---------------------------------------------------------------------------------------------
// Host patterns: "web[01:03].example.com:2222" → names and a port.

// Expands the first [begin:end(:step)] range of PATTERN and, recursively, the rest.
void expand_ranges(const Builder& b, int line, const std::string& pattern, std::vector<std::string>& out) {
  const auto open = pattern.find('[');
  if (open == std::string::npos) {
    if (pattern.find(']') != std::string::npos) b.fail(line, "host '" + pattern + "': ']' without '['");
    if (out.size() >= static_cast<std::size_t>(kMaxRange))
      b.fail(line, "a host pattern expands to more than " + std::to_string(kMaxRange) + " names");
    out.push_back(pattern);
    return;
  }
  const auto close = pattern.find(']', open);
  if (close == std::string::npos) b.fail(line, "host range in '" + pattern + "' has no closing ']'");
  const std::string head = pattern.substr(0, open);
  const std::string tail = pattern.substr(close + 1);
  const auto bounds = text::split(pattern.substr(open + 1, close - open - 1), ':');
  const auto bad = [&](const std::string& why) {
    b.fail(line, "bad host range '" + pattern.substr(open, close - open + 1) + "' in '" + pattern + "': " + why);
  };
  if (bounds.size() != 2 && bounds.size() != 3) bad("expected [begin:end] or [begin:end:step]");
  const std::string begin = bounds[0].empty() ? "0" : bounds[0];
  const std::string& end = bounds[1];
  if (end.empty()) bad("no end value");
  long step = 1;
  if (bounds.size() == 3) {
    step = is_digits(bounds[2]) && bounds[2].size() <= 6 ? std::stol(bounds[2]) : 0;
    if (step == 0) bad("the step must be a positive number");
  }

  std::vector<std::string> items;
  const auto letter = [](const std::string& s) {
    return s.size() == 1 && std::isalpha(static_cast<unsigned char>(s[0]));
  };
  if (letter(begin) && letter(end)) {
    // Ansible's letter order: a..z then A..Z.
    const auto rank = [](char c) { return std::islower(static_cast<unsigned char>(c)) ? c - 'a' : c - 'A' + 26; };
    const int first = rank(begin[0]);
    const int last = rank(end[0]);
    if (first > last) bad("the begin is after the end");
    for (long i = first; i <= last; i += step)
      items.emplace_back(1, static_cast<char>(i < 26 ? 'a' + i : 'A' + (i - 26)));
  } else if (is_digits(begin) && is_digits(end) && begin.size() <= 9 && end.size() <= 9) {
    const bool padded = begin.size() > 1 && begin[0] == '0';
    if (padded && begin.size() != end.size()) bad("a zero-padded begin and the end must have the same width");
    const long first = std::stol(begin);
    const long last = std::stol(end);
    if (first > last) bad("the begin is after the end");
    if ((last - first) / step >= kMaxRange) bad("more than " + std::to_string(kMaxRange) + " names");
    for (long i = first; i <= last; i += step) {
      std::string number = std::to_string(i);
      if (padded && number.size() < begin.size()) number.insert(0, begin.size() - number.size(), '0');
      items.push_back(std::move(number));
    }
  } else {
    bad("the bounds must be two numbers or two letters");
  }
  for (const auto& item : items) expand_ranges(b, line, head + item + tail, out);
}

// The port after "host:": digits (their range is checked with the other ansible_port values).
void check_port_text(const Builder& b, int line, const std::string& item, const std::string& port) {
  if (!is_digits(port))
    b.fail(line, "host '" + item + "': the text after ':' must be a port number (1-65535), got '" + port + "'");
}

struct HostPattern {
  std::vector<std::string> names;
  std::optional<std::string> port;
};

// "name", "name:PORT", with [a:b] ranges in the name (a ':' inside brackets is not a port).
HostPattern parse_host_pattern(const Builder& b, int line, const std::string& pattern) {
  HostPattern out;
  std::string name = pattern;
  int depth = 0;
  std::size_t colon = std::string::npos;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '[') ++depth;
    if (pattern[i] == ']') --depth;
    if (pattern[i] == ':' && depth == 0) colon = i;
  }
  if (colon != std::string::npos) {
    name = pattern.substr(0, colon);
    out.port = pattern.substr(colon + 1);
    if (out.port->empty()) b.fail(line, "host '" + pattern + "' ends in ':' (a ':' must be followed by a port)");
    check_port_text(b, line, pattern, *out.port);
  }
  if (name.empty()) b.fail(line, "a host with no name");
  expand_ranges(b, line, name, out.names);
  return out;
}

// ---------------------------------------------------------------------------------------------
// INI

// Splits a host line the way a POSIX shell splits words: blanks separate, '…' and "…" quote,
// a backslash escapes, and a '#' outside quotes ends the line. nullopt: an unclosed quote.
std::optional<std::vector<std::string>> shell_words(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == '\r') {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
    } else if (c == '#') {
      break;
    } else if (c == '\'' || c == '"') {
      const auto end = line.find(c, i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      for (std::size_t k = i + 1; k < end; ++k) {
        if (c == '"' && line[k] == '\\' && k + 1 < end && (line[k + 1] == '"' || line[k + 1] == '\\')) ++k;
        word += line[k];
      }
      in_word = true;
      i = end;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

// A [group:vars] value: a quoted string loses its quotes (and a comment after them), any other
// text is kept as written, as Ansible's literal reading does.
std::string ini_value(const std::string& raw) {
  if (raw.size() >= 2 && (raw[0] == '"' || raw[0] == '\'')) {
    const auto end = raw.find(raw[0], 1);
    if (end != std::string::npos) {
      const std::string rest = text::trim(raw.substr(end + 1));
      if (rest.empty() || rest[0] == '#') return raw.substr(1, end - 1);
    }
  }
  return raw;
}

// A group name is a word without ':', '=', '[' or ']'.
bool is_group_name(const std::string& word) {
  return !word.empty() && word.find_first_of(" \t:[]=") == std::string::npos;
}

// Drops a trailing " # comment" from a section header or a child group line.
std::string strip_comment(const std::string& line) {
  const auto hash = line.find('#');
  return hash == std::string::npos ? line : text::trim(line.substr(0, hash));
}

}  // namespace

Inventory parse_ini(const std::string& text, const std::string& source) {
  Builder b(source);
  enum class Section { kHosts, kVars, kChildren };
  std::string group = kUngrouped;
  Section section = Section::kHosts;
  std::set<std::string> declared{kAll, kUngrouped};
  // Groups only ever named in [x:vars] headers or [p:children] lists: an error at the end
  // unless a [x] or [x:children] section declares them (Ansible's rule).
  std::map<std::string, int> vars_headers;
  std::map<std::string, std::pair<int, std::string>> child_mentions;

  const auto all_lines = text::lines(text);
  for (std::size_t index = 0; index < all_lines.size(); ++index) {
    const int n = static_cast<int>(index) + 1;
    const std::string line = text::trim(all_lines[index]);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;

    if (line[0] == '[') {
      const std::string header = strip_comment(line);
      if (header.size() < 2 || header.back() != ']')
        b.fail(n, "bad section header '" + line + "' (expected [group], [group:vars] or [group:children])");
      const std::string inner = header.substr(1, header.size() - 2);
      const auto colon = inner.find(':');
      group = inner.substr(0, colon);
      const std::string kind = colon == std::string::npos ? "" : inner.substr(colon + 1);
      if (!is_group_name(group))
        b.fail(n, "bad section header '" + header + "': the group name must be a word without ':', '[' or ']'");
      if (colon == std::string::npos || kind == "hosts") {
        section = Section::kHosts;
      } else if (kind == "vars") {
        section = Section::kVars;
      } else if (kind == "children") {
        section = Section::kChildren;
      } else {
        b.fail(n, "section " + header + " has an unknown type '" + kind + "' (expected hosts, vars or children)");
      }
      b.group(group);
      if (section == Section::kVars) {
        if (declared.count(group) == 0) vars_headers.try_emplace(group, n);
      } else {
        declared.insert(group);
      }
      continue;
    }

    switch (section) {
      case Section::kHosts: {
        const auto words = shell_words(line);
        if (!words) b.fail(n, "unclosed quote in host line '" + line + "'");
        if (words->empty() || words->front().empty() || words->front().find('=') != std::string::npos)
          b.fail(n, "a host with no name: a host line starts with the host, got '" + line + "'");
        std::vector<std::pair<std::string, std::string>> vars;
        for (std::size_t k = 1; k < words->size(); ++k) {
          const std::string& word = (*words)[k];
          const auto eq = word.find('=');
          if (eq == std::string::npos || eq == 0)
            b.fail(n, "expected key=value after host " + words->front() + ", got '" + word + "'");
          vars.emplace_back(word.substr(0, eq), word.substr(eq + 1));
        }
        const HostPattern parsed = parse_host_pattern(b, n, words->front());
        for (const auto& name : parsed.names) {
          b.add_host(name, group, n);
          if (parsed.port) b.set_host_var(name, "ansible_port", *parsed.port, n);
          for (const auto& [key, value] : vars) b.set_host_var(name, key, value, n);
        }
        break;
      }
      case Section::kVars: {
        const auto eq = line.find('=');
        const std::string key = eq == std::string::npos ? "" : text::trim(line.substr(0, eq));
        if (key.empty() || key.find_first_of(" \t") != std::string::npos)
          b.fail(n, "expected key=value in [" + group + ":vars], got '" + line + "'");
        b.set_group_var(group, key, ini_value(text::trim(line.substr(eq + 1))), n);
        break;
      }
      case Section::kChildren: {
        const std::string child = strip_comment(line);
        if (!is_group_name(child)) b.fail(n, "expected a group name in [" + group + ":children], got '" + line + "'");
        b.add_child(group, child, n);
        child_mentions.try_emplace(child, n, group);
        break;
      }
    }
  }

  // The first undeclared group by line.
  int bad_line = 0;
  std::string why;
  for (const auto& [name, mention] : child_mentions)
    if (declared.count(name) == 0 && (bad_line == 0 || mention.first < bad_line)) {
      bad_line = mention.first;
      why = "[" + mention.second + ":children] names group '" + name + "', which no [" + name + "] or [" + name +
            ":children] section declares";
    }
  for (const auto& [name, line] : vars_headers)
    if (declared.count(name) == 0 && (bad_line == 0 || line < bad_line)) {
      bad_line = line;
      why = "[" + name + ":vars] for group '" + name + "', which no [" + name + "] or [" + name +
            ":children] section declares";
    }
  if (bad_line > 0) b.fail(bad_line, why);
  return b.finish();
}

// ---------------------------------------------------------------------------------------------
// YAML

namespace {

int line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

// A variable's text: a scalar as written, null as "", a list or mapping in flow style.
std::string yaml_text(const YAML::Node& node) {
  if (node.IsNull()) return {};
  if (node.IsScalar()) return node.Scalar();
  YAML::Emitter out;
  out << YAML::Flow << node;
  return out.c_str();
}

std::string yaml_key(const Builder& b, const YAML::Node& key, const std::string& what) {
  if (!key.IsScalar() || key.Scalar().empty()) b.fail(line_of(key), what + " with no name");
  return key.Scalar();
}

void yaml_group(Builder& b, const std::string& name, const YAML::Node& node, int line);

void yaml_hosts(Builder& b, const std::string& group, const YAML::Node& hosts) {
  if (hosts.IsNull()) return;
  if (!hosts.IsMap())
    b.fail(line_of(hosts), "the hosts of group '" + group + "' must be a mapping (name: variables or nothing)");
  for (const auto& entry : hosts) {
    const int line = line_of(entry.first);
    const std::string pattern = yaml_key(b, entry.first, "a host in group '" + group + "'");
    const HostPattern parsed = parse_host_pattern(b, line, pattern);
    const YAML::Node& vars = entry.second;
    if (!vars.IsNull() && !vars.IsMap())
      b.fail(line_of(vars), "host " + pattern + ": its variables must be a mapping (key: value)");
    for (const auto& name : parsed.names) {
      b.add_host(name, group, line);
      if (parsed.port) b.set_host_var(name, "ansible_port", *parsed.port, line);
      if (vars.IsNull()) continue;
      for (const auto& var : vars)
        b.set_host_var(name, yaml_key(b, var.first, "a variable of host " + name), yaml_text(var.second),
                       line_of(var.first));
    }
  }
}

void yaml_group(Builder& b, const std::string& name, const YAML::Node& node, int line) {
  if (!is_group_name(name)) b.fail(line, "bad group name '" + name + "'");
  b.group(name);
  if (node.IsNull()) return;
  if (!node.IsMap()) b.fail(line_of(node), "group '" + name + "' must be a mapping with hosts, vars and children");
  for (const auto& entry : node) {
    const std::string key = yaml_key(b, entry.first, "a key of group '" + name + "'");
    const YAML::Node& value = entry.second;
    if (key == "hosts") {
      yaml_hosts(b, name, value);
    } else if (key == "vars") {
      if (value.IsNull()) continue;
      if (!value.IsMap()) b.fail(line_of(value), "the vars of group '" + name + "' must be a mapping (key: value)");
      for (const auto& var : value)
        b.set_group_var(name, yaml_key(b, var.first, "a variable of group '" + name + "'"), yaml_text(var.second),
                        line_of(var.first));
    } else if (key == "children") {
      if (value.IsNull()) continue;
      if (!value.IsMap())
        b.fail(line_of(value), "the children of group '" + name + "' must be a mapping (group: hosts, vars, children)");
      for (const auto& child : value) {
        const int child_line = line_of(child.first);
        const std::string child_name = yaml_key(b, child.first, "a child group of '" + name + "'");
        b.add_child(name, child_name, child_line);
        yaml_group(b, child_name, child.second, child_line);
      }
    } else {
      b.fail(line_of(entry.first),
             "group '" + name + "' has an unknown key '" + key + "' (a group holds hosts, vars and children)");
    }
  }
}

}  // namespace

Inventory parse_yaml(const std::string& text, const std::string& source) {
  Builder b(source);
  try {
    const YAML::Node root = YAML::Load(text);
    if (root.IsNull()) b.fail(0, "the YAML inventory is empty");
    if (!root.IsMap()) b.fail(line_of(root), "a YAML inventory is a mapping of groups (all: hosts, vars, children)");
    for (const auto& entry : root) {
      const int line = line_of(entry.first);
      yaml_group(b, yaml_key(b, entry.first, "a top-level group"), entry.second, line);
    }
  } catch (const YAML::Exception& e) {
    b.fail(e.mark.is_null() ? 0 : e.mark.line + 1, e.msg);
  }
  return b.finish();
}

// ---------------------------------------------------------------------------------------------
// Files and comma lists

namespace {

std::string read_inventory(const std::string& path) {
  const auto fail = [&](int error) {
    throw Error(error == ENOENT ? ErrorKind::kNotFound : ErrorKind::kBadInput,
                "cannot read inventory " + path + ": " + std::strerror(error));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(errno);
  std::string content;
  char buffer[8192];
  while (true) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      const int error = errno;
      ::close(fd);
      fail(error);
    }
    if (got == 0) break;
    content.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return content;
}

// YAML when no line is an INI section header ("[" in the first column, "]" at the end) and the
// first line that is neither blank nor a comment starts a YAML document: "---", "%YAML", "{",
// "all:" with anything after it, or any "key:" with nothing (but a comment) after it.
bool looks_like_yaml(const std::string& content) {
  static const std::regex kBareKey(R"(^[^\s:#\[\]=]+:\s*(#.*)?$)");
  std::string first;
  for (const auto& raw : text::lines(content)) {
    const std::string line = text::trim(raw);
    if (!raw.empty() && raw[0] == '[' && strip_comment(line).back() == ']') return false;
    if (first.empty() && !line.empty() && line[0] != '#' && line[0] != ';') first = line;
  }
  return first.rfind("---", 0) == 0 || first.rfind("%YAML", 0) == 0 || first.rfind('{', 0) == 0 ||
         first.rfind("all:", 0) == 0 || std::regex_match(first, kBareKey);
}

Inventory parse_list(const std::string& spec) {
  Builder b(kCommandLine);
  for (const auto& part : text::split(spec, ',')) {
    const std::string item = text::trim(part);
    if (item.empty()) continue;
    std::string name = item;
    const auto colon = item.rfind(':');
    if (colon != std::string::npos) {
      name = item.substr(0, colon);
      const std::string port = item.substr(colon + 1);
      check_port_text(b, 0, item, port);
      if (name.empty()) b.fail(0, "a host with no name ('" + item + "')");
      b.add_host(name, kUngrouped, 0);
      b.set_host_var(name, "ansible_port", port, 0);
    } else {
      b.add_host(name, kUngrouped, 0);
    }
  }
  return b.finish();
}

}  // namespace

Inventory load_inventory(const std::string& spec) {
  std::error_code ignored;
  if (spec.find(',') != std::string::npos && !std::filesystem::exists(spec, ignored)) return parse_list(spec);
  const std::string content = read_inventory(spec);
  return looks_like_yaml(content) ? parse_yaml(content, spec) : parse_ini(content, spec);
}

// ---------------------------------------------------------------------------------------------
// --limit

namespace {

// "a,b:c" → parts: split on ',' when there is one, else on ':' outside [..] (Ansible's rule).
std::vector<std::string> split_pattern(const std::string& pattern) {
  std::vector<std::string> raw;
  if (pattern.find(',') != std::string::npos) {
    raw = text::split(pattern, ',');
  } else {
    std::string part;
    int depth = 0;
    for (const char c : pattern) {
      if (c == '[') ++depth;
      if (c == ']' && depth > 0) --depth;
      if (c == ':' && depth == 0) {
        raw.push_back(std::move(part));
        part.clear();
      } else {
        part += c;
      }
    }
    raw.push_back(std::move(part));
  }
  std::vector<std::string> parts;
  for (const auto& part : raw)
    if (std::string trimmed = text::trim(part); !trimmed.empty()) parts.push_back(std::move(trimmed));
  return parts;
}

class Selector {
 public:
  explicit Selector(const Inventory& inventory) : inventory_(inventory) {
    for (std::size_t i = 0; i < inventory.hosts.size(); ++i) index_[inventory.hosts[i].name] = i;
  }

  // The hosts (as indexes in inventory order) one part of a pattern names, without its & or !.
  [[nodiscard]] std::vector<std::size_t> match(const std::string& part) const {
    static const std::regex kSubscript(R"(^(.+)\[(?:(-?[0-9]+)|([0-9]+):([0-9]*))\]$)");
    std::string expression = part;
    std::smatch subscript;
    const bool has_subscript = part[0] != '~' && std::regex_match(part, subscript, kSubscript);
    if (has_subscript) expression = subscript[1].str();

    std::function<bool(const std::string&)> matches;
    if (expression[0] == '~') {
      std::regex re;
      try {
        re = std::regex(expression.substr(1), std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        throw Error(ErrorKind::kBadInput, "--limit: bad regular expression '" + expression + "': " + e.what());
      }
      // Python's re.match, as Ansible uses: anchored at the start of the name, not at its end.
      matches = [re](const std::string& name) {
        return std::regex_search(name, re, std::regex_constants::match_continuous);
      };
    } else {
      matches = [expression](const std::string& name) {
        return ::fnmatch(expression.c_str(), name.c_str(), FNM_NOESCAPE) == 0;
      };
    }

    std::vector<bool> picked(inventory_.hosts.size(), false);
    std::vector<std::size_t> found;
    const auto add = [&](const std::string& name) {
      const std::size_t i = index_.at(name);
      if (!picked[i]) found.push_back(i);
      picked[i] = true;
    };
    bool any_group = false;
    for (const auto& [group, members] : inventory_.groups) {
      if (!matches(group)) continue;
      any_group = true;
      for (const auto& name : members) add(name);
    }
    // As Ansible: a plain word that names a group is that group, not also a host of that name.
    if (!any_group || expression.find_first_of("~.?*[") != std::string::npos)
      for (const auto& host : inventory_.hosts)
        if (matches(host.name)) add(host.name);
    std::sort(found.begin(), found.end());
    if (has_subscript) found = slice(found, subscript);
    return found;
  }

 private:
  // Ansible's subscripts: web[0], web[-1] (from the end), web[1:3] (inclusive), web[2:] (to the end).
  static std::vector<std::size_t> slice(const std::vector<std::size_t>& found, const std::smatch& m) {
    const auto size = static_cast<long>(found.size());
    const auto number = [&](const std::string& s) { return s.size() > 9 ? size : std::stol(s); };
    long first = 0;
    long last = 0;
    if (m[2].matched) {
      first = number(m[2].str());
      if (first < 0) first += size;
      last = first;
    } else {
      first = number(m[3].str());
      last = m[4].length() > 0 ? number(m[4].str()) : size - 1;
    }
    std::vector<std::size_t> out;
    for (long i = std::max(first, 0L); i <= std::min(last, size - 1); ++i)
      out.push_back(found[static_cast<std::size_t>(i)]);
    return out;
  }

  const Inventory& inventory_;
  std::map<std::string, std::size_t> index_;
};

}  // namespace

std::vector<InventoryHost> select_hosts(const Inventory& inventory, const std::string& pattern) {
  std::vector<std::string> plain;
  std::vector<std::string> intersect;
  std::vector<std::string> exclude;
  for (auto& part : split_pattern(pattern)) {
    if (part[0] == '&' || part[0] == '!') {
      const std::string rest = text::trim(part.substr(1));
      if (rest.empty())
        throw Error(ErrorKind::kBadInput, "--limit: '" + part + "' names nothing after '" + part[0] + "'");
      (part[0] == '&' ? intersect : exclude).push_back(rest);
    } else {
      plain.push_back(std::move(part));
    }
  }
  // As Ansible: the unions first, then the intersections, then the exclusions, whatever their
  // order in the pattern; with only & and ! parts, they apply to all hosts.
  if (plain.empty()) plain.emplace_back("*");

  const Selector selector(inventory);
  std::vector<bool> chosen(inventory.hosts.size(), false);
  for (const auto& part : plain) {
    const auto found = selector.match(part);
    if (found.empty() && part != "*" && part != kAll) {
      std::vector<std::string> names;
      for (const auto& [group, members] : inventory.groups) names.push_back(group);
      throw Error(ErrorKind::kBadInput,
                  "--limit: '" + part + "' matches no host or group (groups: " + text::join(names, ", ") + ")");
    }
    for (const std::size_t i : found) chosen[i] = true;
  }
  for (const auto& part : intersect) {
    std::vector<bool> keep(inventory.hosts.size(), false);
    for (const std::size_t i : selector.match(part)) keep[i] = true;
    for (std::size_t i = 0; i < chosen.size(); ++i) chosen[i] = chosen[i] && keep[i];
  }
  for (const auto& part : exclude)
    for (const std::size_t i : selector.match(part)) chosen[i] = false;

  std::vector<InventoryHost> out;
  for (std::size_t i = 0; i < inventory.hosts.size(); ++i)
    if (chosen[i]) out.push_back(inventory.hosts[i]);
  if (out.empty()) {
    if (text::trim(pattern).empty())
      throw Error(ErrorKind::kBadInput, "inventory " + inventory.source + " has no hosts");
    throw Error(ErrorKind::kBadInput, "--limit " + pattern + " selects no hosts");
  }
  return out;
}

}  // namespace sshdctl::fleet

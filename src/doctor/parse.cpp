// The pure parts of the diagnosis: sshd's user and group lists, shells, shadow entries, PAM
// stacks, /proc/net/tcp and firewall rule sets. No I/O here.
#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <set>

#include "sshdctl/common/text.h"
#include "sshdctl/config/match.h"
#include "sshdctl/doctor/doctor.h"

namespace sshdctl::doctor {

namespace {

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A group pattern of AllowGroups/DenyGroups as sshd's ga_match() reads it: one pattern per
// value, '*' and '?' wildcards.
const ListValue* group_hit(const std::vector<ListValue>& list, const std::vector<std::string>& groups) {
  for (const auto& value : list)
    for (const auto& group : groups)
      if (config::wildcard_match(group, value.pattern, false)) return &value;
  return nullptr;
}

std::string patterns_of(const std::vector<ListValue>& list) {
  std::vector<std::string> out;
  out.reserve(list.size());
  for (const auto& v : list) out.push_back(v.pattern);
  return text::join(out, " ");
}

// --- firewall text ---------------------------------------------------------------------------

// A port word of a rule: 22, ssh, 1-1024 (nft) or 1:1024 (iptables).
bool port_word_covers(std::string word, int port) {
  word = text::trim(word);
  while (!word.empty() && (word.back() == ',' || word.back() == '}')) word.pop_back();
  while (!word.empty() && word.front() == '{') word.erase(0, 1);
  if (word.empty()) return false;
  if (word == "ssh") return port == 22;
  const auto dash = word.find_first_of("-:");
  if (dash != std::string::npos) {
    const std::string lo = word.substr(0, dash);
    const std::string hi = word.substr(dash + 1);
    if (!all_digits(lo) || !all_digits(hi)) return false;
    return std::atoi(lo.c_str()) <= port && port <= std::atoi(hi.c_str());
  }
  return all_digits(word) && std::atoi(word.c_str()) == port;
}

// Whether the words after "dport" (at `i`) cover `port`; advances `i` past them.
bool nft_ports_cover(const std::vector<std::string>& words, std::size_t& i, int port) {
  bool negated = false;
  if (i < words.size() && words[i] == "!=") {
    negated = true;
    ++i;
  }
  bool covered = false;
  if (i < words.size() && words[i].front() == '{') {
    for (; i < words.size(); ++i) {
      if (port_word_covers(words[i], port)) covered = true;
      if (words[i].back() == '}') break;
    }
  } else if (i < words.size()) {
    covered = port_word_covers(words[i], port);
  }
  ++i;
  return negated ? !covered : covered;
}

// An address condition against the client: 1 applies, 0 does not, -1 unknown (a named set).
int address_applies(const std::string& value, bool negated, const std::string& from) {
  if (value.empty() || value.front() == '@' || value.front() == '$') return -1;
  const int r = config::address_list_match(from, value);
  const bool hit = r == 1;
  return (negated ? !hit : hit) ? 1 : 0;
}

struct RuleFacts {
  bool tcp_port = false;    // a tcp (or any-protocol) destination port condition covering `port`
  bool other_port = false;  // a destination port condition not covering it
  bool udp = false;
  int source = 1;        // 1: the source condition holds for the client (or there is none), 0: not, -1: unknown
  bool unknown = false;  // conditions that were not evaluated (interfaces, marks, …)
  std::string verdict;   // accept, drop, reject, or empty
};

RuleFacts nft_rule_facts(const std::string& rule, int port, const std::string& from) {
  RuleFacts f;
  const auto words = text::split_words(rule);
  const bool v6_client = from.find(':') != std::string::npos;
  for (std::size_t i = 0; i < words.size();) {
    const std::string& w = words[i];
    if (w == "udp") f.udp = true;
    if (w == "dport") {
      ++i;
      (nft_ports_cover(words, i, port) ? f.tcp_port : f.other_port) = true;
      continue;
    }
    if ((w == "ip" || w == "ip6") && i + 2 < words.size() && words[i + 1] == "saddr") {
      if ((w == "ip6") != v6_client) {
        f.source = 0;
        i += 3;
        continue;
      }
      std::size_t j = i + 2;
      const bool negated = words[j] == "!=";
      if (negated) ++j;
      std::string value;
      if (j < words.size() && words[j].front() == '{') {
        for (; j < words.size(); ++j) {
          std::string item = words[j];
          item.erase(std::remove_if(item.begin(), item.end(), [](char c) { return c == '{' || c == '}'; }), item.end());
          if (!item.empty()) value += (value.empty() || value.back() == ',' ? "" : ",") + item;
          if (words[j].back() == '}') break;
        }
      } else if (j < words.size()) {
        value = words[j];
      }
      const int r = address_applies(value, negated, from);
      if (r == 0) f.source = 0;
      if (r < 0 && f.source != 0) f.source = -1;
      i = j + 1;
      continue;
    }
    if (w == "iif" || w == "iifname" || w == "meta" || w == "mark" || w == "jump" || w == "goto") f.unknown = true;
    if (w == "accept" || w == "drop" || w == "reject") f.verdict = w;
    ++i;
  }
  if (f.udp) f.tcp_port = false;
  return f;
}

std::string without_handle(const std::string& line, std::string* handle) {
  const auto hash = line.find(" # handle ");
  if (hash == std::string::npos) return text::trim(line);
  if (handle != nullptr) *handle = text::trim(line.substr(hash + 10));
  return text::trim(line.substr(0, hash));
}

}  // namespace

const char* status_name(Status status) {
  switch (status) {
    case Status::kOk:
      return "ok";
    case Status::kWarn:
      return "warn";
    case Status::kFail:
      return "fail";
    case Status::kSkip:
      return "skip";
  }
  return "?";
}

bool Report::login_fails() const {
  return std::any_of(findings.begin(), findings.end(), [](const Finding& f) { return f.status == Status::kFail; });
}

bool user_pattern_matches(const std::string& pattern, const std::string& user, const std::string& host,
                          const std::string& addr) {
  const auto at = pattern.find('@');
  if (at == std::string::npos) return config::wildcard_match(user, pattern, false);
  if (!config::wildcard_match(user, pattern.substr(0, at), false)) return false;
  const std::string hosts = pattern.substr(at + 1);
  const int by_address = config::address_list_match(addr, hosts);
  if (by_address == -1) return false;
  const int by_name = config::pattern_list_match(text::lower(host), hosts, true);
  if (by_name == -1) return false;
  return by_address == 1 || by_name == 1;
}

AccessVerdict check_access(const AccessLists& lists, const std::string& user, const std::vector<std::string>& groups,
                           const std::string& host, const std::string& addr) {
  AccessVerdict v;
  for (const auto& value : lists.deny_users)
    if (user_pattern_matches(value.pattern, user, host, addr)) {
      v = {false, "DenyUsers", "DenyUsers " + value.pattern + " matches " + user + " from " + addr, &value};
      return v;
    }
  if (!lists.allow_users.empty()) {
    const bool listed = std::any_of(lists.allow_users.begin(), lists.allow_users.end(), [&](const ListValue& value) {
      return user_pattern_matches(value.pattern, user, host, addr);
    });
    if (!listed) {
      v = {false, "AllowUsers",
           "AllowUsers (" + patterns_of(lists.allow_users) + ") does not list " + user + " from " + addr, nullptr};
      return v;
    }
  }
  if (const auto* hit = group_hit(lists.deny_groups, groups)) {
    v = {false, "DenyGroups", "DenyGroups " + hit->pattern + " matches a group of " + user, hit};
    return v;
  }
  if (!lists.allow_groups.empty() && group_hit(lists.allow_groups, groups) == nullptr) {
    v = {false, "AllowGroups",
         "AllowGroups (" + patterns_of(lists.allow_groups) + ") names none of " + user + "'s groups (" +
             text::join(groups, " ") + ")",
         nullptr};
    return v;
  }
  return v;
}

std::optional<std::string> shell_problem(const std::string& shell, bool executable) {
  const std::string name = basename_of(shell);
  if (name == "nologin") return shell + " refuses every session";
  if (name == "false") return shell + " ends every session at once";
  if (!executable) return shell + " does not exist or cannot be run (sshd refuses the user)";
  return std::nullopt;
}

bool listed_in_shells(const std::string& shell, const std::string& shells) {
  for (const auto& line : text::lines(shells))
    if (text::trim(line) == shell) return true;
  return false;
}

PasswordState password_state(const accounts::ShadowEntry& e, long today) {
  if (all_digits(e.expire) && std::atol(e.expire.c_str()) <= today) return PasswordState::kAccountExpired;
  const std::string& pw = e.password;
  if (pw.empty()) return PasswordState::kEmpty;
  if (pw.front() == '!') {
    const auto first = pw.find_first_not_of('!');
    const std::string rest = first == std::string::npos ? std::string() : pw.substr(first);
    return rest.empty() || rest.front() == '*' ? PasswordState::kNone : PasswordState::kLocked;
  }
  if (pw.front() != '$') return PasswordState::kNone;  // "*", "x", "*LK*": no password at all
  if (e.lastchange == "0") return PasswordState::kMustChange;
  if (all_digits(e.max_days) && all_digits(e.lastchange) &&
      std::atol(e.lastchange.c_str()) + std::atol(e.max_days.c_str()) < today)
    return PasswordState::kPasswordExpired;
  return PasswordState::kUsable;
}

const char* password_state_text(PasswordState state) {
  switch (state) {
    case PasswordState::kUsable:
      return "usable";
    case PasswordState::kLocked:
      return "locked";
    case PasswordState::kNone:
      return "no password";
    case PasswordState::kEmpty:
      return "empty";
    case PasswordState::kAccountExpired:
      return "account expired";
    case PasswordState::kPasswordExpired:
      return "password expired";
    case PasswordState::kMustChange:
      return "must be changed";
  }
  return "?";
}

std::optional<std::string> pam_nologin_line(const std::string& service, const FileReader& read) {
  std::set<std::string> seen;
  const std::function<std::optional<std::string>(const std::string&)> scan =
      [&](const std::string& name) -> std::optional<std::string> {
    const std::string path = name.front() == '/' ? name : "/etc/pam.d/" + name;
    if (!seen.insert(path).second) return std::nullopt;
    const auto content = read(path);
    if (!content) return std::nullopt;
    const auto all = text::lines(*content);
    for (std::size_t n = 0; n < all.size(); ++n) {
      const std::string line = text::trim(all[n]);
      if (line.empty() || line.front() == '#') continue;
      const auto words = text::split_words(line);
      if (words[0] == "@include") {
        if (words.size() > 1)
          if (auto found = scan(words[1])) return found;
        continue;
      }
      if (words.size() < 3) continue;
      std::size_t i = 1;
      std::string control = words[i];
      if (control.front() == '[')
        while (control.back() != ']' && i + 1 < words.size()) control += " " + words[++i];
      if (++i >= words.size()) continue;
      const std::string& module = words[i];
      if (control == "include" || control == "substack") {
        if (auto found = scan(module)) return found;
        continue;
      }
      std::string type = words[0];
      if (type.front() == '-') type.erase(0, 1);
      if (basename_of(module) == "pam_nologin.so" && (type == "account" || type == "auth"))
        return path + ":" + std::to_string(n + 1);
    }
    return std::nullopt;
  };
  return scan(service);
}

std::vector<Listener> parse_proc_net_tcp(const std::string& text_in, bool v6) {
  std::vector<Listener> out;
  for (const auto& line : text::lines(text_in)) {
    const auto words = text::split_words(line);
    if (words.size() < 4 || words[3] != "0A") continue;  // 0A: TCP_LISTEN
    const auto colon = words[1].find(':');
    if (colon == std::string::npos) continue;
    const std::string hex = words[1].substr(0, colon);
    Listener l;
    l.v6 = v6;
    l.port = static_cast<int>(std::strtol(words[1].substr(colon + 1).c_str(), nullptr, 16));
    unsigned char bytes[16] = {};
    const std::size_t groups = v6 ? 4 : 1;
    if (hex.size() != groups * 8) continue;
    for (std::size_t g = 0; g < groups; ++g) {
      // Each 32-bit word is printed as the number it is in memory (little-endian here).
      const auto word = static_cast<std::uint32_t>(std::strtoul(hex.substr(g * 8, 8).c_str(), nullptr, 16));
      for (std::size_t b = 0; b < 4; ++b) bytes[g * 4 + b] = static_cast<unsigned char>((word >> (8 * b)) & 0xffU);
    }
    char buf[INET6_ADDRSTRLEN] = {};
    if (::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, buf, sizeof buf) == nullptr) continue;
    l.address = buf;
    out.push_back(l);
  }
  return out;
}

std::vector<FirewallBlock> nft_blocks(const std::string& ruleset, int port, const std::string& from) {
  std::vector<FirewallBlock> out;
  std::string family, table, chain, hook, policy;
  bool accepted = false;  // an earlier rule of this chain accepts the client on the port
  const std::string p = std::to_string(port);
  const auto end_chain = [&] {
    if (!chain.empty() && (hook == "input" || hook == "prerouting") && (policy == "drop") && !accepted)
      out.push_back(
          {"table " + family + " " + table + " chain " + chain + ": policy drop, no rule accepts tcp port " + p,
           "nft insert rule " + family + " " + table + " " + chain + " tcp dport " + p + " accept", true});
    chain.clear();
    hook.clear();
    policy.clear();
    accepted = false;
  };
  for (const auto& raw : text::lines(ruleset)) {
    std::string handle;
    const std::string line = without_handle(raw, &handle);
    if (line.empty() || line.front() == '#') continue;
    const auto words = text::split_words(line);
    if (words[0] == "table" && words.size() >= 3) {
      family = words.size() >= 4 ? words[1] : "ip";
      table = words.size() >= 4 ? words[2] : words[1];
      continue;
    }
    if (words[0] == "chain" && words.size() >= 2) {
      end_chain();
      chain = words[1];
      continue;
    }
    if (words[0] == "}") {
      if (!chain.empty())
        end_chain();
      else
        table.clear();
      continue;
    }
    if (chain.empty()) continue;
    if (words[0] == "type") {
      for (std::size_t i = 0; i + 1 < words.size(); ++i) {
        if (words[i] == "hook") hook = words[i + 1];
        if (words[i] == "policy") policy = text::trim(words[i + 1].substr(0, words[i + 1].find(';')));
      }
      continue;
    }
    if (hook == "output" || hook == "postrouting" || hook == "forward") continue;
    const RuleFacts f = nft_rule_facts(line, port, from);
    if (!f.tcp_port || f.source == 0 || accepted) continue;
    if (f.verdict == "accept" && f.source == 1 && !f.unknown) accepted = true;
    if (f.verdict != "drop" && f.verdict != "reject") continue;
    FirewallBlock b;
    b.rule = "table " + family + " " + table + " chain " + chain + ": " + line;
    if (!handle.empty()) b.fix = "nft delete rule " + family + " " + table + " " + chain + " handle " + handle;
    b.certain = f.source == 1 && !f.unknown && !hook.empty();
    out.push_back(b);
  }
  return out;
}

std::vector<FirewallBlock> iptables_blocks(const std::string& save, int port, const std::string& from,
                                           const std::string& program) {
  std::vector<FirewallBlock> out;
  std::string table;
  std::vector<std::pair<std::string, std::string>> policies;  // chain, policy of this table
  std::set<std::string> accepted;
  const std::string p = std::to_string(port);
  const auto end_table = [&] {
    for (const auto& [chain, policy] : policies)
      if ((chain == "INPUT" || chain == "PREROUTING") && policy == "DROP" && accepted.count(table + chain) == 0)
        out.push_back({"-t " + table + " " + chain + ": policy DROP, no rule accepts tcp port " + p,
                       program + " -t " + table + " -I " + chain + " -p tcp --dport " + p + " -j ACCEPT", true});
    policies.clear();
  };
  for (const auto& raw : text::lines(save)) {
    const std::string line = text::trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '*') {
      table = line.substr(1);
      continue;
    }
    if (line == "COMMIT") {
      end_table();
      continue;
    }
    const auto words = text::split_words(line);
    if (line.front() == ':' && words.size() >= 2) {
      policies.emplace_back(words[0].substr(1), words[1]);
      continue;
    }
    if (words.size() < 2 || words[0] != "-A") continue;
    const std::string& chain = words[1];
    if (chain == "OUTPUT" || chain == "POSTROUTING" || chain == "FORWARD") continue;
    bool covers = false;
    bool tcp_or_any = true;
    int source = 1;
    bool unknown = false;
    std::string target;
    for (std::size_t i = 2; i < words.size(); ++i) {
      const bool negated = words[i] == "!" && i + 1 < words.size();
      const std::size_t k = negated ? i + 1 : i;
      const std::string& opt = words[k];
      const std::string value = k + 1 < words.size() ? words[k + 1] : std::string();
      i = k;
      if (opt == "-p") {
        tcp_or_any = value == "tcp" || value == "6";
      } else if (opt == "--dport" || opt == "--dports" || opt == "--destination-port") {
        bool hit = false;
        for (const auto& item : text::split(value, ','))
          if (port_word_covers(item, port)) hit = true;
        covers = negated ? !hit : hit;
      } else if (opt == "-s" || opt == "--source") {
        if (address_applies(value, negated, from) == 0) source = 0;
      } else if (opt == "-i" || opt == "--in-interface" || opt == "--match-set") {
        unknown = true;
      } else if (opt == "-j") {
        target = value;
      } else if (opt != "-m") {
        continue;  // a flag or an option this check does not read; its value is skipped as a word
      }
      i = k + 1;
    }
    if (!covers || !tcp_or_any || source == 0 || accepted.count(table + chain) != 0) continue;
    if (target == "ACCEPT" && !unknown) accepted.insert(table + chain);
    if (target != "DROP" && target != "REJECT") continue;
    FirewallBlock b;
    b.rule = "-t " + table + " " + line;
    b.fix = program + " -t " + table + " -D" + line.substr(2);
    b.certain = !unknown && (chain == "INPUT" || chain == "PREROUTING");
    out.push_back(b);
  }
  return out;
}

std::optional<std::string> ssh_connection_client(const std::string& environ) {
  for (const auto& var : text::split(environ, '\0')) {
    if (var.rfind("SSH_CONNECTION=", 0) != 0) continue;
    const auto words = text::split_words(var.substr(15));
    if (!words.empty()) return words[0];
  }
  return std::nullopt;
}

}  // namespace sshdctl::doctor

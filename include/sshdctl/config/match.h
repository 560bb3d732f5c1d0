// Match evaluation as sshd does it (match.c, addrmatch.c, servconf.c match_cfg_line),
// with a third answer for criteria whose input is unknown.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sshdctl/config/model.h"

namespace sshdctl::config {

enum class Tri { kNo, kYes, kMaybe };

// What is known of a connection; unknown fields make their criteria answer kMaybe.
struct Connection {
  std::optional<std::string> user;
  std::optional<std::vector<std::string>> groups;  // the user's groups, when known
  std::optional<std::string> host;
  std::optional<std::string> addr;
  std::optional<std::string> laddr;
  std::optional<std::string> lport;
  std::optional<std::string> rdomain;
};

// OpenSSH's match_pattern(): '*' and '?' wildcards.
bool wildcard_match(std::string_view text, std::string_view pattern, bool ignore_case);
// OpenSSH's match_pattern_list(): 1 = a pattern matched, 0 = none, -1 = a negated one matched.
int pattern_list_match(std::string_view text, std::string_view list, bool ignore_case);
// OpenSSH's addr_match_list(): CIDR or wildcard patterns, '!' negation.
int address_list_match(std::string_view addr, std::string_view list);

Tri evaluate_criterion(const Criterion& criterion, const Connection& conn);
Tri evaluate_block(const MatchBlock& block, const Connection& conn);
// A context is active when its block and all enclosing blocks match.
Tri evaluate_context(const Model& model, int context, const Connection& conn);

}  // namespace sshdctl::config

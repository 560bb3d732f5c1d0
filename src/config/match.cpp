#include "sshdctl/config/match.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdlib>

#include "sshdctl/common/text.h"

namespace sshdctl::config {

namespace {

Tri both(Tri a, Tri b) {
  if (a == Tri::kNo || b == Tri::kNo) return Tri::kNo;
  if (a == Tri::kMaybe || b == Tri::kMaybe) return Tri::kMaybe;
  return Tri::kYes;
}

Tri from_match(int result) { return result == 1 ? Tri::kYes : Tri::kNo; }

// A port as sshd reads one (misc.c a2port): a number 1–65535, else a TCP service name
// ("ssh" is 22); -1 when it is neither.
int port_number(const std::string& text) {
  if (text.empty()) return -1;
  if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    const long n = text.size() > 5 ? -1 : std::strtol(text.c_str(), nullptr, 10);
    return n >= 1 && n <= 65535 ? static_cast<int>(n) : -1;
  }
  servent result{};
  servent* found = nullptr;
  std::array<char, 1024> buf{};
  if (getservbyname_r(text.c_str(), "tcp", &result, buf.data(), buf.size(), &found) != 0 || found == nullptr) return -1;
  return ntohs(static_cast<std::uint16_t>(found->s_port));
}

struct Network {
  int family = 0;
  std::array<unsigned char, 16> bytes{};
  int bits = 0;
};

std::optional<Network> parse_network(std::string_view text) {
  Network net;
  std::string address(text);
  int bits = -1;
  if (const auto slash = address.find('/'); slash != std::string::npos) {
    const std::string b = address.substr(slash + 1);
    if (b.empty() || b.size() > 3 || !std::all_of(b.begin(), b.end(), [](unsigned char c) { return std::isdigit(c); }))
      return std::nullopt;
    bits = std::atoi(b.c_str());
    address.resize(slash);
  }
  if (inet_pton(AF_INET, address.c_str(), net.bytes.data()) == 1) {
    net.family = AF_INET;
    net.bits = bits < 0 ? 32 : bits;
    if (net.bits > 32) return std::nullopt;
  } else if (inet_pton(AF_INET6, address.c_str(), net.bytes.data()) == 1) {
    net.family = AF_INET6;
    net.bits = bits < 0 ? 128 : bits;
    if (net.bits > 128) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return net;
}

bool in_network(const Network& addr, const Network& net) {
  if (addr.family != net.family) return false;
  for (int bit = 0; bit < net.bits; ++bit) {
    const int byte = bit / 8;
    const int mask = 0x80 >> (bit % 8);
    if ((addr.bytes[byte] & mask) != (net.bytes[byte] & mask)) return false;
  }
  return true;
}

}  // namespace

bool wildcard_match(std::string_view text, std::string_view pattern, bool ignore_case) {
  // Iterative glob with backtracking to the last '*'.
  std::size_t t = 0;
  std::size_t p = 0;
  std::size_t star = std::string_view::npos;
  std::size_t resume = 0;
  const auto same = [&](char a, char b) {
    return ignore_case ? std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b))
                       : a == b;
  };
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] != '*' && (pattern[p] == '?' || same(pattern[p], text[t]))) {
      ++t;
      ++p;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

// OpenSSH's list rule: comma-separated patterns, "!" negates; a negated hit answers -1 at once.
template <typename Hit>
int match_list(std::string_view list, Hit hit) {
  int result = 0;
  for (const auto& raw : text::split(text::unquote(list), ',')) {
    std::string_view pattern = raw;
    const bool negated = !pattern.empty() && pattern[0] == '!';
    if (negated) pattern.remove_prefix(1);
    if (pattern.empty() || !hit(pattern)) continue;
    if (negated) return -1;
    result = 1;
  }
  return result;
}

}  // namespace

int pattern_list_match(std::string_view text, std::string_view list, bool ignore_case) {
  return match_list(list, [&](std::string_view pattern) { return wildcard_match(text, pattern, ignore_case); });
}

int address_list_match(std::string_view addr, std::string_view list) {
  const auto address = parse_network(addr);
  return match_list(list, [&](std::string_view pattern) {
    if (const auto net = parse_network(pattern); net && address) return in_network(*address, *net);
    return pattern.find('/') == std::string_view::npos && wildcard_match(addr, pattern, true);
  });
}

Tri evaluate_criterion(const Criterion& criterion, const Connection& conn) {
  const std::string name = text::lower(criterion.name);
  const auto& patterns = criterion.patterns;
  if (name == "all") return Tri::kYes;
  if (name == "user") return conn.user ? from_match(pattern_list_match(*conn.user, patterns, false)) : Tri::kMaybe;
  if (name == "group") {
    if (!conn.groups) return Tri::kMaybe;
    bool found = false;
    for (const auto& group : *conn.groups) {
      const int r = pattern_list_match(group, patterns, false);
      if (r == -1) return Tri::kNo;
      if (r == 1) found = true;
    }
    return found ? Tri::kYes : Tri::kNo;
  }
  if (name == "host") return conn.host ? from_match(pattern_list_match(*conn.host, patterns, true)) : Tri::kMaybe;
  if (name == "address") return conn.addr ? from_match(address_list_match(*conn.addr, patterns)) : Tri::kMaybe;
  if (name == "localaddress") return conn.laddr ? from_match(address_list_match(*conn.laddr, patterns)) : Tri::kMaybe;
  if (name == "localport") {
    if (!conn.lport) return Tri::kMaybe;
    const int lport = port_number(*conn.lport);
    for (const auto& port : text::split(text::unquote(patterns), ','))
      if (lport > 0 && port_number(port) == lport) return Tri::kYes;
    return Tri::kNo;
  }
  if (name == "rdomain")
    return conn.rdomain ? from_match(pattern_list_match(*conn.rdomain, patterns, false)) : Tri::kMaybe;
  return Tri::kMaybe;  // a criterion this version does not model (e.g. Invalid-User)
}

Tri evaluate_block(const MatchBlock& block, const Connection& conn) {
  Tri result = Tri::kYes;
  for (const auto& criterion : block.criteria) result = both(result, evaluate_criterion(criterion, conn));
  return result;
}

Tri evaluate_context(const Model& model, int context, const Connection& conn) {
  Tri result = Tri::kYes;
  for (int c = context; c >= 0; c = model.contexts[static_cast<std::size_t>(c)].parent)
    result = both(result, evaluate_block(*model.contexts[static_cast<std::size_t>(c)].block, conn));
  return result;
}

}  // namespace sshdctl::config

#include "sshdctl/config/catalog.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "sshdctl/common/text.h"

namespace sshdctl::config {

namespace {

constexpr std::string_view kRestOfLine[] = {"ForceCommand", "VersionAddendum", "AuthorizedKeysCommand",
                                            "AuthorizedPrincipalsCommand"};

Keyword yes_no(std::string_view name, bool in_match) {
  return Keyword{name, Grammar::kYesNo, Combine::kFirstWins, Shape::kScalar, in_match, false, {"yes", "no"}, 0, 0};
}
Keyword one_of(std::string_view name, bool in_match, std::vector<std::string_view> choices) {
  return Keyword{name, Grammar::kEnum, Combine::kFirstWins, Shape::kScalar, in_match, false, std::move(choices), 0, 0};
}
Keyword text(std::string_view name, bool in_match) {
  return Keyword{name, Grammar::kAny, Combine::kFirstWins, Shape::kScalar, in_match, false, {}, 0, 0};
}
Keyword number(std::string_view name, bool in_match, long min, long max) {
  return Keyword{name, Grammar::kInteger, Combine::kFirstWins, Shape::kScalar, in_match, false, {}, min, max};
}
Keyword duration(std::string_view name, bool in_match) {
  return Keyword{name, Grammar::kTime, Combine::kFirstWins, Shape::kScalar, in_match, false, {}, 0, 0};
}
Keyword list(std::string_view name, bool in_match, Shape shape, Combine combine) {
  return Keyword{name, Grammar::kList, combine, shape, in_match, false, {}, 0, 0};
}
Keyword deprecated(std::string_view name) {
  Keyword k = text(name, false);
  k.deprecated = true;
  return k;
}

std::vector<Keyword> build_catalog() {
  constexpr bool M = true;   // allowed inside Match
  constexpr bool G = false;  // global only
  const auto S = Shape::kSpaceList;
  const auto C = Shape::kCommaList;
  const auto acc = Combine::kAccumulate;
  const auto first = Combine::kFirstWins;
  const std::vector<std::string_view> forwarding{"yes", "all", "no", "local", "remote"};
  std::vector<Keyword> k{
      list("AcceptEnv", M, S, acc),
      one_of("AddressFamily", G, {"any", "inet", "inet6"}),
      yes_no("AllowAgentForwarding", M),
      list("AllowGroups", M, S, acc),
      one_of("AllowStreamLocalForwarding", M, forwarding),
      one_of("AllowTcpForwarding", M, forwarding),
      list("AllowUsers", M, S, acc),
      list("AuthenticationMethods", M, S, first),
      text("AuthorizedKeysCommand", M),
      text("AuthorizedKeysCommandUser", M),
      list("AuthorizedKeysFile", M, S, first),
      text("AuthorizedPrincipalsCommand", M),
      text("AuthorizedPrincipalsCommandUser", M),
      text("AuthorizedPrincipalsFile", M),
      text("Banner", M),
      list("CASignatureAlgorithms", M, C, first),
      yes_no("ChallengeResponseAuthentication", M),
      list("ChannelTimeout", M, S, first),
      text("ChrootDirectory", M),
      list("Ciphers", G, C, first),
      number("ClientAliveCountMax", M, 0, 2147483647),
      duration("ClientAliveInterval", M),
      one_of("Compression", G, {"yes", "delayed", "no"}),
      list("DenyGroups", M, S, acc),
      list("DenyUsers", M, S, acc),
      yes_no("DisableForwarding", M),
      yes_no("ExposeAuthInfo", M),
      one_of("FingerprintHash", G, {"md5", "sha256"}),
      text("ForceCommand", M),
      one_of("GatewayPorts", M, {"yes", "no", "clientspecified"}),
      yes_no("GSSAPIAuthentication", M),
      yes_no("GSSAPICleanupCredentials", G),
      list("GSSAPIKexAlgorithms", G, C, first),
      yes_no("GSSAPIKeyExchange", G),
      yes_no("GSSAPIStoreCredentialsOnRekey", G),
      yes_no("GSSAPIStrictAcceptorCheck", G),
      list("HostbasedAcceptedAlgorithms", M, C, first),
      list("HostbasedAcceptedKeyTypes", M, C, first),
      yes_no("HostbasedAuthentication", M),
      yes_no("HostbasedUsesNameFromPacketOnly", M),
      list("HostCertificate", G, Shape::kScalar, acc),
      list("HostKey", G, Shape::kScalar, acc),
      text("HostKeyAgent", G),
      list("HostKeyAlgorithms", G, C, first),
      one_of("IgnoreRhosts", M, {"yes", "no", "shosts-only"}),
      yes_no("IgnoreUserKnownHosts", G),
      list("Include", M, S, acc),
      list("IPQoS", M, S, first),
      yes_no("KbdInteractiveAuthentication", M),
      yes_no("KerberosAuthentication", M),
      yes_no("KerberosGetAFSToken", G),
      yes_no("KerberosOrLocalPasswd", G),
      yes_no("KerberosTicketCleanup", G),
      list("KexAlgorithms", G, C, first),
      list("ListenAddress", G, Shape::kScalar, acc),
      duration("LoginGraceTime", G),
      one_of("LogLevel", M, {"QUIET", "FATAL", "ERROR", "INFO", "VERBOSE", "DEBUG", "DEBUG1", "DEBUG2", "DEBUG3"}),
      text("LogVerbose", M),
      list("MACs", G, C, first),
      number("MaxAuthTries", M, 0, 2147483647),
      number("MaxSessions", M, 0, 2147483647),
      text("MaxStartups", G),
      text("ModuliFile", G),
      yes_no("PasswordAuthentication", M),
      yes_no("PermitEmptyPasswords", M),
      list("PermitListen", M, S, first),
      list("PermitOpen", M, S, first),
      one_of("PermitRootLogin", M, {"yes", "prohibit-password", "without-password", "forced-commands-only", "no"}),
      yes_no("PermitTTY", M),
      one_of("PermitTunnel", M, {"yes", "point-to-point", "ethernet", "no"}),
      text("PermitUserEnvironment", G),
      yes_no("PermitUserRC", M),
      text("PerSourceMaxStartups", G),
      text("PerSourceNetBlockSize", G),
      list("PerSourcePenalties", G, S, first),
      list("PerSourcePenaltyExemptList", G, C, first),
      text("PidFile", G),
      number("Port", G, 1, 65535),
      yes_no("PrintLastLog", G),
      yes_no("PrintMotd", G),
      list("PubkeyAcceptedAlgorithms", M, C, first),
      list("PubkeyAcceptedKeyTypes", M, C, first),
      text("PubkeyAuthOptions", M),
      yes_no("PubkeyAuthentication", M),
      text("RDomain", M),
      yes_no("RefuseConnection", M),
      text("RekeyLimit", M),
      number("RequiredRSASize", G, 1024, 16384),
      text("RevokedKeys", M),
      text("SecurityKeyProvider", G),
      list("SetEnv", M, S, first),
      text("SshdAuthPath", G),
      text("SshdSessionPath", G),
      text("StreamLocalBindMask", M),
      yes_no("StreamLocalBindUnlink", M),
      yes_no("StrictModes", G),
      Keyword{"Subsystem", Grammar::kList, Combine::kPerSubsystem, Shape::kSubsystem, false, false, {}, 0, 0},
      one_of("SyslogFacility", G,
             {"DAEMON", "USER", "AUTH", "AUTHPRIV", "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3", "LOCAL4", "LOCAL5",
              "LOCAL6", "LOCAL7"}),
      yes_no("TCPKeepAlive", G),
      text("TrustedUserCAKeys", M),
      text("UnusedConnectionTimeout", M),
      yes_no("UseDNS", G),
      yes_no("UsePAM", G),
      text("VersionAddendum", G),
      number("X11DisplayOffset", M, 0, 2147483647),
      yes_no("X11Forwarding", M),
      yes_no("X11UseLocalhost", M),
      text("XAuthLocation", G),
      deprecated("DSAAuthentication"),
      deprecated("KeyRegenerationInterval"),
      deprecated("Protocol"),
      deprecated("RhostsRSAAuthentication"),
      deprecated("RSAAuthentication"),
      deprecated("ServerKeyBits"),
      deprecated("ShowPatchLevel"),
      deprecated("UseLogin"),
      deprecated("UsePrivilegeSeparation"),
  };
  // Port is a number that, unlike the other numbers, adds a listening port per line.
  for (auto& kw : k)
    if (kw.name == "Port") kw.combine = Combine::kAccumulate;
  // The keywords whose every line overrides the one before, unlike sshd_config(5)'s rule that
  // the first value obtained is used: servconf.c assigns them unconditionally (found by
  // comparing with sshd -T on generated trees: tests/fixtures/differential/value-*).
  for (auto& kw : k)
    for (const std::string_view last : {"FingerprintHash", "IPQoS", "MaxStartups", "PerSourceMaxStartups",
                                        "PerSourceNetBlockSize", "StreamLocalBindMask"})
      if (kw.name == last) kw.combine = Combine::kLastWins;
  // RekeyLimit: servconf.c sets the amount and the interval each while it is unset.
  for (auto& kw : k)
    if (kw.name == "RekeyLimit") kw.combine = Combine::kFirstPerPart;
  // UnusedConnectionTimeout: "none" is assigned like those, a time only while unset.
  for (auto& kw : k)
    if (kw.name == "UnusedConnectionTimeout") kw.combine = Combine::kNoneOverrides;
  // Old spellings sshd still accepts: steer new edits to the current names.
  for (auto& kw : k)
    if (kw.name == "ChallengeResponseAuthentication" || kw.name == "PubkeyAcceptedKeyTypes" ||
        kw.name == "HostbasedAcceptedKeyTypes")
      kw.deprecated = true;
  // Which releases know what (checked with each release's own sshd -t: tests/e2e/catalog_versions.sh).
  struct History {
    std::string_view name;
    OpenSshVersion since;
    OpenSshVersion until;
    std::string_view old_name;
  };
  const History history[] = {
      {"HostbasedAcceptedAlgorithms", {8, 5}, {}, "HostbasedAcceptedKeyTypes"},
      {"PubkeyAcceptedAlgorithms", {8, 5}, {}, "PubkeyAcceptedKeyTypes"},
      {"PerSourceMaxStartups", {8, 5}, {}, {}},
      {"PerSourceNetBlockSize", {8, 5}, {}, {}},
      {"LogVerbose", {8, 5}, {}, {}},
      {"ModuliFile", {8, 5}, {}, {}},
      {"RequiredRSASize", {9, 1}, {}, {}},
      {"ChannelTimeout", {9, 2}, {}, {}},
      {"UnusedConnectionTimeout", {9, 2}, {}, {}},
      {"PerSourcePenalties", {9, 8}, {}, {}},
      {"PerSourcePenaltyExemptList", {9, 8}, {}, {}},
      {"SshdSessionPath", {9, 8}, {}, {}},
      {"RefuseConnection", {10, 0}, {}, {}},
      {"SshdAuthPath", {10, 0}, {}, {}},
  };
  for (const auto& h : history)
    for (auto& kw : k)
      if (kw.name == h.name) {
        kw.since = h.since;
        kw.until = h.until;
        kw.old_name = h.old_name;
      }
  return k;
}

// sshd's time format: a number optionally followed by s, m, h, d or w, repeated.
bool is_time(std::string_view v) {
  if (v.empty()) return false;
  std::size_t i = 0;
  while (i < v.size()) {
    const std::size_t start = i;
    while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
    if (i == start) return false;
    if (i < v.size() && std::string_view("sSmMhHdDwW").find(v[i]) != std::string_view::npos) ++i;
  }
  return true;
}

}  // namespace

std::string to_string(OpenSshVersion v) {
  return v.known() ? std::to_string(v.major) + "." + std::to_string(v.minor) : "unknown";
}

OpenSshVersion parse_openssh_version(std::string_view text) {
  const auto number_at = [&](std::size_t i, OpenSshVersion& out) {
    std::size_t j = i;
    int major = 0;
    int minor = 0;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) && major < 1000)
      major = major * 10 + (text[j++] - '0');
    if (j == i || j >= text.size() || text[j] != '.') return false;
    const std::size_t k = ++j;
    while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) && minor < 1000)
      minor = minor * 10 + (text[j++] - '0');
    if (j == k || major == 0) return false;
    out = OpenSshVersion{major, minor};
    return true;
  };
  OpenSshVersion v;
  for (auto at = text.find("OpenSSH_"); at != std::string_view::npos; at = text.find("OpenSSH_", at + 1))
    if (number_at(at + 8, v)) return v;
  if (text.find_first_not_of("0123456789.") == std::string_view::npos && number_at(0, v)) return v;
  return {};
}

bool in_releases(OpenSshVersion since, OpenSshVersion until, OpenSshVersion v) {
  if (!v.known()) return true;
  if (since.known() && v < since) return false;
  return !(until.known() && until <= v);
}

std::optional<std::string_view> spelling_for(const Keyword& keyword, OpenSshVersion version) {
  if (in_releases(keyword.since, keyword.until, version)) return keyword.name;
  // Before its rename it had its old name (and no later release removed that).
  if (!keyword.old_name.empty() && version < keyword.since) return keyword.old_name;
  return std::nullopt;
}

std::string sshd_t_name(const Keyword& keyword, OpenSshVersion version) {
  const auto spelt = spelling_for(keyword, version);
  return spelt ? text::lower(*spelt) : std::string();
}

const std::vector<Keyword>& all_keywords() {
  static const std::vector<Keyword> catalog = build_catalog();
  return catalog;
}

bool takes_rest_of_line(std::string_view keyword) {
  return std::any_of(std::begin(kRestOfLine), std::end(kRestOfLine),
                     [&](std::string_view k) { return text::iequals(k, keyword); });
}

const Keyword* find_keyword(std::string_view name) {
  for (const auto& k : all_keywords())
    if (text::iequals(k.name, name)) return &k;
  return nullptr;
}

std::optional<std::string_view> closest_keyword(std::string_view name) {
  std::optional<std::string_view> best;
  std::size_t best_distance = 0;
  // An abbreviation ("PasswordAuth") names the keyword it starts.
  if (name.size() >= 4)
    for (const auto& k : all_keywords())
      if (!k.deprecated && k.name.size() > name.size() && text::iequals(k.name.substr(0, name.size()), name))
        return k.name;
  for (const auto& k : all_keywords()) {
    if (k.deprecated) continue;
    const std::size_t d = text::edit_distance(name, k.name);
    if (!best || d < best_distance) {
      best = k.name;
      best_distance = d;
    }
  }
  // Only suggest when the guess is plausibly a typo of it.
  if (best && best_distance <= std::max<std::size_t>(3, name.size() / 3)) return best;
  return std::nullopt;
}

std::optional<std::string> check_value(const Keyword& keyword, const std::vector<std::string>& values) {
  const std::string name(keyword.name);
  if (values.empty()) return name + " needs a value";
  if (keyword.deprecated) return name + " is deprecated or removed in current OpenSSH; sshd ignores it";
  // Port, ListenAddress, HostKey, HostCertificate take one value a line, and a line each.
  if (keyword.combine == Combine::kAccumulate && keyword.shape == Shape::kScalar && values.size() > 1) {
    for (const auto& v : values)
      if (auto problem = check_value(keyword, {v})) return problem;
    return std::nullopt;
  }
  const auto single = [&]() -> std::optional<std::string> {
    if (values.size() != 1) return name + " takes exactly one value, got " + std::to_string(values.size());
    return std::nullopt;
  };
  switch (keyword.grammar) {
    case Grammar::kAny:
    case Grammar::kList:
      return std::nullopt;
    case Grammar::kYesNo:
    case Grammar::kEnum: {
      if (auto e = single()) return e;
      for (const auto choice : keyword.choices)
        if (text::iequals(choice, values[0])) return std::nullopt;
      std::vector<std::string> allowed(keyword.choices.begin(), keyword.choices.end());
      return "invalid value '" + values[0] + "' for " + name + "; allowed: " + text::join(allowed, ", ");
    }
    case Grammar::kInteger: {
      if (auto e = single()) return e;
      const auto& v = values[0];
      const bool digits = !v.empty() && v.size() <= 10 &&
                          std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); });
      const long n = digits ? std::strtol(v.c_str(), nullptr, 10) : -1;
      if (!digits || n < keyword.min || n > keyword.max)
        return "invalid value '" + v + "' for " + name + "; allowed: an integer from " + std::to_string(keyword.min) +
               " to " + std::to_string(keyword.max);
      return std::nullopt;
    }
    case Grammar::kTime: {
      if (auto e = single()) return e;
      if (!is_time(values[0]))
        return "invalid value '" + values[0] + "' for " + name + "; allowed: a time such as 30, 90s, 2m or 1h30m";
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace sshdctl::config

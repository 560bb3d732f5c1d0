#include "sshdctl/config/versions.h"

#include <cctype>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/resolve.h"

namespace sshdctl::config {

namespace {

struct Algorithm {
  std::string_view name;
  Algorithms kind;
  OpenSshVersion since;  // 0.0: in every supported release (8.4 and later)
  OpenSshVersion until;  // 0.0: still there
};

// `ssh -Q cipher|mac|kex|key-sig` of Debian 11 (8.4), 12 (9.2) and 13 (10.0), merged; the
// boundaries between those releases are from OpenSSH's release notes, or where they do not
// say, the first of those releases without the name. Checked against each release's own
// ssh -Q by tests/e2e/catalog_versions.sh.
constexpr Algorithm kAlgorithms[] = {
    {"3des-cbc", Algorithms::kCipher, {}, {}},
    {"aes128-cbc", Algorithms::kCipher, {}, {}},
    {"aes192-cbc", Algorithms::kCipher, {}, {}},
    {"aes256-cbc", Algorithms::kCipher, {}, {}},
    {"aes128-ctr", Algorithms::kCipher, {}, {}},
    {"aes192-ctr", Algorithms::kCipher, {}, {}},
    {"aes256-ctr", Algorithms::kCipher, {}, {}},
    {"aes128-gcm@openssh.com", Algorithms::kCipher, {}, {}},
    {"aes256-gcm@openssh.com", Algorithms::kCipher, {}, {}},
    {"chacha20-poly1305@openssh.com", Algorithms::kCipher, {}, {}},
    {"rijndael-cbc@lysator.liu.se", Algorithms::kCipher, {}, {9, 0}},

    {"hmac-sha1", Algorithms::kMac, {}, {}},
    {"hmac-sha1-96", Algorithms::kMac, {}, {}},
    {"hmac-sha2-256", Algorithms::kMac, {}, {}},
    {"hmac-sha2-512", Algorithms::kMac, {}, {}},
    {"hmac-md5", Algorithms::kMac, {}, {}},
    {"hmac-md5-96", Algorithms::kMac, {}, {}},
    {"umac-64@openssh.com", Algorithms::kMac, {}, {}},
    {"umac-128@openssh.com", Algorithms::kMac, {}, {}},
    {"hmac-sha1-etm@openssh.com", Algorithms::kMac, {}, {}},
    {"hmac-sha1-96-etm@openssh.com", Algorithms::kMac, {}, {}},
    {"hmac-sha2-256-etm@openssh.com", Algorithms::kMac, {}, {}},
    {"hmac-sha2-512-etm@openssh.com", Algorithms::kMac, {}, {}},
    {"hmac-md5-etm@openssh.com", Algorithms::kMac, {}, {}},
    {"hmac-md5-96-etm@openssh.com", Algorithms::kMac, {}, {}},
    {"umac-64-etm@openssh.com", Algorithms::kMac, {}, {}},
    {"umac-128-etm@openssh.com", Algorithms::kMac, {}, {}},

    {"diffie-hellman-group1-sha1", Algorithms::kKex, {}, {}},
    {"diffie-hellman-group14-sha1", Algorithms::kKex, {}, {}},
    {"diffie-hellman-group14-sha256", Algorithms::kKex, {}, {}},
    {"diffie-hellman-group16-sha512", Algorithms::kKex, {}, {}},
    {"diffie-hellman-group18-sha512", Algorithms::kKex, {}, {}},
    {"diffie-hellman-group-exchange-sha1", Algorithms::kKex, {}, {}},
    {"diffie-hellman-group-exchange-sha256", Algorithms::kKex, {}, {}},
    {"ecdh-sha2-nistp256", Algorithms::kKex, {}, {}},
    {"ecdh-sha2-nistp384", Algorithms::kKex, {}, {}},
    {"ecdh-sha2-nistp521", Algorithms::kKex, {}, {}},
    {"curve25519-sha256", Algorithms::kKex, {}, {}},
    {"curve25519-sha256@libssh.org", Algorithms::kKex, {}, {}},
    {"sntrup4591761x25519-sha512@tinyssh.org", Algorithms::kKex, {}, {8, 5}},
    {"sntrup761x25519-sha512", Algorithms::kKex, {9, 0}, {}},
    {"sntrup761x25519-sha512@openssh.com", Algorithms::kKex, {8, 5}, {}},
    {"mlkem768x25519-sha256", Algorithms::kKex, {9, 9}, {}},

    {"ssh-ed25519", Algorithms::kKey, {}, {}},
    {"ssh-ed25519-cert-v01@openssh.com", Algorithms::kKey, {}, {}},
    {"sk-ssh-ed25519@openssh.com", Algorithms::kKey, {}, {}},
    {"sk-ssh-ed25519-cert-v01@openssh.com", Algorithms::kKey, {}, {}},
    {"ecdsa-sha2-nistp256", Algorithms::kKey, {}, {}},
    {"ecdsa-sha2-nistp256-cert-v01@openssh.com", Algorithms::kKey, {}, {}},
    {"ecdsa-sha2-nistp384", Algorithms::kKey, {}, {}},
    {"ecdsa-sha2-nistp384-cert-v01@openssh.com", Algorithms::kKey, {}, {}},
    {"ecdsa-sha2-nistp521", Algorithms::kKey, {}, {}},
    {"ecdsa-sha2-nistp521-cert-v01@openssh.com", Algorithms::kKey, {}, {}},
    {"sk-ecdsa-sha2-nistp256@openssh.com", Algorithms::kKey, {}, {}},
    {"sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", Algorithms::kKey, {}, {}},
    {"webauthn-sk-ecdsa-sha2-nistp256@openssh.com", Algorithms::kKey, {}, {}},
    {"ssh-dss", Algorithms::kKey, {}, {10, 0}},
    {"ssh-dss-cert-v01@openssh.com", Algorithms::kKey, {}, {10, 0}},
    {"ssh-rsa", Algorithms::kKey, {}, {}},
    {"ssh-rsa-cert-v01@openssh.com", Algorithms::kKey, {}, {}},
    {"rsa-sha2-256", Algorithms::kKey, {}, {}},
    {"rsa-sha2-256-cert-v01@openssh.com", Algorithms::kKey, {}, {}},
    {"rsa-sha2-512", Algorithms::kKey, {}, {}},
    {"rsa-sha2-512-cert-v01@openssh.com", Algorithms::kKey, {}, {}},
};

// "added in 8.5", "removed in 10.0"
std::string history_of(OpenSshVersion since, OpenSshVersion until, OpenSshVersion v) {
  if (since.known() && v < since) return "added in OpenSSH " + to_string(since);
  if (until.known() && until <= v) return "removed in OpenSSH " + to_string(until);
  return {};
}

const char* kind_name(Algorithms kind) {
  switch (kind) {
    case Algorithms::kCipher:
      return "cipher";
    case Algorithms::kMac:
      return "MAC";
    case Algorithms::kKex:
      return "key exchange algorithm";
    case Algorithms::kKey:
      return "key or signature algorithm";
  }
  return "algorithm";
}

void check_setting(Setting& setting, OpenSshVersion version, const std::string& host, Plan& plan, bool spell) {
  const Keyword* kw = option_of(setting.keyword);
  if (kw == nullptr) return;
  if (auto problem = version_problem(*kw, value_words(OptionKey{kw, {}}, setting.args), version))
    throw Error(ErrorKind::kBadInput, *problem + "; nothing was changed", Location{host, {}, 0});
  if (!spell) return;
  const auto spelt = spelling_for(*kw, version);
  if (spelt && !text::iequals(*spelt, setting.keyword)) {
    if (*spelt != kw->name)
      plan.notes.push_back(Note{Location{host, {}, 0}, "OpenSSH " + to_string(version) + ": " + std::string(kw->name) +
                                                           " is written as " + std::string(*spelt) +
                                                           " (its name before " + to_string(kw->since) + ")"});
    setting.keyword = std::string(*spelt);
  }
}

}  // namespace

std::optional<Algorithms> algorithms_of(const Keyword& keyword) {
  const std::string_view n = keyword.name;
  if (n == "Ciphers") return Algorithms::kCipher;
  if (n == "MACs") return Algorithms::kMac;
  if (n == "KexAlgorithms") return Algorithms::kKex;
  if (n == "HostKeyAlgorithms" || n == "PubkeyAcceptedAlgorithms" || n == "HostbasedAcceptedAlgorithms" ||
      n == "CASignatureAlgorithms")
    return Algorithms::kKey;
  return std::nullopt;
}

std::vector<std::string> algorithms_for(Algorithms kind, OpenSshVersion version) {
  std::vector<std::string> out;
  for (const auto& a : kAlgorithms)
    if (a.kind == kind && in_releases(a.since, a.until, version)) out.emplace_back(a.name);
  return out;
}

std::optional<std::string> version_problem(const Keyword& keyword, const std::vector<std::string>& values,
                                           OpenSshVersion version) {
  if (!version.known()) return std::nullopt;
  const std::string name(keyword.name);
  if (!spelling_for(keyword, version))
    return "OpenSSH " + to_string(version) + " does not know " + name + " (" +
           history_of(keyword.since, keyword.until, version) + ")";
  const auto kind = algorithms_of(keyword);
  if (!kind || values.empty()) return std::nullopt;
  // One list; its first character may be + (append to the default), - (remove; patterns
  // allowed) or ^ (put first).
  std::string list = values.front();
  for (std::size_t i = 1; i < values.size(); ++i) list += "," + values[i];
  if (!list.empty() && (list[0] == '+' || list[0] == '-' || list[0] == '^')) {
    if (list[0] == '-') return std::nullopt;  // removing what a release does not have is harmless
    list.erase(0, 1);
  }
  for (const auto& item : text::split(list, ',')) {
    if (item.empty() || item.find_first_of("*?!") != std::string::npos) continue;
    for (const auto& a : kAlgorithms)
      if (a.kind == *kind && a.name == item && !in_releases(a.since, a.until, version))
        return "OpenSSH " + to_string(version) + " does not know the " + kind_name(*kind) + " '" + item + "' (" +
               history_of(a.since, a.until, version) + ") for " + name +
               "; it accepts: " + text::join(algorithms_for(*kind, version), ",");
  }
  return std::nullopt;
}

void fit_to_version(Plan& plan, OpenSshVersion version, const std::string& host) {
  if (!version.known()) return;
  for (auto& edit : plan.edits) {
    switch (edit.kind) {
      case Edit::Kind::kReplace:
        // The line keeps the keyword as it is written there (a name that release knows).
        check_setting(edit.setting, version, host, plan, false);
        break;
      case Edit::Kind::kInsertGlobal:
      case Edit::Kind::kAppendToBlock:
        check_setting(edit.setting, version, host, plan, true);
        break;
      case Edit::Kind::kNewBlock:
        for (auto& s : edit.settings) check_setting(s, version, host, plan, true);
        break;
      case Edit::Kind::kRemove:
        break;
    }
  }
}

bool VersionCondition::holds(OpenSshVersion v) const {
  for (const auto& t : terms) {
    const bool ok = t.op == "<"    ? v < t.version
                    : t.op == "<=" ? v <= t.version
                    : t.op == ">"  ? t.version < v
                    : t.op == ">=" ? t.version <= v
                                   : v == t.version;
    if (!ok) return false;
  }
  return !terms.empty();
}

VersionCondition parse_version_condition(std::string_view text) {
  VersionCondition c;
  c.text = text::trim(std::string(text));
  const auto fail = [&]() -> VersionCondition {
    throw Error(ErrorKind::kBadInput, "bad OpenSSH version condition '" + c.text +
                                          "' (write comparisons such as \">= 8.5\", \"< 9.0\" or \">= 8.5, < 9.9\")");
  };
  for (const auto& part : text::split(c.text, ',')) {
    std::string t = text::trim(part);
    std::size_t i = 0;
    while (i < t.size() && (t[i] == '<' || t[i] == '>' || t[i] == '=')) ++i;
    VersionCondition::Term term;
    term.op = t.substr(0, i);
    if (term.op.empty() || term.op == "=") term.op = "==";
    if (term.op != "<" && term.op != "<=" && term.op != ">" && term.op != ">=" && term.op != "==") return fail();
    std::string number = text::trim(t.substr(i));
    if (number.empty() || number.find_first_not_of("0123456789.") != std::string::npos) return fail();
    if (number.find('.') == std::string::npos) number += ".0";  // "< 9" is "< 9.0"
    term.version = parse_openssh_version(number);
    if (!term.version.known()) return fail();
    c.terms.push_back(term);
  }
  if (c.terms.empty()) return fail();
  return c;
}

}  // namespace sshdctl::config

#include "sshdctl/doctor/audit.h"

#include <optional>

#include "sshdctl/accounts/authorized_keys.h"
#include "sshdctl/accounts/password.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/config/plan.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/config/validate.h"
#include "sshdctl/host/accounts.h"

namespace sshdctl::doctor {

namespace {

// sshd time format (30, 2m, 1h30m) in seconds; nullopt when it is not one.
std::optional<long> seconds_of(const std::string& value) {
  long total = 0;
  long current = 0;
  bool digits = false;
  for (const char c : value) {
    if (c >= '0' && c <= '9') {
      current = current * 10 + (c - '0');
      digits = true;
      continue;
    }
    const char u = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const long scale = u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : u == 'd' ? 86400 : u == 'w' ? 604800 : 0;
    if (scale == 0 || !digits) return std::nullopt;
    total += current * scale;
    current = 0;
    digits = false;
  }
  return total + current;
}

std::string where_of(const config::Effective& eff) {
  if (eff.sources.empty()) return "sshd's default";
  const auto* e = eff.sources.front();
  return Location{{}, e->file, e->directive->line}.str();
}

// A concrete connection for a Match condition (User x Address y …), or nullopt when the
// condition has patterns, negations or lists that name no single connection.
std::optional<config::Connection> connection_for(const std::vector<config::Criterion>& criteria) {
  config::Connection conn;
  for (const auto& c : criteria) {
    const std::string& v = c.patterns;
    if (v.find_first_of("*?!,/") != std::string::npos || v.empty()) return std::nullopt;
    const std::string name = text::lower(c.name);
    if (name == "user") {
      conn.user = v;
    } else if (name == "group") {
      conn.groups = std::vector<std::string>{v};
    } else if (name == "host") {
      conn.host = v;
    } else if (name == "address") {
      conn.addr = v;
    } else if (name == "localaddress") {
      conn.laddr = v;
    } else if (name == "localport") {
      conn.lport = v;
    } else if (name == "rdomain") {
      conn.rdomain = v;
    } else {
      return std::nullopt;
    }
  }
  return conn;
}

}  // namespace

std::string normalized(const config::Keyword& keyword, const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    std::string w = text::lower(text::unquote(v));
    if (keyword.grammar == config::Grammar::kTime)
      if (auto s = seconds_of(w)) w = std::to_string(*s);
    if (w == "prohibit-password") w = "without-password";
    out.push_back(w);
  }
  return text::join(out, " ");
}

AuditReport audit(host::Host& target, host::Host& controller, const std::string& lens_dir, const fleet::Policy& policy,
                  const std::map<std::string, std::string>& passwords) {
  AuditReport report;
  report.host = target.name();
  report.policy = policy.source;
  config::ConfigTree tree(target, lens_dir);
  tree.load();
  const auto& model = tree.model();
  const auto version = config::parse_openssh_version(target.openssh_version());

  // sshd's own answer for values no line sets (its defaults), asked once.
  std::optional<std::vector<std::pair<std::string, std::string>>> sshd_says;
  bool asked = false;
  const auto sshd_value = [&](const config::Keyword& kw) -> std::optional<std::string> {
    if (!asked) {
      asked = true;
      config::SshdOracle oracle(target, controller);
      sshd_says = oracle.effective(tree.candidate(), model.main_file, "");
      if (!sshd_says) report.notes.push_back("no sshd to ask for its defaults: defaults are not compared");
    }
    if (!sshd_says) return std::nullopt;
    std::vector<std::string> said;
    const std::string name = config::sshd_t_name(kw, version);
    for (const auto& [k, v] : *sshd_says)
      if (!name.empty() && k == name) said.push_back(v);
    if (said.empty()) return std::nullopt;
    return text::join(said, " ");
  };

  std::string unknown_release;
  const auto global = policy.sshd_for(version, &unknown_release);
  if (!unknown_release.empty()) report.notes.push_back(unknown_release);
  for (const auto& s : global) {
    ++report.checks;
    const auto& kw = *s.key.keyword;
    const auto wanted = config::value_words(s.key, s.values);
    const auto eff = config::resolve_global(model, s.key);
    std::string have;
    bool same = false;
    if (!eff.values.empty()) {
      same = config::same_values(kw, eff.values, wanted) || normalized(kw, eff.values) == normalized(kw, wanted);
      have = text::join(eff.values, " ");
    } else if (const auto said = sshd_value(kw)) {
      same = text::lower(*said) == normalized(kw, wanted);
      have = *said;
    } else {
      continue;
    }
    std::string name(kw.name);
    if (!s.key.subsystem.empty()) name += " " + s.key.subsystem;
    if (!same) report.drift.push_back({name, text::join(wanted, " "), have, where_of(eff), policy.at(s.line)});
  }

  for (const auto& m : policy.matches) {
    const auto criteria = config::parse_criteria(m.condition);
    const auto conn = connection_for(criteria);
    for (const auto& s : m.settings) {
      ++report.checks;
      const auto& kw = *s.key.keyword;
      const auto wanted = config::value_words(s.key, s.values);
      const std::string name = std::string(kw.name) + " (Match " + m.condition + ")";
      if (conn) {
        // What sshd uses for such a connection, whichever block decides it.
        const auto eff = config::resolve_for(model, s.key, *conn, config::Unknown::kIgnore);
        if (!eff.values.empty() && config::same_values(kw, eff.values, wanted)) continue;
        if (eff.values.empty()) {
          const auto said = sshd_value(kw);
          if (said && text::lower(*said) == normalized(kw, wanted)) continue;
          report.drift.push_back(
              {name, text::join(wanted, " "), said ? *said : "(default)", where_of(eff), policy.at(s.line)});
        } else {
          report.drift.push_back(
              {name, text::join(wanted, " "), text::join(eff.values, " "), where_of(eff), policy.at(s.line)});
        }
      } else if (!config::plan_set_in_block(model, s.key, s.values, criteria).empty()) {
        // A condition with patterns: the block with exactly that condition must say so.
        report.drift.push_back({name, text::join(wanted, " "), "not so in a 'Match " + m.condition + "' block",
                                model.main_file, policy.at(s.line)});
      }
    }
  }

  std::optional<std::string> shadow;
  for (const auto& u : policy.users) {
    const auto account = host::find_account(target, u.name);
    if (!account) {
      ++report.checks;
      report.drift.push_back({"user " + u.name, "exists", "no such user", "/etc/passwd", policy.at(u.line)});
      continue;
    }
    if (!u.keys_present.empty() || !u.keys_absent.empty()) {
      config::Connection conn;
      conn.user = u.name;
      conn.groups = host::groups_of(target, *account);
      const auto files = accounts::effective_key_files(model, conn, *account);
      std::vector<std::pair<std::string, accounts::PublicKey>> present;  // file:line, key
      for (const auto& file : files.files) {
        const auto info = target.stat(file);
        if (!info.exists || info.symlink) continue;
        accounts::AuthorizedKeys keys(target.read_file(file).value_or(""), lens_dir, file);
        for (const auto& k : keys.keys()) present.emplace_back(Location{{}, file, k.line}.str(), k);
      }
      const std::string where = files.files.empty() ? "AuthorizedKeysFile none" : files.files.front();
      for (const auto& line : u.keys_present) {
        ++report.checks;
        const auto key = accounts::parse_public_key(line);
        bool found = false;
        for (const auto& [at, k] : present) found = found || k.blob == key.blob;
        if (!found)
          report.drift.push_back(
              {u.name + "'s key " + accounts::key_fingerprint(key), "present", "absent", where, policy.at(u.line)});
      }
      for (const auto& sel : u.keys_absent) {
        ++report.checks;
        for (const auto& [at, k] : present)
          if ((sel.blob && k.blob == *sel.blob) ||
              (sel.fingerprint && accounts::key_fingerprint(k) == *sel.fingerprint) ||
              (sel.comment && k.comment == *sel.comment))
            report.drift.push_back(
                {u.name + "'s key " + accounts::key_fingerprint(k) + (k.comment.empty() ? "" : " (" + k.comment + ")"),
                 "absent", "present", at, policy.at(sel.line)});
      }
    }
    const auto pw = passwords.find(u.name);
    if (!u.locked && pw == passwords.end()) continue;
    if (!shadow) shadow = target.read_file("/etc/shadow").value_or("");
    const auto hash = accounts::shadow_field(*shadow, u.name);
    const bool locked = hash && (hash->rfind('!', 0) == 0 || *hash == "*");
    if (u.locked) {
      ++report.checks;
      if (*u.locked != locked)
        report.drift.push_back({u.name + "'s password", *u.locked ? "locked" : "unlocked",
                                locked ? "locked" : "unlocked", "/etc/shadow", policy.at(u.line)});
    }
    if (pw != passwords.end()) {
      ++report.checks;
      if (!hash || !accounts::password_matches(pw->second, *hash))
        report.drift.push_back({u.name + "'s password", "the policy's password", "another one (hash not shown)",
                                "/etc/shadow", policy.at(u.line)});
    }
  }
  return report;
}

}  // namespace sshdctl::doctor

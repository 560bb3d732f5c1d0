#include "sshdctl/fleet/policy.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "sshdctl/accounts/authorized_keys.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/plan.h"

namespace sshdctl::fleet {

namespace {

class Reader {
 public:
  Reader(std::string source, std::string base_dir) : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  [[nodiscard]] int line(const YAML::Node& node) const { return node.Mark().line + 1; }

  [[noreturn]] void fail(const YAML::Node& node, const std::string& message) const {
    throw Error(ErrorKind::kBadInput, source_ + ":" + std::to_string(line(node)) + ": " + message);
  }

  void expect(const YAML::Node& node, YAML::NodeType::value type, const std::string& what) const {
    if (node.Type() == type) return;
    const char* kind = type == YAML::NodeType::Map        ? "a mapping"
                       : type == YAML::NodeType::Sequence ? "a list"
                                                          : "a value";
    fail(node, what + " must be " + kind);
  }

  [[nodiscard]] std::string scalar(const YAML::Node& node, const std::string& what) const {
    if (!node.IsScalar()) fail(node, what + " must be a single value");
    return node.Scalar();
  }

  // Only `allowed` keys in a mapping: a misspelt key is an error, not silently ignored.
  void only(const YAML::Node& map, std::initializer_list<const char*> allowed, const std::string& what) const {
    for (const auto& item : map) {
      const std::string key = item.first.Scalar();
      bool known = false;
      for (const char* a : allowed) known = known || key == a;
      if (!known) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        fail(item.first, "unknown key '" + key + "' in " + what + " (known: " + list + ")");
      }
    }
  }

  // The catalog entry a policy's keyword names; an unknown one fails with the closest.
  const config::Keyword& keyword_of(const YAML::Node& name) const {
    const std::string keyword = scalar(name, "a keyword");
    const auto* kw = config::option_of(keyword);
    if (kw == nullptr) {
      const auto hint = config::closest_keyword(keyword);
      fail(name,
           "unknown sshd keyword '" + keyword + "'" + (hint ? " (did you mean " + std::string(*hint) + "?)" : ""));
    }
    return *kw;
  }

  PolicySetting setting(const YAML::Node& name, const YAML::Node& value, bool in_match) const {
    PolicySetting s;
    s.line = line(name);
    s.key.keyword = &keyword_of(name);
    const auto& kw = *s.key.keyword;
    if (text::iequals(kw.name, "Include") || text::iequals(kw.name, "Match"))
      fail(name, std::string(kw.name) + " cannot be set by a policy");
    if (in_match && !kw.match_allowed)
      fail(name, std::string(kw.name) + " is not allowed inside a Match block (sshd_config(5))");
    if (value.IsSequence()) {
      std::vector<std::string> items;
      for (const auto& item : value) items.push_back(scalar(item, std::string(kw.name) + "'s list item"));
      if (items.empty()) fail(value, std::string(kw.name) + " has an empty list");
      if (kw.shape == config::Shape::kCommaList)
        s.values = {text::join(items, ",")};
      else
        s.values = items;
    } else {
      s.values = text::split_words(scalar(value, std::string(kw.name) + "'s value"));
    }
    if (s.values.empty()) fail(value, std::string(kw.name) + " has no value");
    if (kw.combine == config::Combine::kPerSubsystem) {
      if (s.values.size() < 2) fail(value, "Subsystem takes the subsystem name and its command");
      s.key.subsystem = s.values[0];
    }
    if (auto problem = config::check_value(kw, config::value_words(s.key, s.values))) fail(value, *problem);
    return s;
  }

  // `releases`: an `openssh:` section's settings, where `KEY: ~` drops KEY.
  std::vector<PolicySetting> settings(const YAML::Node& map, bool in_match, bool releases = false) const {
    expect(map, YAML::NodeType::Map, "sshd");
    std::vector<PolicySetting> out;
    for (const auto& item : map) {
      PolicySetting s;
      if (releases && item.second.IsNull()) {
        s.line = line(item.first);
        s.key.keyword = &keyword_of(item.first);
        s.dropped = true;
      } else {
        s = setting(item.first, item.second, in_match);
      }
      for (const auto& earlier : out)
        if (earlier.key.keyword == s.key.keyword && earlier.key.subsystem == s.key.subsystem)
          fail(item.first, std::string(s.key.keyword->name) + " is given twice (first at line " +
                               std::to_string(earlier.line) + ")");
      out.push_back(std::move(s));
    }
    return out;
  }

  std::string key_line(const YAML::Node& node) const {
    if (node.IsMap()) {
      only(node, {"file"}, "a key");
      const std::string file = scalar(node["file"], "file");
      const std::string path = file.rfind('/', 0) == 0 || base_dir_.empty() ? file : base_dir_ + "/" + file;
      std::ifstream in(path);
      if (!in) fail(node, "cannot read the key file " + path);
      std::string text_line;
      while (std::getline(in, text_line)) {
        const auto t = text::trim(text_line);
        if (!t.empty() && t[0] != '#') return t;
      }
      fail(node, "no public key in " + path);
    }
    return scalar(node, "a public key");
  }

  PolicyUser user(const YAML::Node& name, const YAML::Node& body) const {
    PolicyUser u;
    u.name = scalar(name, "a user name");
    u.line = line(name);
    if (u.name.empty() || u.name.find_first_of(" \t:/") != std::string::npos)
      fail(name, "'" + u.name + "' is not a user name");
    expect(body, YAML::NodeType::Map, "user " + u.name);
    only(body, {"keys", "password", "locked"}, "user " + u.name);
    if (const auto keys = body["keys"]) {
      expect(keys, YAML::NodeType::Map, "keys");
      only(keys, {"present", "absent"}, "keys");
      if (const auto present = keys["present"]) {
        expect(present, YAML::NodeType::Sequence, "keys.present");
        for (const auto& k : present) {
          const std::string line_text = key_line(k);
          try {
            const auto parsed = accounts::parse_public_key(line_text);
            if (auto problem = accounts::key_problem(parsed)) fail(k, *problem);
          } catch (const Error& e) {
            fail(k, e.message());
          }
          u.keys_present.push_back(line_text);
        }
      }
      if (const auto absent = keys["absent"]) {
        expect(absent, YAML::NodeType::Sequence, "keys.absent");
        for (const auto& k : absent) {
          PolicyKeySelector sel;
          sel.line = line(k);
          if (k.IsMap()) {
            only(k, {"fingerprint", "comment", "file"}, "an absent key");
            if (k["fingerprint"]) sel.fingerprint = scalar(k["fingerprint"], "fingerprint");
            if (k["comment"]) sel.comment = scalar(k["comment"], "comment");
            if (k["file"]) sel.blob = blob_of(k, key_line(k));
            if (sel.fingerprint && sel.fingerprint->rfind("SHA256:", 0) != 0)
              fail(k, "a fingerprint looks like SHA256:… (ssh-keygen -l)");
            if (!sel.fingerprint && !sel.comment && !sel.blob) fail(k, "say which key: fingerprint, comment or file");
          } else {
            sel.blob = blob_of(k, scalar(k, "an absent key"));
          }
          u.keys_absent.push_back(std::move(sel));
        }
      }
    }
    if (const auto password = body["password"]) {
      if (!password.IsMap())
        fail(password, "password takes {env: VAR} or {file: PATH}: a policy never holds a password itself");
      only(password, {"env", "file"}, "password");
      if (password["env"]) u.password_env = scalar(password["env"], "password env");
      if (password["file"]) {
        const std::string file = scalar(password["file"], "password file");
        u.password_file = file.rfind('/', 0) == 0 || base_dir_.empty() ? file : base_dir_ + "/" + file;
      }
      if (u.password_env.has_value() == u.password_file.has_value()) fail(password, "give one of env or file");
    }
    if (const auto locked = body["locked"]) {
      const std::string v = text::lower(scalar(locked, "locked"));
      if (v == "true" || v == "yes") {
        u.locked = true;
      } else if (v == "false" || v == "no") {
        u.locked = false;
      } else {
        fail(locked, "locked is true or false, not '" + v + "'");
      }
      if (*u.locked && (u.password_env || u.password_file)) fail(locked, "a locked account gets no new password");
    }
    return u;
  }

 private:
  std::string blob_of(const YAML::Node& node, const std::string& key_text) const {
    try {
      return accounts::parse_public_key(key_text).blob;
    } catch (const Error& e) {
      fail(node, e.message());
    }
  }

  std::string source_;
  std::string base_dir_;
};

}  // namespace

Policy parse_policy(const std::string& text, const std::string& source, const std::string& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(ErrorKind::kBadInput, source + ":" + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
  }
  Reader r(source, base_dir);
  Policy p;
  p.source = source;
  if (!root.IsMap()) {
    if (root.IsNull()) throw Error(ErrorKind::kBadInput, source + ": the policy is empty");
    r.fail(root, "a policy is a mapping (description, sshd, match, users, window)");
  }
  r.only(root, {"description", "sshd", "match", "users", "window", "openssh"}, "the policy");
  try {
    if (root["description"]) p.description = r.scalar(root["description"], "description");
    if (root["sshd"]) p.sshd = r.settings(root["sshd"], false);
    if (const auto matches = root["match"]) {
      r.expect(matches, YAML::NodeType::Sequence, "match");
      for (const auto& m : matches) {
        r.expect(m, YAML::NodeType::Map, "a match entry");
        r.only(m, {"condition", "sshd"}, "a match entry");
        PolicyMatch pm;
        pm.line = r.line(m);
        if (!m["condition"]) r.fail(m, "a match entry needs a condition, e.g. 'User backup'");
        pm.condition = r.scalar(m["condition"], "condition");
        try {
          config::parse_criteria(pm.condition);
        } catch (const Error& e) {
          r.fail(m["condition"], e.message());
        }
        if (!m["sshd"]) r.fail(m, "a match entry needs sshd settings");
        pm.settings = r.settings(m["sshd"], true);
        for (const auto& earlier : p.matches)
          if (config::same_criteria(config::parse_criteria(earlier.condition), config::parse_criteria(pm.condition)))
            r.fail(m, "the condition '" + pm.condition + "' is given twice (first at line " +
                          std::to_string(earlier.line) + ")");
        p.matches.push_back(std::move(pm));
      }
    }
    if (const auto users = root["users"]) {
      r.expect(users, YAML::NodeType::Map, "users");
      for (const auto& u : users) p.users.push_back(r.user(u.first, u.second));
    }
    if (const auto releases = root["openssh"]) {
      r.expect(releases, YAML::NodeType::Sequence, "openssh");
      for (const auto& section : releases) {
        r.expect(section, YAML::NodeType::Map, "an openssh entry");
        r.only(section, {"version", "sshd"}, "an openssh entry");
        PolicyRelease release;
        release.line = r.line(section);
        if (!section["version"]) r.fail(section, "an openssh entry needs a version condition, e.g. \"< 8.5\"");
        try {
          release.condition = config::parse_version_condition(r.scalar(section["version"], "version"));
        } catch (const Error& e) {
          r.fail(section["version"], e.message());
        }
        if (!section["sshd"]) r.fail(section, "an openssh entry needs sshd settings");
        release.sshd = r.settings(section["sshd"], false, true);
        p.openssh.push_back(std::move(release));
      }
    }
    if (const auto window = root["window"]) {
      r.expect(window, YAML::NodeType::Map, "window");
      r.only(window, {"for"}, "window");
      if (!window["for"]) r.fail(window, "window needs for: DURATION (e.g. 2h)");
      const std::string text_value = r.scalar(window["for"], "window.for");
      const auto seconds = text::parse_duration(text_value);
      if (!seconds) r.fail(window["for"], "'" + text_value + "' is not a duration (90s, 30m, 2h, 1d)");
      p.window_s = *seconds;
    }
  } catch (const YAML::Exception& e) {
    throw Error(ErrorKind::kBadInput, source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (p.sshd.empty() && p.matches.empty() && p.users.empty() && p.openssh.empty())
    throw Error(ErrorKind::kBadInput, source + ": the policy asks for nothing (no sshd, match or users)");
  return p;
}

std::vector<PolicySetting> Policy::sshd_for(config::OpenSshVersion version, std::string* note) const {
  if (openssh.empty()) return sshd;
  if (!version.known()) {
    if (note != nullptr)
      *note = "which OpenSSH runs here is unknown: none of the openssh: sections of " + source +
              " was applied (sshd -T still judges the result)";
    return sshd;
  }
  std::vector<PolicySetting> out = sshd;
  for (const auto& release : openssh) {
    if (!release.condition.holds(version)) continue;
    for (const auto& s : release.sshd) {
      const auto same = [&](const PolicySetting& o) {
        return o.key.keyword == s.key.keyword && o.key.subsystem == s.key.subsystem;
      };
      const auto it = std::find_if(out.begin(), out.end(), same);
      if (s.dropped) {
        if (it != out.end()) out.erase(it);
      } else if (it != out.end()) {
        *it = s;
      } else {
        out.push_back(s);
      }
    }
  }
  return out;
}

Policy load_policy(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorKind::kBadInput, "cannot read the policy " + path);
  std::stringstream text;
  text << in.rdbuf();
  const auto slash = path.rfind('/');
  return parse_policy(text.str(), path, slash == std::string::npos ? "." : path.substr(0, slash));
}

}  // namespace sshdctl::fleet

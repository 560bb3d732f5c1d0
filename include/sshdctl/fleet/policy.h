// A policy: the sshd settings, keys and password states a fleet should have, in YAML.
//
//   description: what this policy is for
//   sshd:                              # effective global values
//     PermitRootLogin: "no"
//     Ciphers: [chacha20-poly1305@openssh.com, aes256-gcm@openssh.com]   # a list
//   match:                             # values inside Match blocks (created when missing)
//     - condition: User backup
//       sshd: {PasswordAuthentication: "no"}
//   users:
//     alice:
//       keys:
//         present: ["ssh-ed25519 AAAA… alice@laptop", {file: keys/alice.pub}]
//         absent: [{fingerprint: "SHA256:…"}, {comment: old-laptop}]
//       password: {env: ALICE_PASSWORD}    # or {file: PATH}; never the password itself
//       locked: false                      # true: locked (!), false: unlocked
//   window: {for: 2h}                  # the change reverts itself on each host after 2 h
//   openssh:                           # per-release values, for hosts whose sshd matches
//     - version: "< 8.5"
//       sshd:
//         KexAlgorithms: [curve25519-sha256, diffie-hellman-group16-sha512]
//         ChannelTimeout: ~                # ~ (null): not set on those releases
//
// Every error names POLICY:LINE.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sshdctl/config/resolve.h"
#include "sshdctl/config/versions.h"

namespace sshdctl::fleet {

struct PolicySetting {
  config::OptionKey key;
  std::vector<std::string> values;  // value words, as `sshdctl set KEY VALUE...` takes them
  int line = 0;
  bool dropped = false;  // an `openssh:` section's `KEY: ~`: not set on those releases
};

// Values for the hosts whose OpenSSH release meets `condition`.
struct PolicyRelease {
  config::VersionCondition condition;
  std::vector<PolicySetting> sshd;
  int line = 0;
};

struct PolicyMatch {
  std::string condition;  // "User backup"
  std::vector<PolicySetting> settings;
  int line = 0;
};

struct PolicyKeySelector {
  std::optional<std::string> blob, fingerprint, comment;
  int line = 0;
};

struct PolicyUser {
  std::string name;
  std::vector<std::string> keys_present;  // public key lines
  std::vector<PolicyKeySelector> keys_absent;
  std::optional<std::string> password_env, password_file;  // where the password comes from
  std::optional<bool> locked;
  int line = 0;
};

struct Policy {
  std::string source;  // the file
  std::string description;
  std::vector<PolicySetting> sshd;
  std::vector<PolicyMatch> matches;
  std::vector<PolicyUser> users;
  long window_s = 0;
  std::vector<PolicyRelease> openssh;
  // The global settings for a host running `version`: `sshd`, then each `openssh:` section
  // whose condition holds, in order, replacing (or dropping) the values of the keywords it
  // names. When the release is unknown, `sshd` alone (sshd -t still judges the result), and
  // `note` (if given) says that no section was applied.
  [[nodiscard]] std::vector<PolicySetting> sshd_for(config::OpenSshVersion version, std::string* note = nullptr) const;
  // "POLICY:LINE" for messages about a part of the policy.
  [[nodiscard]] std::string at(int line) const { return source + ":" + std::to_string(line); }
};

// Reads and checks a policy: keywords known to sshd, values valid for them, Match-allowed
// keywords inside `match`, well-formed keys (relative key files are read from the policy's
// directory). Throws Error(kBadInput) naming POLICY:LINE.
Policy load_policy(const std::string& path);
Policy parse_policy(const std::string& text, const std::string& source, const std::string& base_dir);

}  // namespace sshdctl::fleet

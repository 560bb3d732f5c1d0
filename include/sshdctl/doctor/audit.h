// Audit: does a target meet a policy? Effective values (the line sshd uses after Include and
// first-value-wins, or sshd's own default from `sshd -T`), not file text, are compared with
// the policy; each difference names the file:line that decides it. Read-only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sshdctl/fleet/policy.h"
#include "sshdctl/host/host.h"

namespace sshdctl::doctor {

struct Drift {
  std::string what;   // "PermitRootLogin", "PasswordAuthentication (Match User backup)", "alice's key …"
  std::string want;   // what the policy says
  std::string have;   // what the target has
  std::string where;  // the file:line that decides it ("sshd's default" when none)
  std::string rule;   // POLICY:LINE
};

struct AuditReport {
  std::string host;
  std::string policy;
  int checks = 0;  // how many things were compared
  std::vector<Drift> drift;
  std::vector<std::string> notes;
  [[nodiscard]] bool compliant() const { return drift.empty(); }
};

// `passwords`: the policy's passwords (user → password), compared with the hashes in
// /etc/shadow without writing anything.
AuditReport audit(host::Host& target, host::Host& controller, const std::string& lens_dir, const fleet::Policy& policy,
                  const std::map<std::string, std::string>& passwords);

// sshd -T's spelling of a value, for comparing (lower case; times in seconds;
// prohibit-password is without-password).
std::string normalized(const config::Keyword& keyword, const std::vector<std::string>& values);

}  // namespace sshdctl::doctor

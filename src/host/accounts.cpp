#include "sshdctl/host/accounts.h"

#include <cstdlib>

#include "sshdctl/common/text.h"

namespace sshdctl::host {

std::optional<Account> parse_passwd_entry(const std::string& passwd, const std::string& user) {
  for (const auto& line : text::lines(passwd)) {
    const auto fields = text::split(line, ':');
    if (fields.size() < 7 || fields[0] != user) continue;
    return Account{fields[0], static_cast<unsigned>(std::strtoul(fields[2].c_str(), nullptr, 10)),
                   static_cast<unsigned>(std::strtoul(fields[3].c_str(), nullptr, 10)), fields[5], fields[6]};
  }
  return std::nullopt;
}

std::vector<std::string> parse_groups_of(const std::string& group, const std::string& user, unsigned primary_gid) {
  std::vector<std::string> out;
  for (const auto& line : text::lines(group)) {
    const auto fields = text::split(line, ':');
    if (fields.size() < 4) continue;
    const bool primary = std::strtoul(fields[2].c_str(), nullptr, 10) == primary_gid;
    bool member = false;
    for (const auto& m : text::split(fields[3], ','))
      if (m == user) member = true;
    if (primary || member) out.push_back(fields[0]);
  }
  return out;
}

std::optional<Account> find_account(Host& host, const std::string& user) {
  const auto passwd = host.read_file("/etc/passwd");
  if (!passwd) return std::nullopt;
  return parse_passwd_entry(*passwd, user);
}

std::vector<std::string> groups_of(Host& host, const Account& account) {
  const auto group = host.read_file("/etc/group");
  if (!group) return {};
  return parse_groups_of(*group, account.name, account.gid);
}

}  // namespace sshdctl::host

// Reading the target's account databases (pure parsing plus a Host read).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sshdctl/host/host.h"

namespace sshdctl::host {

struct Account {
  std::string name;
  unsigned uid = 0;
  unsigned gid = 0;
  std::string home;
  std::string shell;
};

std::optional<Account> parse_passwd_entry(const std::string& passwd, const std::string& user);
// Names of the groups `user` belongs to: its primary group and the supplementary ones.
std::vector<std::string> parse_groups_of(const std::string& group, const std::string& user, unsigned primary_gid);

std::optional<Account> find_account(Host& host, const std::string& user);
std::vector<std::string> groups_of(Host& host, const Account& account);

}  // namespace sshdctl::host

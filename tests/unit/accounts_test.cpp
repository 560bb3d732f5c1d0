#include "sshdctl/host/accounts.h"

#include <gtest/gtest.h>

namespace sshdctl::host {
namespace {

TEST(Accounts, ParsesAPasswdEntry) {
  const auto a = parse_passwd_entry("root:x:0:0:root:/root:/bin/bash\necs-user:x:1000:1000::/home/ecs-user:/bin/bash\n",
                                    "ecs-user");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->uid, 1000U);
  EXPECT_EQ(a->home, "/home/ecs-user");
  EXPECT_FALSE(parse_passwd_entry("root:x:0:0:root:/root:/bin/bash\n", "nobody").has_value());
}

TEST(Accounts, CollectsPrimaryAndSupplementaryGroups) {
  const std::string group = "root:x:0:\nsudo:x:27:ecs-user,admin\necs-user:x:1000:\nwheel:x:10:admin\n";
  EXPECT_EQ(parse_groups_of(group, "ecs-user", 1000), (std::vector<std::string>{"sudo", "ecs-user"}));
  EXPECT_EQ(parse_groups_of(group, "root", 0), (std::vector<std::string>{"root"}));
}

}  // namespace
}  // namespace sshdctl::host

#include "sshdctl/host/ssh_host.h"

namespace sshdctl::host {
namespace {

TEST(ShellQuote, KeepsEveryCharacterLiteral) {
  EXPECT_EQ(shell_quote("plain"), "'plain'");
  EXPECT_EQ(shell_quote("it's $HOME; rm -rf /"), "'it'\\''s $HOME; rm -rf /'");
  EXPECT_EQ(shell_quote(""), "''");
}

}  // namespace
}  // namespace sshdctl::host

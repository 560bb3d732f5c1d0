#include "sshdctl/fleet/policy.h"

#include <gtest/gtest.h>

#include <fstream>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"

namespace sshdctl::fleet {
namespace {

constexpr const char* kKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIP/Lsv0KJaqz5Vj3gv9OSXsnE2RfcuzWCZe8lPfw38Y alice@laptop";

// The message of the Error that parsing `text` throws ("" when it parses).
std::string error_of(const std::string& text) {
  try {
    parse_policy(text, "p.yml", "");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
    return e.message();
  }
  return "";
}

TEST(Policy, ReadsSettingsMatchBlocksUsersAndWindow) {
  const auto p = parse_policy(std::string("description: test\n"
                                          "sshd:\n"
                                          "  permitrootlogin: no\n"
                                          "  Ciphers: [aes256-ctr, aes128-ctr]\n"
                                          "  AllowUsers: alice bob\n"
                                          "  Subsystem: sftp internal-sftp\n"
                                          "match:\n"
                                          "  - condition: User backup\n"
                                          "    sshd: {PasswordAuthentication: 'no', X11Forwarding: no}\n"
                                          "users:\n"
                                          "  alice:\n"
                                          "    keys:\n"
                                          "      present: ['") +
                                  kKey +
                                  "']\n"
                                  "      absent: [{comment: old}, {fingerprint: 'SHA256:abc'}]\n"
                                  "    password: {env: ALICE_PW}\n"
                                  "    locked: false\n"
                                  "window: {for: 2h}\n",
                              "p.yml", "");
  EXPECT_EQ(p.description, "test");
  ASSERT_EQ(p.sshd.size(), 4U);
  EXPECT_EQ(p.sshd[0].key.keyword->name, "PermitRootLogin");
  EXPECT_EQ(p.sshd[0].values, std::vector<std::string>{"no"});
  EXPECT_EQ(p.sshd[0].line, 3);
  EXPECT_EQ(p.sshd[1].values, std::vector<std::string>{"aes256-ctr,aes128-ctr"});  // a comma list
  EXPECT_EQ(p.sshd[2].values, (std::vector<std::string>{"alice", "bob"}));         // words
  EXPECT_EQ(p.sshd[3].key.subsystem, "sftp");
  EXPECT_EQ(p.sshd[3].values, (std::vector<std::string>{"sftp", "internal-sftp"}));
  ASSERT_EQ(p.matches.size(), 1U);
  EXPECT_EQ(p.matches[0].condition, "User backup");
  EXPECT_EQ(p.matches[0].settings.size(), 2U);
  ASSERT_EQ(p.users.size(), 1U);
  EXPECT_EQ(p.users[0].name, "alice");
  EXPECT_EQ(p.users[0].keys_present.size(), 1U);
  ASSERT_EQ(p.users[0].keys_absent.size(), 2U);
  EXPECT_EQ(p.users[0].keys_absent[0].comment, "old");
  EXPECT_EQ(p.users[0].keys_absent[1].fingerprint, "SHA256:abc");
  EXPECT_EQ(p.users[0].password_env, "ALICE_PW");
  EXPECT_EQ(p.users[0].locked, false);
  EXPECT_EQ(p.window_s, 7200);
}

TEST(Policy, ErrorsPointAtTheLine) {
  EXPECT_EQ(error_of("sshd:\n  PermitRootLogin: no\n  PermitRootLogn: no\n"),
            "p.yml:3: unknown sshd keyword 'PermitRootLogn' (did you mean PermitRootLogin?)");
  EXPECT_EQ(error_of("sshd:\n  PermitRootLogin: maybe\n").rfind("p.yml:2: ", 0), 0U);
  EXPECT_EQ(error_of("sshd:\n  MaxAuthTries: lots\n").rfind("p.yml:2: ", 0), 0U);
  EXPECT_EQ(error_of("match:\n  - condition: User x\n    sshd:\n      Ciphers: aes128-ctr\n"),
            "p.yml:4: Ciphers is not allowed inside a Match block (sshd_config(5))");
  EXPECT_EQ(error_of("match:\n  - condition: Usr x\n    sshd: {X11Forwarding: no}\n").rfind("p.yml:2: ", 0), 0U);
  EXPECT_EQ(error_of("sshd:\n  X11Forwarding: no\nusers:\n  bob:\n    password: hunter2\n"),
            "p.yml:5: password takes {env: VAR} or {file: PATH}: a policy never holds a password itself");
  EXPECT_EQ(error_of("users:\n  bob:\n    keys:\n      present: ['ssh-ed25519 AAAA']\n").rfind("p.yml:4: ", 0), 0U);
  EXPECT_EQ(error_of("sshd:\n  X11Forwarding: no\nwindow: {for: soon}\n"),
            "p.yml:3: 'soon' is not a duration (90s, 30m, 2h, 1d)");
  EXPECT_EQ(error_of("sshd:\n  X11Forwarding: no\n  x11forwarding: yes\n"),
            "p.yml:3: X11Forwarding is given twice (first at line 2)");
  EXPECT_EQ(error_of("shd:\n  X11Forwarding: no\n").rfind("p.yml:1: unknown key 'shd' in the policy", 0), 0U);
  EXPECT_EQ(error_of("sshd:\n  X11Forwarding: no\n    MaxAuthTries: 3\nusers: {}\n"),
            "p.yml:3: not YAML: illegal map value");
  EXPECT_EQ(error_of("sshd:\n  Include: /etc/x\n"), "p.yml:2: Include cannot be set by a policy");
  EXPECT_EQ(error_of("description: nothing\n"), "p.yml: the policy asks for nothing (no sshd, match or users)");
  EXPECT_EQ(error_of("users:\n  bob:\n    locked: true\n    password: {env: X}\n"),
            "p.yml:3: a locked account gets no new password");
}

TEST(Policy, KeyFilesAreReadFromThePolicysDirectory) {
  const std::string dir = ::testing::TempDir();
  {
    std::ofstream(dir + "/k.pub") << "# a comment\n" << kKey << "\n";
    std::ofstream(dir + "/p.yml") << "users:\n  alice:\n    keys:\n      present: [{file: k.pub}]\n"
                                     "      absent: [{file: k.pub}]\n";
  }
  const auto p = load_policy(dir + "/p.yml");
  ASSERT_EQ(p.users.size(), 1U);
  EXPECT_EQ(p.users[0].keys_present, std::vector<std::string>{std::string(kKey)});
  ASSERT_TRUE(p.users[0].keys_absent[0].blob.has_value());
  EXPECT_EQ(p.users[0].keys_absent[0].blob->rfind("AAAAC3", 0), 0U);
  EXPECT_THROW(load_policy(dir + "/missing.yml"), Error);
}

TEST(Policy, TheExamplesLoad) {
  for (const char* name : {"baseline.yml", "maintenance-root.yml", "key-rotation.yml"}) {
    const auto p = load_policy(std::string(SSHDCTL_EXAMPLES) + "/policies/" + name);
    EXPECT_FALSE(p.description.empty()) << name;
  }
  const auto baseline = load_policy(std::string(SSHDCTL_EXAMPLES) + "/policies/baseline.yml");
  EXPECT_EQ(baseline.window_s, 0);
  EXPECT_EQ(load_policy(std::string(SSHDCTL_EXAMPLES) + "/policies/maintenance-root.yml").window_s, 7200);
}

TEST(Duration, ParsesUnitsAndRefusesTheRest) {
  EXPECT_EQ(text::parse_duration("90"), 90);
  EXPECT_EQ(text::parse_duration("90s"), 90);
  EXPECT_EQ(text::parse_duration("30m"), 1800);
  EXPECT_EQ(text::parse_duration("2h"), 7200);
  EXPECT_EQ(text::parse_duration("1d"), 86400);
  EXPECT_EQ(text::parse_duration("0s"), std::nullopt);
  EXPECT_EQ(text::parse_duration("2w"), std::nullopt);
  EXPECT_EQ(text::parse_duration("h"), std::nullopt);
  EXPECT_EQ(text::parse_duration("-5m"), std::nullopt);
  EXPECT_EQ(text::parse_duration("99999999999"), std::nullopt);
}

}  // namespace
}  // namespace sshdctl::fleet

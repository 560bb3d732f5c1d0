#include "sshdctl/doctor/doctor.h"

#include <gtest/gtest.h>

#include <map>

namespace sshdctl::doctor {
namespace {

using accounts::ShadowEntry;

AccessLists deny_users(std::vector<std::string> patterns) {
  AccessLists lists;
  for (auto& p : patterns) lists.deny_users.push_back({p, "/etc/ssh/sshd_config:9", ""});
  return lists;
}

TEST(DoctorUserPattern, MatchesWildcardsAndUserAtAddress) {
  EXPECT_TRUE(user_pattern_matches("root", "root", "192.0.2.1", "192.0.2.1"));
  EXPECT_TRUE(user_pattern_matches("r*t", "root", "192.0.2.1", "192.0.2.1"));
  EXPECT_TRUE(user_pattern_matches("ro?t", "root", "192.0.2.1", "192.0.2.1"));
  EXPECT_FALSE(user_pattern_matches("ro?t", "rooot", "192.0.2.1", "192.0.2.1"));
  EXPECT_FALSE(user_pattern_matches("Root", "root", "192.0.2.1", "192.0.2.1")) << "user names are case-sensitive";
  EXPECT_TRUE(user_pattern_matches("root@192.0.2.*", "root", "192.0.2.1", "192.0.2.1"));
  EXPECT_TRUE(user_pattern_matches("root@192.0.2.0/24", "root", "192.0.2.1", "192.0.2.1"));
  EXPECT_FALSE(user_pattern_matches("root@10.0.0.0/8", "root", "192.0.2.1", "192.0.2.1"));
  EXPECT_TRUE(user_pattern_matches("*@*.example.com", "alice", "pc.example.com", "192.0.2.1"));
}

TEST(DoctorUserPattern, NegatedHostPartRefusesThatAddress) {
  EXPECT_FALSE(user_pattern_matches("root@!192.0.2.1,*", "root", "192.0.2.1", "192.0.2.1"));
  EXPECT_TRUE(user_pattern_matches("root@!192.0.2.1,*", "root", "198.51.100.7", "198.51.100.7"));
}

TEST(DoctorAccess, DenyUsersRefusesAndNamesTheLine) {
  auto lists = deny_users({"guest", "root"});
  const auto v = check_access(lists, "root", {"root"}, "192.0.2.1", "192.0.2.1");
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.keyword, "DenyUsers");
  ASSERT_NE(v.value, nullptr);
  EXPECT_EQ(v.value->pattern, "root");
  EXPECT_EQ(v.value->where, "/etc/ssh/sshd_config:9");
  EXPECT_TRUE(check_access(lists, "alice", {"alice"}, "192.0.2.1", "192.0.2.1").allowed);
}

TEST(DoctorAccess, AllowUsersMustListTheUser) {
  AccessLists lists;
  lists.allow_users = {{"ecs-user", "f:1", ""}, {"admin@10.0.0.0/8", "f:1", ""}};
  EXPECT_TRUE(check_access(lists, "ecs-user", {}, "192.0.2.1", "192.0.2.1").allowed);
  const auto v = check_access(lists, "admin", {}, "192.0.2.1", "192.0.2.1");
  EXPECT_FALSE(v.allowed) << "admin is allowed from 10/8 only";
  EXPECT_EQ(v.keyword, "AllowUsers");
  EXPECT_TRUE(check_access(lists, "admin", {}, "10.1.2.3", "10.1.2.3").allowed);
}

TEST(DoctorAccess, GroupsAreCheckedAfterUsersInSshdOrder) {
  AccessLists lists;
  lists.deny_groups = {{"wheel*", "f:2", ""}};
  lists.allow_groups = {{"sshusers", "f:3", ""}};
  auto v = check_access(lists, "bob", {"bob", "wheel-adm"}, "h", "192.0.2.1");
  EXPECT_EQ(v.keyword, "DenyGroups");
  v = check_access(lists, "carol", {"carol"}, "h", "192.0.2.1");
  EXPECT_EQ(v.keyword, "AllowGroups");
  EXPECT_TRUE(check_access(lists, "dave", {"dave", "sshusers"}, "h", "192.0.2.1").allowed);
  lists.deny_users = {{"dave", "f:1", "Match User dave"}};
  EXPECT_EQ(check_access(lists, "dave", {"sshusers"}, "h", "192.0.2.1").keyword, "DenyUsers");
}

TEST(DoctorShell, NologinFalseAndMissingShellsAreProblems) {
  EXPECT_TRUE(shell_problem("/usr/sbin/nologin", true).has_value());
  EXPECT_TRUE(shell_problem("/bin/false", true).has_value());
  EXPECT_TRUE(shell_problem("/bin/zsh", false).has_value());
  EXPECT_FALSE(shell_problem("/bin/bash", true).has_value());
  const std::string shells = "# /etc/shells: valid login shells\n/bin/sh\n/bin/bash\n/usr/bin/bash\n";
  EXPECT_TRUE(listed_in_shells("/bin/bash", shells));
  EXPECT_FALSE(listed_in_shells("/usr/bin/fish", shells));
}

TEST(DoctorShadow, TellsLockedNoPasswordEmptyAndExpired) {
  const long today = 20000;
  EXPECT_EQ(password_state({"$y$j9T$salt$hash", "19990", "", ""}, today), PasswordState::kUsable);
  EXPECT_EQ(password_state({"!$y$j9T$salt$hash", "19990", "", ""}, today), PasswordState::kLocked);
  EXPECT_EQ(password_state({"!", "19990", "", ""}, today), PasswordState::kNone);
  EXPECT_EQ(password_state({"!*", "19990", "", ""}, today), PasswordState::kNone);
  EXPECT_EQ(password_state({"*", "19990", "", ""}, today), PasswordState::kNone);
  EXPECT_EQ(password_state({"", "19990", "", ""}, today), PasswordState::kEmpty);
  EXPECT_EQ(password_state({"$6$s$h", "19990", "19999", ""}, today), PasswordState::kAccountExpired);
  EXPECT_EQ(password_state({"$6$s$h", "19990", "20001", ""}, today), PasswordState::kUsable);
  EXPECT_EQ(password_state({"$6$s$h", "19000", "", "90"}, today), PasswordState::kPasswordExpired);
  EXPECT_EQ(password_state({"$6$s$h", "19000", "", "99999"}, today), PasswordState::kUsable);
  EXPECT_EQ(password_state({"$6$s$h", "0", "", ""}, today), PasswordState::kMustChange);
}

TEST(DoctorPam, FindsNologinThroughIncludes) {
  const std::map<std::string, std::string> files{
      {"/etc/pam.d/sshd",
       "# PAM configuration for the Secure Shell service\n@include common-auth\n"
       "session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close\n"
       "account include system-account\n"},
      {"/etc/pam.d/common-auth", "auth [success=1 default=ignore] pam_unix.so nullok\n"},
      {"/etc/pam.d/system-account", "# x\n\naccount    required     pam_nologin.so\n"},
  };
  const FileReader read = [&](const std::string& path) -> std::optional<std::string> {
    const auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  };
  EXPECT_EQ(pam_nologin_line("sshd", read), "/etc/pam.d/system-account:3");
  const std::map<std::string, std::string> debian{
      {"/etc/pam.d/sshd", "@include common-auth\naccount    required     pam_nologin.so\n@include common-account\n"}};
  EXPECT_EQ(pam_nologin_line("sshd",
                             [&](const std::string& p) -> std::optional<std::string> {
                               const auto it = debian.find(p);
                               return it == debian.end() ? std::nullopt : std::optional<std::string>(it->second);
                             }),
            "/etc/pam.d/sshd:2");
  const std::map<std::string, std::string> commented{{"/etc/pam.d/sshd", "# account required pam_nologin.so\n"}};
  EXPECT_FALSE(pam_nologin_line("sshd", [&](const std::string& p) -> std::optional<std::string> {
                 const auto it = commented.find(p);
                 return it == commented.end() ? std::nullopt : std::optional<std::string>(it->second);
               }).has_value());
}

TEST(DoctorProcNet, ParsesListeningSocketsOnly) {
  const std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1234 1\n"
      "   1: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1235 1\n"
      "   2: 0A00000A:0016 0100000A:C350 01 00000000:00000000 02:000A7B0C 00000000     0        0 1236 4\n";
  const auto v4 = parse_proc_net_tcp(tcp, false);
  ASSERT_EQ(v4.size(), 2U) << "the established connection is left out";
  EXPECT_EQ(v4[0].address, "0.0.0.0");
  EXPECT_EQ(v4[0].port, 22);
  EXPECT_EQ(v4[1].address, "127.0.0.1");
  EXPECT_EQ(v4[1].port, 3306);
  const std::string tcp6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 0 0 0\n"
      "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 0 0 0\n";
  const auto v6 = parse_proc_net_tcp(tcp6, true);
  ASSERT_EQ(v6.size(), 2U);
  EXPECT_EQ(v6[0].address, "::");
  EXPECT_EQ(v6[0].port, 22);
  EXPECT_EQ(v6[1].address, "::1");
  EXPECT_EQ(v6[1].port, 8080);
}

const char* kRuleset = R"(table inet filter { # handle 1
	chain input { # handle 1
		type filter hook input priority filter; policy accept;
		ct state established,related accept # handle 4
		iifname "lo" accept # handle 5
		tcp dport 22 drop # handle 6
	}
	chain output { # handle 2
		type filter hook output priority filter; policy accept;
		tcp dport 22 drop # handle 7
	}
}
)";

TEST(DoctorFirewall, FindsAnNftDropOfTheSshPortWithItsHandle) {
  const auto blocks = nft_blocks(kRuleset, 22, "192.0.2.1");
  ASSERT_EQ(blocks.size(), 1U) << "the output chain does not count";
  EXPECT_TRUE(blocks[0].certain);
  EXPECT_EQ(blocks[0].fix, "nft delete rule inet filter input handle 6");
  EXPECT_NE(blocks[0].rule.find("tcp dport 22 drop"), std::string::npos);
  EXPECT_TRUE(nft_blocks(kRuleset, 2222, "192.0.2.1").empty()) << "another port";
}

TEST(DoctorFirewall, NftSetsRangesSourcesAndEarlierAccepts) {
  const std::string set =
      "table ip f {\nchain in {\ntype filter hook input priority 0; policy accept;\n"
      "tcp dport { 80, ssh, 443 } reject with tcp reset # handle 3\n}\n}\n";
  EXPECT_EQ(nft_blocks(set, 22, "192.0.2.1").size(), 1U);
  const std::string range =
      "table ip f {\nchain in {\ntype filter hook input priority 0;\n"
      "tcp dport 1-1024 drop # handle 3\n}\n}\n";
  EXPECT_EQ(nft_blocks(range, 22, "192.0.2.1").size(), 1U);
  const std::string other_source =
      "table ip f {\nchain in {\ntype filter hook input priority 0;\n"
      "ip saddr 10.0.0.0/8 tcp dport 22 drop # handle 3\n}\n}\n";
  EXPECT_TRUE(nft_blocks(other_source, 22, "192.0.2.1").empty()) << "a rule for other clients";
  EXPECT_EQ(nft_blocks(other_source, 22, "10.1.1.1").size(), 1U);
  const std::string accepted =
      "table ip f {\nchain in {\ntype filter hook input priority 0;\n"
      "tcp dport 22 accept # handle 2\ntcp dport 22 drop # handle 3\n}\n}\n";
  EXPECT_TRUE(nft_blocks(accepted, 22, "192.0.2.1").empty()) << "accepted before the drop";
  const std::string udp =
      "table ip f {\nchain in {\ntype filter hook input priority 0;\n"
      "udp dport 22 drop # handle 3\n}\n}\n";
  EXPECT_TRUE(nft_blocks(udp, 22, "192.0.2.1").empty());
}

TEST(DoctorFirewall, NftPolicyDropWithoutAnAcceptForThePort) {
  const std::string closed =
      "table inet f {\nchain in {\ntype filter hook input priority 0; policy drop;\n"
      "ct state established accept # handle 2\ntcp dport 80 accept # handle 3\n}\n}\n";
  const auto blocks = nft_blocks(closed, 22, "192.0.2.1");
  ASSERT_EQ(blocks.size(), 1U);
  EXPECT_EQ(blocks[0].fix, "nft insert rule inet f in tcp dport 22 accept");
  const std::string open =
      "table inet f {\nchain in {\ntype filter hook input priority 0; policy drop;\n"
      "tcp dport { 22, 80 } accept # handle 3\n}\n}\n";
  EXPECT_TRUE(nft_blocks(open, 22, "192.0.2.1").empty());
}

TEST(DoctorFirewall, IptablesSaveDropsAndPolicies) {
  const std::string save =
      "# Generated by iptables-save\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
      "-A INPUT -s 10.0.0.0/8 -p tcp -m tcp --dport 22 -j DROP\n"
      "-A INPUT -p tcp -m multiport --dports 80,22 -j REJECT --reject-with tcp-reset\nCOMMIT\n";
  const auto blocks = iptables_blocks(save, 22, "192.0.2.1", "iptables");
  ASSERT_EQ(blocks.size(), 1U) << "the 10/8 rule is not for this client";
  EXPECT_EQ(blocks[0].fix,
            "iptables -t filter -D INPUT -p tcp -m multiport --dports 80,22 -j REJECT --reject-with tcp-reset");
  const std::string policy = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 443 -j ACCEPT\nCOMMIT\n";
  ASSERT_EQ(iptables_blocks(policy, 22, "192.0.2.1", "iptables").size(), 1U);
  const std::string allowed = "*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n";
  EXPECT_TRUE(iptables_blocks(allowed, 22, "192.0.2.1", "iptables").empty());
}

TEST(DoctorSession, ReadsTheClientOfSshConnection) {
  const std::string env = std::string("PATH=/usr/bin") + '\0' + "SSH_CONNECTION=10.213.4.254 51234 10.213.4.1 22" +
                          '\0' + "HOME=/root" + '\0';
  EXPECT_EQ(ssh_connection_client(env), "10.213.4.254");
  EXPECT_FALSE(ssh_connection_client(std::string("PATH=/bin") + '\0').has_value());
}

}  // namespace
}  // namespace sshdctl::doctor

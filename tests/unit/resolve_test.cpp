#include "sshdctl/config/resolve.h"

#include <gtest/gtest.h>

#include <tuple>
#include <utility>

#include "model_builder.h"

namespace sshdctl::config {
namespace {

using testing::block;
using testing::line;
using testing::Tree;

OptionKey key(const char* name) { return OptionKey{find_keyword(name), {}}; }

Connection user(const std::string& name, std::optional<std::string> addr = std::nullopt) {
  Connection c;
  c.user = name;
  c.groups = std::vector<std::string>{name};
  c.addr = std::move(addr);
  c.host = c.addr;
  return c;
}

TEST(Flatten, ExpandsIncludesInPlace) {
  const Tree t = testing::debian_cloud();
  const Model m = t.model();
  ASSERT_EQ(m.files.size(), 2U);
  EXPECT_EQ(m.files[1], "/etc/ssh/sshd_config.d/50-cloud-init.conf");
  EXPECT_EQ(m.entries.front().directive->keyword, "PasswordAuthentication");
}

TEST(ResolveGlobal, DropInIncludedFirstBeatsTheMainFile) {
  Tree t = testing::debian_cloud();
  t.files["/etc/ssh/sshd_config"].global.push_back(line(120, "PasswordAuthentication", {"yes"}));
  const Model m = t.model();
  const auto eff = resolve_global(m, key("PasswordAuthentication"));
  EXPECT_EQ(eff.values, std::vector<std::string>{"no"});
  ASSERT_EQ(eff.sources.size(), 1U);
  EXPECT_EQ(eff.sources[0]->file, "/etc/ssh/sshd_config.d/50-cloud-init.conf");
  ASSERT_EQ(eff.ignored.size(), 1U);
  EXPECT_EQ(eff.ignored[0]->directive->line, 120);
}

TEST(ResolveGlobal, KeywordsAreCaseInsensitiveAndAliasesCount) {
  Tree t;
  t.file("/etc/ssh/sshd_config",
         {line(1, "challengeresponseauthentication", {"no"}), line(2, "KbdInteractiveAuthentication", {"yes"})});
  const auto eff = resolve_global(t.model(), key("KbdInteractiveAuthentication"));
  EXPECT_EQ(eff.values, std::vector<std::string>{"no"});
}

TEST(ResolveGlobal, AccumulatesPortsAcrossFiles) {
  Tree t = testing::debian_cloud();
  t.files["/etc/ssh/sshd_config"].global.push_back(line(14, "Port", {"22"}));
  t.files["/etc/ssh/sshd_config.d/50-cloud-init.conf"].global.push_back(line(2, "port", {"2222"}));
  const auto eff = resolve_global(t.model(), key("Port"));
  EXPECT_EQ(eff.values, (std::vector<std::string>{"2222", "22"}));
  EXPECT_EQ(eff.sources.size(), 2U);
}

TEST(ResolveFor, MatchingBlockBeatsGlobalValueWhereverItIs) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "PermitRootLogin", {"no"})},
         {block(10, {{"User", "root"}}, {line(11, "PermitRootLogin", {"yes"})})});
  const Model m = t.model();
  const auto for_root = resolve_for(m, key("PermitRootLogin"), user("root"), Unknown::kIgnore);
  EXPECT_EQ(for_root.values, std::vector<std::string>{"yes"});
  EXPECT_TRUE(for_root.from_match);
  EXPECT_EQ(resolve_for(m, key("PermitRootLogin"), user("alice"), Unknown::kIgnore).values,
            std::vector<std::string>{"no"});
  const auto global = resolve_global(m, key("PermitRootLogin"));
  EXPECT_EQ(global.values, std::vector<std::string>{"no"});
  EXPECT_EQ(global.uncertain.size(), 1U);
}

TEST(ResolveFor, FirstMatchingBlockWins) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {},
         {block(10, {{"User", "*"}}, {line(11, "PasswordAuthentication", {"no"})}),
          block(20, {{"User", "root"}}, {line(21, "PasswordAuthentication", {"yes"})})});
  EXPECT_EQ(resolve_for(t.model(), key("PasswordAuthentication"), user("root"), Unknown::kIgnore).values,
            std::vector<std::string>{"no"});
}

TEST(ResolveFor, AddressBlocksAreUncertainWithoutAnAddress) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "PasswordAuthentication", {"yes"})},
         {block(10, {{"Address", "10.0.0.0/8"}}, {line(11, "PasswordAuthentication", {"no"})})});
  const Model m = t.model();
  EXPECT_EQ(resolve_for(m, key("PasswordAuthentication"), user("root"), Unknown::kIgnore).values,
            std::vector<std::string>{"yes"});
  EXPECT_EQ(resolve_for(m, key("PasswordAuthentication"), user("root"), Unknown::kAssume).values,
            std::vector<std::string>{"no"});
  EXPECT_EQ(resolve_for(m, key("PasswordAuthentication"), user("root", "10.9.9.9"), Unknown::kIgnore).values,
            std::vector<std::string>{"no"});
}

TEST(ResolveFor, IncludeInsideMatchNeedsBothBlocks) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {}, {block(10, {{"User", "admin"}}, {line(11, "Include", {"/etc/ssh/admin.conf"})})});
  t.file("/etc/ssh/admin.conf", {line(1, "X11Forwarding", {"yes"})},
         {block(3, {{"Address", "10.0.0.0/8"}}, {line(4, "PermitRootLogin", {"yes"})})});
  const Model m = t.model();
  EXPECT_EQ(resolve_for(m, key("X11Forwarding"), user("admin"), Unknown::kIgnore).values,
            std::vector<std::string>{"yes"});
  EXPECT_TRUE(resolve_for(m, key("X11Forwarding"), user("bob"), Unknown::kIgnore).values.empty());
  EXPECT_EQ(resolve_for(m, key("PermitRootLogin"), user("admin", "10.0.0.1"), Unknown::kIgnore).values,
            std::vector<std::string>{"yes"});
  EXPECT_TRUE(resolve_for(m, key("PermitRootLogin"), user("root", "10.0.0.1"), Unknown::kIgnore).values.empty());
}

TEST(ResolveGlobal, MatchAllLinesAreGlobal) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {},
         {block(1, {{"User", "guest"}}, {line(2, "X11Forwarding", {"no"})}),
          block(3, {{"all", ""}}, {line(4, "PermitRootLogin", {"no"})})});
  EXPECT_EQ(resolve_global(t.model(), key("PermitRootLogin")).values, std::vector<std::string>{"no"});
  EXPECT_TRUE(resolve_global(t.model(), key("X11Forwarding")).values.empty());
}

// sshd -T (and every connection) reads the files again with the connection's details, and a
// matching block's value replaces the global one: `Match all` always matches.
// (tests/fixtures/differential/value-allowtcpforwarding-205: sshd -T says yes, i.e. "all")
TEST(ResolveGlobal, MatchAllValueOverridesTheGlobalLines) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "AllowTcpForwarding", {"\"local\""})},
         {block(2, {{"All", ""}}, {line(3, "AllowTcpForwarding", {"all"})})});
  const Model m = t.model();
  const auto eff = resolve_global(m, key("AllowTcpForwarding"));
  EXPECT_EQ(eff.values, std::vector<std::string>{"all"});
  ASSERT_EQ(eff.sources.size(), 1U);
  EXPECT_EQ(eff.sources[0]->directive->line, 3);
  EXPECT_TRUE(eff.from_match);
  ASSERT_EQ(eff.ignored.size(), 1U);
  EXPECT_EQ(eff.ignored[0]->directive->line, 1);
  EXPECT_EQ(resolve_for(m, key("AllowTcpForwarding"), user("bob"), Unknown::kIgnore).values,
            std::vector<std::string>{"all"});
}

// tests/fixtures/differential/value-hostkey-532: sshd lists the key twice.
TEST(ResolveGlobal, AGlobalOnlyKeywordInMatchAllAddsToTheGlobalLines) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "HostKey", {"/etc/ssh/ssh_host_ecdsa_key"})},
         {block(2, {{"ALL", ""}}, {line(3, "HostKey", {"/etc/ssh/ssh_host_ecdsa_key"})})});
  const Model m = t.model();
  EXPECT_EQ(resolve_global(m, key("HostKey")).values.size(), 2U);
  EXPECT_EQ(resolve_for(m, key("HostKey"), user("bob"), Unknown::kIgnore).values.size(), 2U);
}

TEST(ResolveGlobal, MatchAllReplacesAnAccumulatedList) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "AllowUsers", {"alice"}), line(2, "AllowUsers", {"bob"})},
         {block(3, {{"all", ""}}, {line(4, "AllowUsers", {"carol"})})});
  const Model m = t.model();
  const auto eff = resolve_global(m, key("AllowUsers"));
  EXPECT_EQ(eff.values, std::vector<std::string>{"carol"});
  EXPECT_EQ(eff.ignored.size(), 2U);
}

// servconf.c assigns these on every line: the last line wins, unlike sshd_config(5)'s rule.
// (tests/fixtures/differential/value-fingerprinthash-167, value-maxstartups-218, …)
TEST(ResolveGlobal, LastLineWinsForTheKeywordsSshdOverrides) {
  for (const char* name : {"FingerprintHash", "IPQoS", "MaxStartups", "PerSourceMaxStartups", "PerSourceNetBlockSize",
                           "StreamLocalBindMask"}) {
    Tree t;
    t.file("/etc/ssh/sshd_config", {line(1, name, {"first"}), line(2, name, {"middle"}), line(3, name, {"last"})});
    const Model m = t.model();
    const auto eff = resolve_global(m, key(name));
    EXPECT_EQ(eff.values, std::vector<std::string>{"last"}) << name;
    ASSERT_EQ(eff.sources.size(), 1U) << name;
    EXPECT_EQ(eff.sources[0]->directive->line, 3) << name;
    EXPECT_EQ(eff.ignored.size(), 2U) << name;
  }
  Tree first;
  first.file("/etc/ssh/sshd_config", {line(1, "LoginGraceTime", {"10"}), line(2, "LoginGraceTime", {"20"})});
  EXPECT_EQ(resolve_global(first.model(), key("LoginGraceTime")).values, std::vector<std::string>{"10"});
}

// MaxStartups of one number sets start and full only: the rate of the line before stays, and
// such values are the same whatever their rates, since sshd never uses it when start equals
// full (tests/fixtures/differential/value-maxstartups-4413, -8032, edit-effect-maxstartups-7411).
TEST(ResolveGlobal, MaxStartupsOfOneNumberKeepsTheRateBefore) {
  Tree t;
  t.file("/etc/ssh/sshd_config",
         {line(1, "MaxStartups", {"5:50:20"}), line(2, "MaxStartups", {"8"}), line(3, "MaxStartups", {"\"20\""})});
  const Model m = t.model();
  const auto eff = resolve_global(m, key("MaxStartups"));
  EXPECT_EQ(eff.values, std::vector<std::string>{"20:50:20"});
  ASSERT_EQ(eff.sources.size(), 2U);
  EXPECT_EQ(eff.sources[0]->directive->line, 3);  // decides start and full
  EXPECT_EQ(eff.sources[1]->directive->line, 1);  // gives the rate
  ASSERT_EQ(eff.ignored.size(), 1U);
  EXPECT_EQ(eff.ignored[0]->directive->line, 2);
  const Keyword& kw = *find_keyword("MaxStartups");
  EXPECT_TRUE(same_values(kw, {"20:50:20"}, {"20"}));
  EXPECT_TRUE(same_values(kw, {"10:30:100"}, {"10:30:100"}));
  EXPECT_TRUE(same_values(kw, {"10"}, {"10:30:10"}));
  EXPECT_FALSE(same_values(kw, {"10:50:100"}, {"10:30:100"}));
  EXPECT_FALSE(same_values(kw, {"10:30:100"}, {"10"}));
  EXPECT_FALSE(same_values(kw, {"20:50:20"}, {"30"}));
  // A three-number line after it sets all three.
  Tree all;
  all.file("/etc/ssh/sshd_config", {line(1, "MaxStartups", {"5:50:20"}), line(2, "MaxStartups", {"10:30:100"})});
  EXPECT_EQ(resolve_global(all.model(), key("MaxStartups")).values, std::vector<std::string>{"10:30:100"});
}

// servconf.c assigns UnusedConnectionTimeout's "none" on every line, a time only while unset
// (tests/fixtures/differential/value-unusedconnectiontimeout-274, -507).
TEST(ResolveGlobal, UnusedConnectionTimeoutTakesANoneOverAnyTimeAndElseTheFirstTime) {
  const auto resolved = [](std::vector<const char*> values) {
    Tree t;
    std::vector<Directive> lines;
    int n = 0;
    for (const char* v : values) lines.push_back(line(++n, "UnusedConnectionTimeout", {v}));
    t.file("/etc/ssh/sshd_config", lines);
    const Model m = t.model();
    const auto eff = resolve_global(m, key("UnusedConnectionTimeout"));
    return std::make_pair(eff.values.empty() ? std::string() : eff.values[0],
                          eff.sources.empty() ? 0 : eff.sources[0]->directive->line);
  };
  EXPECT_EQ(resolved({"none", "3600"}), std::make_pair(std::string("none"), 1));
  EXPECT_EQ(resolved({"3600", "none"}), std::make_pair(std::string("none"), 2));
  EXPECT_EQ(resolved({"3600", "60", "none", "120", "none"}), std::make_pair(std::string("none"), 3));
  EXPECT_EQ(resolved({"3600", "60"}), std::make_pair(std::string("3600"), 1));
  EXPECT_EQ(resolved({"5m", "\"none\""}).second, 2);  // sshd reads the quoted word as none
}

TEST(ResolveFor, ANoneInALaterBlockMayStillDecideUnusedConnectionTimeout) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {},
         {block(1, {{"User", "bob"}}, {line(2, "UnusedConnectionTimeout", {"60"})}),
          block(3, {{"Address", "10.0.0.0/8"}}, {line(4, "UnusedConnectionTimeout", {"none"})}),
          block(5, {{"Address", "10.0.0.0/8"}}, {line(6, "UnusedConnectionTimeout", {"120"})})});
  const Model m = t.model();
  const auto k = key("UnusedConnectionTimeout");
  EXPECT_EQ(resolve_for(m, k, user("bob", "10.1.2.3"), Unknown::kIgnore).values, std::vector<std::string>{"none"});
  EXPECT_EQ(resolve_for(m, k, user("bob", "192.0.2.1"), Unknown::kIgnore).values, std::vector<std::string>{"60"});
  // bob from an unknown address: the none may decide; nothing after a none can
  EXPECT_EQ(possible_deciders(m, k, user("bob")).lines.size(), 3U);
  EXPECT_EQ(possible_deciders(m, k, user("alice", "10.1.2.3")).lines.size(), 1U);
}

// servconf.c sets RekeyLimit's amount and interval each while unset
// (tests/fixtures/differential/value-rekeylimit-154).
TEST(ResolveGlobal, RekeyLimitTakesEachPartFromTheFirstLineThatGivesIt) {
  const auto resolved = [](std::vector<std::vector<std::string>> lines) {
    Tree t;
    std::vector<Directive> directives;
    int n = 0;
    for (auto& words : lines) directives.push_back(line(++n, "RekeyLimit", std::move(words)));
    t.file("/etc/ssh/sshd_config", directives);
    const Model m = t.model();
    const auto eff = resolve_global(m, key("RekeyLimit"));
    std::vector<int> from;
    for (const Entry* e : eff.sources) from.push_back(e->directive->line);
    return std::make_tuple(eff.values, from, eff.ignored.size());
  };
  using V = std::vector<std::string>;
  using L = std::vector<int>;
  EXPECT_EQ(resolved({{"500M"}, {"default", "30m"}}), std::make_tuple(V{"500M", "30m"}, L{1, 2}, 0U));
  EXPECT_EQ(resolved({{"1G", "none"}, {"2G", "1h"}}), std::make_tuple(V{"1G", "1h"}, L{1, 2}, 0U));
  EXPECT_EQ(resolved({{"1G", "10m"}, {"2G", "1h"}}), std::make_tuple(V{"1G", "10m"}, L{1}, 1U));
  EXPECT_EQ(resolved({{"1G"}, {"2G"}, {"3G", "1h"}}), std::make_tuple(V{"1G", "1h"}, L{1, 3}, 1U));
}

TEST(ResolveFor, ABlockThatGivesNoRekeyIntervalKeepsTheGlobalOne) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "RekeyLimit", {"1G", "20m"})},
         {block(2, {{"User", "bob"}}, {line(3, "RekeyLimit", {"2G"})}),
          block(4, {{"all", ""}}, {line(5, "AllowTcpForwarding", {"no"})})});
  const Model m = t.model();
  const auto bob = resolve_for(m, key("RekeyLimit"), user("bob"), Unknown::kIgnore);
  EXPECT_EQ(bob.values, (std::vector<std::string>{"2G", "20m"}));
  ASSERT_EQ(bob.sources.size(), 2U);
  EXPECT_EQ(bob.sources[1]->directive->line, 1);
  EXPECT_TRUE(bob.ignored.empty());
  EXPECT_EQ(resolve_for(m, key("RekeyLimit"), user("alice"), Unknown::kIgnore).values,
            (std::vector<std::string>{"1G", "20m"}));
}

TEST(ResolveFor, LastMatchingLineWinsForIPQoS) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "IPQoS", {"lowdelay"})},
         {block(2, {{"User", "bob"}}, {line(3, "IPQoS", {"af21"})}),
          block(4, {{"Address", "10.0.0.0/8"}}, {line(5, "IPQoS", {"af42"})})});
  const Model m = t.model();
  EXPECT_EQ(resolve_for(m, key("IPQoS"), user("bob", "10.1.2.3"), Unknown::kIgnore).values,
            std::vector<std::string>{"af42"});
  EXPECT_EQ(resolve_for(m, key("IPQoS"), user("bob", "192.0.2.1"), Unknown::kIgnore).values,
            std::vector<std::string>{"af21"});
  // bob from an unknown address: the second block may decide too
  EXPECT_EQ(possible_deciders(m, key("IPQoS"), user("bob")).lines.size(), 2U);
}

TEST(ResolveGlobal, SubsystemNameMayBeQuoted) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "Subsystem", {"\"sftp\"", "internal-sftp"})});
  EXPECT_EQ(resolve_global(t.model(), OptionKey{find_keyword("Subsystem"), "sftp"}).values,
            std::vector<std::string>{"internal-sftp"});
}

TEST(ResolveGlobal, SubsystemIsKeyedByName) {
  Tree t;
  t.file("/etc/ssh/sshd_config",
         {line(1, "Subsystem", {"sftp", "internal-sftp"}), line(2, "Subsystem", {"backup", "/usr/bin/backup", "-q"}),
          line(3, "Subsystem", {"SFTP", "/usr/lib/sftp-server"})});
  const Model m = t.model();
  const auto sftp = resolve_global(m, OptionKey{find_keyword("Subsystem"), "sftp"});
  EXPECT_EQ(sftp.values, std::vector<std::string>{"internal-sftp"});
  EXPECT_TRUE(sftp.ignored.empty());  // "SFTP" is another subsystem: sshd compares names exactly
  EXPECT_EQ(resolve_global(m, OptionKey{find_keyword("Subsystem"), "backup"}).values,
            (std::vector<std::string>{"/usr/bin/backup", "-q"}));
}

TEST(ListenStreams, PortsAloneListenEverywhere) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "Port", {"2222"}), line(2, "Port", {"22"})});
  EXPECT_EQ(listen_streams(t.model()), (std::vector<std::string>{"2222", "22"}));
  Tree d;
  d.file("/etc/ssh/sshd_config", {line(1, "UsePAM", {"yes"})});
  EXPECT_EQ(listen_streams(d.model()), std::vector<std::string>{"22"});
}

TEST(ListenStreams, ListenAddressesTakeEveryPortOrTheirOwn) {
  Tree t;
  t.file("/etc/ssh/sshd_config", {line(1, "Port", {"2222"}), line(2, "ListenAddress", {"10.0.0.1"}),
                                  line(3, "ListenAddress", {"[2001:db8::1]:22"}), line(4, "ListenAddress", {"::1"}),
                                  line(5, "ListenAddress", {"192.0.2.1:2200", "rdomain", "vrf"})});
  EXPECT_EQ(listen_streams(t.model()),
            (std::vector<std::string>{"10.0.0.1:2222", "[2001:db8::1]:22", "[::1]:2222", "192.0.2.1:2200"}));
}

}  // namespace
}  // namespace sshdctl::config

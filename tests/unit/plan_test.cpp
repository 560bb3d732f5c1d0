#include "sshdctl/config/plan.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "model_builder.h"

namespace sshdctl::config {
namespace {

using testing::block;
using testing::line;
using testing::Tree;

OptionKey key(const char* name) { return OptionKey{find_keyword(name), {}}; }
constexpr const char* kMain = "/etc/ssh/sshd_config";
constexpr const char* kCloudInit = "/etc/ssh/sshd_config.d/50-cloud-init.conf";

TEST(PlanSet, EditsTheWinningLineInTheDropIn) {
  const Tree t = testing::debian_cloud();
  const Model m = t.model();
  const Plan plan = plan_set(m, key("PasswordAuthentication"), {"yes"});
  ASSERT_EQ(plan.edits.size(), 1U);
  EXPECT_EQ(plan.edits[0].kind, Edit::Kind::kReplace);
  EXPECT_EQ(plan.edits[0].file, kCloudInit);
  EXPECT_EQ(plan.edits[0].setting.args, std::vector<std::string>{"yes"});
}

TEST(PlanSet, ChangesNothingWhenTheValueIsAlreadyEffective) {
  const Tree t = testing::debian_cloud();
  const Model m = t.model();
  EXPECT_TRUE(plan_set(m, key("PermitRootLogin"), {"no"}).empty());
  EXPECT_TRUE(plan_set(m, key("usepam"), {"YES"}).empty());
}

TEST(SameValues, CommaListsCompareByItem) {
  const Keyword& ciphers = *find_keyword("Ciphers");
  EXPECT_TRUE(same_values(ciphers, {"a,b"}, {"a", "b"}));
  EXPECT_FALSE(same_values(ciphers, {"a,b"}, {"b", "a"}));
  EXPECT_TRUE(same_values(*find_keyword("PermitRootLogin"), {"YES"}, {"yes"}));
  EXPECT_FALSE(same_values(*find_keyword("AllowUsers"), {"a", "b"}, {"a"}));
}

TEST(PlanSet, InsertsAMissingKeywordIntoTheMainFile) {
  const Tree t = testing::debian_cloud();
  const Model m = t.model();
  const Plan plan = plan_set(m, key("Banner"), {"/etc/issue.net"});
  ASSERT_EQ(plan.edits.size(), 1U);
  EXPECT_EQ(plan.edits[0].kind, Edit::Kind::kInsertGlobal);
  EXPECT_EQ(plan.edits[0].file, kMain);
}

TEST(PlanSet, ReportsLinesThatLose) {
  Tree t = testing::debian_cloud();
  t.files[kMain].global.push_back(line(120, "PasswordAuthentication", {"yes"}));
  const Plan plan = plan_set(t.model(), key("PasswordAuthentication"), {"no"});
  EXPECT_TRUE(plan.edits.empty());
  ASSERT_EQ(plan.notes.size(), 1U);
  EXPECT_EQ(plan.notes[0].where.line, 120);
  EXPECT_NE(plan.notes[0].text.find("has no effect"), std::string::npos);
}

TEST(PlanSet, EditsTheLastLineOfAKeywordWhoseLastLineWins) {
  Tree t;
  t.file(kMain, {line(1, "MaxStartups", {"20"}), line(2, "MaxStartups", {"5:50:20"})});
  const Model m = t.model();
  const Plan plan = plan_set(m, key("MaxStartups"), {"30"});
  ASSERT_EQ(plan.edits.size(), 1U);
  EXPECT_EQ(plan.edits[0].kind, Edit::Kind::kReplace);
  EXPECT_EQ(plan.edits[0].path, m.entries[1].directive->path);
  ASSERT_EQ(plan.notes.size(), 1U);
  EXPECT_EQ(plan.notes[0].where.line, 1);
  EXPECT_NE(plan.notes[0].text.find("sshd uses the last value"), std::string::npos);
  EXPECT_TRUE(plan_set(m, key("MaxStartups"), {"5:50:20"}).edits.empty());
}

// A time must replace the first line and every "none" (each overrides a time); a "none" needs
// only the line that decides.
TEST(PlanSet, UnusedConnectionTimeoutReplacesEveryLineThatWouldBeatATime) {
  Tree t;
  t.file(kMain, {line(1, "UnusedConnectionTimeout", {"3600"}), line(2, "UnusedConnectionTimeout", {"60"}),
                 line(3, "UnusedConnectionTimeout", {"none"}), line(4, "UnusedConnectionTimeout", {"NONE"})});
  const Model m = t.model();
  const Plan plan = plan_set(m, key("UnusedConnectionTimeout"), {"120"});
  std::vector<int> lines;
  for (const auto& e : plan.edits) {
    EXPECT_EQ(e.kind, Edit::Kind::kReplace);
    for (const auto& entry : m.entries)
      if (entry.directive->path == e.path) lines.push_back(entry.directive->line);
  }
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<int>{1, 3, 4}));  // line 2 loses to line 1's new value
  EXPECT_TRUE(plan_set(m, key("UnusedConnectionTimeout"), {"none"}).edits.empty());

  Tree times;
  times.file(kMain, {line(1, "UnusedConnectionTimeout", {"3600"}), line(2, "UnusedConnectionTimeout", {"60"})});
  const Model tm = times.model();
  const Plan to_none = plan_set(tm, key("UnusedConnectionTimeout"), {"none"});
  ASSERT_EQ(to_none.edits.size(), 1U);
  EXPECT_EQ(to_none.edits[0].path, tm.entries[0].directive->path);
}

TEST(PlanSetInBlock, UnusedConnectionTimeoutReplacesTheNoneThatDecidesTheBlock) {
  Tree t;
  t.file(kMain, {},
         {block(1, {{"User", "bob"}},
                {line(2, "UnusedConnectionTimeout", {"60"}), line(3, "UnusedConnectionTimeout", {"none"})})});
  const Model m = t.model();
  EXPECT_TRUE(plan_set_in_block(m, key("UnusedConnectionTimeout"), {"none"}, {{"User", "bob"}}).edits.empty());
  const Plan plan = plan_set_in_block(m, key("UnusedConnectionTimeout"), {"300"}, {{"User", "bob"}});
  EXPECT_EQ(plan.edits.size(), 2U);  // both lines: the none, and the first that then decides
}

// RekeyLimit 4G alone must not keep a later line's interval: that line is replaced too.
TEST(PlanSet, RekeyLimitWithoutAnIntervalReplacesTheLineThatGaveOne) {
  Tree t;
  t.file(kMain, {line(1, "RekeyLimit", {"500M"}), line(2, "RekeyLimit", {"default", "30m"}),
                 line(3, "RekeyLimit", {"1G", "none"})});
  const Model m = t.model();
  const Plan plan = plan_set(m, key("RekeyLimit"), {"4G"});
  ASSERT_EQ(plan.edits.size(), 2U);
  EXPECT_EQ(plan.edits[0].path, m.entries[0].directive->path);
  EXPECT_EQ(plan.edits[1].path, m.entries[1].directive->path);
  // with both parts the first line decides both
  const Plan both = plan_set(m, key("RekeyLimit"), {"4G", "1h"});
  ASSERT_EQ(both.edits.size(), 1U);
  EXPECT_EQ(both.edits[0].path, m.entries[0].directive->path);
  EXPECT_TRUE(plan_set(m, key("RekeyLimit"), {"500M", "30m"}).edits.empty());
}

TEST(PlanSet, EditsTheMatchAllLineThatOverridesTheGlobalOne) {
  Tree t;
  t.file(kMain, {line(1, "X11Forwarding", {"yes"})}, {block(2, {{"all", ""}}, {line(3, "X11Forwarding", {"yes"})})});
  const Model m = t.model();
  const Plan plan = plan_set(m, key("X11Forwarding"), {"no"});
  ASSERT_EQ(plan.edits.size(), 1U);
  EXPECT_EQ(plan.edits[0].path, m.entries[1].directive->path);
  ASSERT_EQ(plan.notes.size(), 1U);
  EXPECT_NE(plan.notes[0].text.find("the 'Match all' block's value overrides it"), std::string::npos);
  const Plan unset = plan_unset(m, key("X11Forwarding"));
  EXPECT_EQ(unset.edits.size(), 2U);  // both lines: sshd's default is left
}

TEST(PlanSetInBlock, EditsTheLastLineOfAKeywordWhoseLastLineWins) {
  Tree t;
  t.file(kMain, {}, {block(1, {{"User", "bob"}}, {line(2, "IPQoS", {"af21"}), line(3, "IPQoS", {"af42"})})});
  const Model m = t.model();
  const Plan plan = plan_set_in_block(m, key("IPQoS"), {"lowdelay"}, {{"User", "bob"}});
  ASSERT_EQ(plan.edits.size(), 1U);
  EXPECT_EQ(plan.edits[0].path, m.entries[1].directive->path);
  ASSERT_EQ(plan.notes.size(), 1U);
  EXPECT_NE(plan.notes[0].text.find("the last value in the block wins"), std::string::npos);
  EXPECT_TRUE(plan_set_in_block(m, key("IPQoS"), {"af42"}, {{"User", "bob"}}).edits.empty());
}

// The Error `make` throws: a failure of the test when it throws none.
template <typename Make>
Error refusal_of(Make make) {
  try {
    (void)make();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorKind::kInternal, "no error");
}

// tests/fixtures/differential/edit-effect-rekeylimit-3709: the interval "none" in a `Match all`
// block leaves the global lines' interval in place, so "default none" cannot be made
// effective there: the check on the edited tree refuses it, naming what sshd would use.
TEST(RequireEffective, RefusesAnEditThatSshdWouldNotUse) {
  Tree t;
  t.file(kMain, {line(1, "RekeyLimit", {"1G", "1h"})},
         {block(2, {{"all", ""}}, {line(3, "RekeyLimit", {"default", "none"})})});
  const Model edited = t.model();
  const Error e = refusal_of([&] {
    require_set_effective(edited, key("RekeyLimit"), {"default", "none"}, "policy.yml:4");
    return 0;
  });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("policy.yml:4: the edit would not make RekeyLimit effective (sshd would "
                                       "use 'default 1h')"),
            std::string::npos)
      << e.what();
  EXPECT_NO_THROW(require_set_effective(edited, key("RekeyLimit"), {"default", "1h"}));
  const Error left = refusal_of([&] {
    require_unset_effective(edited, key("RekeyLimit"));
    return 0;
  });
  EXPECT_NE(std::string(left.what()).find("/etc/ssh/sshd_config:3: a line for RekeyLimit would remain"),
            std::string::npos)
      << left.what();
  Tree none;
  none.file(kMain, {line(1, "X11Forwarding", {"no"})});
  EXPECT_NO_THROW(require_unset_effective(none.model(), key("RekeyLimit")));
}

// tests/fixtures/differential/edit-error-listenaddress-1-28: the edit failed ("cannot read
// the label of $e3") because the plan removed the same line twice.
TEST(PlanSet, AFileIncludedTwiceIsEditedOnce) {
  Tree t;
  t.file(kMain, {line(1, "Include", {"a.conf"}), line(2, "Include", {"/etc/ssh/a.conf"})});
  t.file("/etc/ssh/a.conf", {line(1, "ListenAddress", {"10.9.9.9"}), line(2, "ListenAddress", {"[::1]:2201"}),
                             line(3, "LoginGraceTime", {"30"})});
  const Model m = t.model();
  ASSERT_EQ(m.entries.size(), 6U);  // sshd reads the file twice, and so does the model
  // An accumulating keyword's new line would be read twice too: refused, saying why.
  const Error e = refusal_of([&] { return plan_set(m, key("ListenAddress"), {"0.0.0.0"}); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("is read by sshd 2 times (its file is included more than once)"),
            std::string::npos)
      << e.what();
  EXPECT_EQ(e.where().file, "/etc/ssh/a.conf");
  EXPECT_EQ(e.where().line, 1);
  // Removing its lines is right however often they are read: each line once.
  EXPECT_EQ(plan_unset(m, key("ListenAddress")).edits.size(), 2U);
  const Plan grace = plan_set(m, key("LoginGraceTime"), {"60"});
  ASSERT_EQ(grace.edits.size(), 1U);
  EXPECT_TRUE(grace.notes.empty()) << "the line does not lose to itself: " << grace.notes[0].text;
}

// A line read outside a Match block and again inside one (its file included in both places):
// a global edit of it would change the block too, so set and unset are refused.
TEST(PlanSet, ALineAlsoReadInsideAMatchBlockIsNotEditedGlobally) {
  Tree t;
  t.file(kMain, {line(1, "Include", {"/etc/ssh/a.conf"})},
         {block(2, {{"User", "postgres"}}, {line(3, "Include", {"/etc/ssh/a.conf"})})});
  t.file("/etc/ssh/a.conf", {line(1, "X11Forwarding", {"no"})});
  const Model m = t.model();
  for (const Error& e : {refusal_of([&] { return plan_set(m, key("X11Forwarding"), {"yes"}); }),
                         refusal_of([&] { return plan_unset(m, key("X11Forwarding")); })}) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("is read by sshd outside a Match block and again inside one"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(e.where().file, "/etc/ssh/a.conf");
  }
}

TEST(PlanSet, AccumulatingKeywordKeepsOneLine) {
  Tree t = testing::debian_cloud();
  t.files[kMain].global.push_back(line(14, "Port", {"22"}));
  t.files[kCloudInit].global.push_back(line(2, "Port", {"2222"}));
  const Plan plan = plan_set(t.model(), key("Port"), {"2200"});
  ASSERT_EQ(plan.edits.size(), 2U);
  EXPECT_EQ(plan.edits[0].kind, Edit::Kind::kReplace);
  EXPECT_EQ(plan.edits[0].file, kCloudInit);
  EXPECT_EQ(plan.edits[1].kind, Edit::Kind::kRemove);
  EXPECT_EQ(plan.edits[1].file, kMain);
}

TEST(PlanSet, PortAndListenAddressTakeALinePerValue) {
  Tree t = testing::debian_cloud();
  t.files[kMain].global.push_back(line(14, "Port", {"22"}));
  const Plan more = plan_set(t.model(), key("Port"), {"22", "2222"});
  ASSERT_EQ(more.edits.size(), 2U);
  EXPECT_EQ(more.edits[0].kind, Edit::Kind::kReplace);
  EXPECT_EQ(more.edits[0].setting.args, std::vector<std::string>{"22"});
  EXPECT_EQ(more.edits[1].kind, Edit::Kind::kInsertGlobal);
  EXPECT_EQ(more.edits[1].setting.args, std::vector<std::string>{"2222"});

  t.files[kCloudInit].global.push_back(line(2, "Port", {"2222"}));
  t.files[kCloudInit].global.push_back(line(3, "Port", {"2200"}));
  const Plan fewer = plan_set(t.model(), key("Port"), {"2222", "22"});
  ASSERT_EQ(fewer.edits.size(), 3U);
  // sshd reads the drop-in first (the main file includes it at its top): its two lines take
  // the values, the main file's line goes.
  EXPECT_EQ(fewer.edits[0].file, kCloudInit);
  EXPECT_EQ(fewer.edits[1].file, kCloudInit);
  EXPECT_EQ(fewer.edits[1].setting.args, std::vector<std::string>{"22"});
  EXPECT_EQ(fewer.edits[2].kind, Edit::Kind::kRemove);
  EXPECT_EQ(fewer.edits[2].file, kMain);
  EXPECT_EQ(fewer.edits[2].setting.args, std::vector<std::string>{}) << "a removal carries no values";
  EXPECT_TRUE(plan_set(t.model(), key("Port"), {"2222", "2200", "22"}).empty())
      << "the values sshd already uses, in the order it reads them";
}

TEST(PlanSet, VendorFilesAreOverriddenFromEtc) {
  Tree t;
  t.file("/usr/etc/ssh/sshd_config",
         {line(1, "Include", {"/etc/ssh/sshd_config.d/*.conf"}), line(5, "PermitRootLogin", {"no"})});
  t.glob("/etc/ssh/sshd_config.d/*.conf", {});
  const Plan plan = plan_set(t.model("/usr/etc/ssh/sshd_config"), key("PermitRootLogin"), {"yes"});
  ASSERT_EQ(plan.edits.size(), 1U);
  EXPECT_EQ(plan.edits[0].kind, Edit::Kind::kInsertGlobal);
  EXPECT_EQ(plan.edits[0].file, kOverrideDropIn);
}

TEST(PlanSet, AVendorLineThatADropInCannotBeatIsRefused) {
  Tree t;
  t.file("/usr/etc/ssh/sshd_config",
         {line(1, "Include", {"/etc/ssh/sshd_config.d/*.conf"}), line(5, "MaxStartups", {"10:30:100"})},
         {block(7, {{"all", ""}}, {line(8, "X11Forwarding", {"yes"})})});
  t.glob("/etc/ssh/sshd_config.d/*.conf", {});
  const Model m = t.model("/usr/etc/ssh/sshd_config");
  EXPECT_THROW(plan_set(m, key("MaxStartups"), {"20"}), Error);    // its last line wins
  EXPECT_THROW(plan_set(m, key("X11Forwarding"), {"no"}), Error);  // Match all wins
  EXPECT_EQ(plan_set(m, key("PermitRootLogin"), {"yes"}).edits.size(), 1U);
}

TEST(PlanSetInBlock, EditsTheExistingBlockOrAppendsANewOne) {
  Tree t;
  t.file(kMain, {line(1, "PermitRootLogin", {"no"})},
         {block(10, {{"User", "guest"}}, {line(11, "X11Forwarding", {"yes"})})});
  const Model m = t.model();
  const Plan existing = plan_set_in_block(m, key("X11Forwarding"), {"no"}, parse_criteria("user guest"));
  ASSERT_EQ(existing.edits.size(), 1U);
  EXPECT_EQ(existing.edits[0].kind, Edit::Kind::kReplace);
  const Plan append = plan_set_in_block(m, key("AllowTcpForwarding"), {"no"}, parse_criteria("User guest"));
  ASSERT_EQ(append.edits.size(), 1U);
  EXPECT_EQ(append.edits[0].kind, Edit::Kind::kAppendToBlock);
  const Plan fresh = plan_set_in_block(m, key("X11Forwarding"), {"no"}, parse_criteria("User root"));
  ASSERT_EQ(fresh.edits.size(), 1U);
  EXPECT_EQ(fresh.edits[0].kind, Edit::Kind::kNewBlock);
  EXPECT_TRUE(fresh.edits[0].path.empty());
}

TEST(ParseCriteria, RejectsMalformedConditions) {
  EXPECT_THROW(parse_criteria("User"), Error);
  EXPECT_THROW(parse_criteria("Usr root"), Error);
  EXPECT_EQ(parse_criteria("all").size(), 1U);
  EXPECT_EQ(parse_criteria("user root address 10.0.0.0/8")[1].name, "Address");
}

TEST(PlanRootLogin, CloudImageGetsGlobalPermitAndARootOnlyPasswordBlock) {
  const Tree t = testing::debian_cloud();
  const Model m = t.model();
  const Plan plan = plan_root_login(m, RootLoginRequest{});
  ASSERT_EQ(plan.edits.size(), 2U);
  EXPECT_EQ(plan.edits[0].kind, Edit::Kind::kReplace);
  EXPECT_EQ(plan.edits[0].file, kMain);
  EXPECT_EQ(plan.edits[0].setting.args, std::vector<std::string>{"yes"});
  EXPECT_EQ(plan.edits[1].kind, Edit::Kind::kNewBlock);
  EXPECT_EQ(plan.edits[1].file, kMain);
  ASSERT_EQ(plan.edits[1].settings.size(), 1U);
  EXPECT_EQ(plan.edits[1].settings[0].keyword, "PasswordAuthentication");
}

TEST(PlanRootLogin, PlacesTheRootBlockBeforeTheFirstMatchSshdReads) {
  Tree t = testing::debian_cloud();
  t.add_block(kCloudInit, block(5, {{"Address", "10.0.0.0/8"}}, {line(6, "PermitRootLogin", {"no"})}));
  const Plan plan = plan_root_login(t.model(), RootLoginRequest{});
  const auto it =
      std::find_if(plan.edits.begin(), plan.edits.end(), [](const Edit& e) { return e.kind == Edit::Kind::kNewBlock; });
  ASSERT_NE(it, plan.edits.end());
  EXPECT_EQ(it->file, kCloudInit);
  EXPECT_EQ(it->path, t.files[kCloudInit].blocks[0].path);
  EXPECT_EQ(it->settings.size(), 2U);  // PermitRootLogin yes and PasswordAuthentication yes
}

TEST(PlanRootLogin, KeyOnlyLeavesPasswordsAlone) {
  RootLoginRequest request;
  request.password = false;
  request.permit = "prohibit-password";
  const Tree t = testing::debian_cloud();
  const Model m = t.model();
  const Plan plan = plan_root_login(m, request);
  ASSERT_EQ(plan.edits.size(), 1U);
  EXPECT_EQ(plan.edits[0].setting.args, std::vector<std::string>{"prohibit-password"});
}

TEST(PlanRootLogin, DisableRemovesTheRootBlockItOpened) {
  Tree t = testing::debian_cloud();
  t.files[kMain].global[1].args = {"yes"};
  t.add_block(kMain, block(130, {{"User", "root"}}, {line(131, "PasswordAuthentication", {"yes"})}));
  RootLoginRequest request;
  request.enable = false;
  const Plan plan = plan_root_login(t.model(), request);
  ASSERT_EQ(plan.edits.size(), 2U);
  EXPECT_EQ(plan.edits[0].kind, Edit::Kind::kReplace);
  EXPECT_EQ(plan.edits[0].setting.args, std::vector<std::string>{"no"});
  EXPECT_EQ(plan.edits[1].kind, Edit::Kind::kRemove);
  EXPECT_EQ(plan.edits[1].path, t.files[kMain].blocks[0].path);
}

TEST(PlanRootLogin, EnablingTwiceChangesNothing) {
  Tree t = testing::debian_cloud();
  t.files[kMain].global[1].args = {"yes"};
  t.add_block(kMain, block(130, {{"User", "root"}}, {line(131, "PasswordAuthentication", {"yes"})}));
  EXPECT_TRUE(plan_root_login(t.model(), RootLoginRequest{}).empty());
}

}  // namespace
}  // namespace sshdctl::config

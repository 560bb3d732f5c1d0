#include "sshdctl/config/versions.h"

#include <gtest/gtest.h>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/fleet/policy.h"

namespace sshdctl::config {
namespace {

constexpr OpenSshVersion k84{8, 4};
constexpr OpenSshVersion k92{9, 2};
constexpr OpenSshVersion k100{10, 0};

TEST(OpenSshVersion, IsReadFromBannersAndSshdOutput) {
  EXPECT_EQ(parse_openssh_version("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"), k92);
  EXPECT_EQ(parse_openssh_version("OpenSSH_10.0p2 Debian-7, OpenSSL 3.5.1 1 Jul 2025"), k100);
  // 8.4's sshd has no -V: its usage names the version after the complaint.
  EXPECT_EQ(parse_openssh_version("unknown option -- V\nOpenSSH_8.4p1 Debian-5+deb11u3, OpenSSL 1.1.1w\nusage: sshd"),
            k84);
  EXPECT_EQ(parse_openssh_version("9.2"), k92);
  EXPECT_FALSE(parse_openssh_version("SSH-2.0-dropbear_2022.83").known());
  EXPECT_FALSE(parse_openssh_version("").known());
  EXPECT_FALSE(parse_openssh_version("OpenSSH_x.y").known());
  EXPECT_EQ(to_string(k100), "10.0");
  EXPECT_EQ(to_string(OpenSshVersion{}), "unknown");
  EXPECT_TRUE(k84 < k92);
  EXPECT_TRUE(k92 < k100);
  EXPECT_FALSE(k100 < k92);
}

TEST(Spelling, RenamedKeywordsKeepTheirOldNameOnOlderReleases) {
  const auto& pubkey = *find_keyword("PubkeyAcceptedAlgorithms");
  EXPECT_EQ(spelling_for(pubkey, k84), "PubkeyAcceptedKeyTypes");
  EXPECT_EQ(spelling_for(pubkey, k92), "PubkeyAcceptedAlgorithms");
  EXPECT_EQ(spelling_for(pubkey, OpenSshVersion{}), "PubkeyAcceptedAlgorithms");
  EXPECT_EQ(spelling_for(*find_keyword("HostbasedAcceptedAlgorithms"), k84), "HostbasedAcceptedKeyTypes");
  // Added later, no older name: unknown there.
  EXPECT_FALSE(spelling_for(*find_keyword("ChannelTimeout"), k84).has_value());
  EXPECT_EQ(spelling_for(*find_keyword("ChannelTimeout"), k92), "ChannelTimeout");
  EXPECT_FALSE(spelling_for(*find_keyword("SshdAuthPath"), k92).has_value());
  EXPECT_EQ(spelling_for(*find_keyword("SshdAuthPath"), k100), "SshdAuthPath");
  EXPECT_EQ(spelling_for(*find_keyword("PermitRootLogin"), k84), "PermitRootLogin");
  // What sshd -T prints it as.
  EXPECT_EQ(sshd_t_name(pubkey, k84), "pubkeyacceptedkeytypes");
  EXPECT_EQ(sshd_t_name(pubkey, k100), "pubkeyacceptedalgorithms");
  EXPECT_EQ(sshd_t_name(*find_keyword("ChannelTimeout"), k84), "");
}

TEST(VersionProblem, NamesTheReleaseAndWhenTheKeywordCame) {
  const auto p = version_problem(*find_keyword("ChannelTimeout"), {"session=5m"}, k84);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(*p, "OpenSSH 8.4 does not know ChannelTimeout (added in OpenSSH 9.2)");
  EXPECT_FALSE(version_problem(*find_keyword("ChannelTimeout"), {"session=5m"}, k92).has_value());
  EXPECT_FALSE(version_problem(*find_keyword("ChannelTimeout"), {"session=5m"}, OpenSshVersion{}).has_value());
}

TEST(VersionProblem, RefusesAnAlgorithmTheReleaseLacksAndListsWhatItAccepts) {
  const auto& kex = *find_keyword("KexAlgorithms");
  const auto p = version_problem(kex, {"curve25519-sha256,sntrup761x25519-sha512@openssh.com"}, k84);
  ASSERT_TRUE(p.has_value());
  EXPECT_NE(p->find("OpenSSH 8.4 does not know the key exchange algorithm 'sntrup761x25519-sha512@openssh.com' "
                    "(added in OpenSSH 8.5) for KexAlgorithms; it accepts: "),
            std::string::npos)
      << *p;
  EXPECT_NE(p->find("curve25519-sha256@libssh.org"), std::string::npos);
  EXPECT_EQ(p->find("mlkem768x25519-sha256"), std::string::npos) << "a later name is not offered";
  EXPECT_FALSE(version_problem(kex, {"curve25519-sha256,sntrup761x25519-sha512@openssh.com"}, k92).has_value());
  // + appends to the default: the name must still exist; - removes, which is always fine.
  EXPECT_TRUE(version_problem(kex, {"+mlkem768x25519-sha256"}, k92).has_value());
  EXPECT_FALSE(version_problem(kex, {"+mlkem768x25519-sha256"}, k100).has_value());
  EXPECT_FALSE(version_problem(kex, {"-sntrup761x25519-sha512@openssh.com"}, k84).has_value());
  const auto dss = version_problem(*find_keyword("PubkeyAcceptedAlgorithms"), {"ssh-ed25519,ssh-dss"}, k100);
  ASSERT_TRUE(dss.has_value());
  EXPECT_NE(dss->find("'ssh-dss' (removed in OpenSSH 10.0)"), std::string::npos) << *dss;
  // Names no table knows are sshd -t's to judge.
  EXPECT_FALSE(version_problem(kex, {"gss-curve25519-sha256-"}, k92).has_value());
}

TEST(FitToVersion, WritesTheOldSpellingWithANote) {
  Plan plan;
  Edit insert{
      Edit::Kind::kInsertGlobal, {}, "/etc/ssh/sshd_config", {"PubkeyAcceptedAlgorithms", {"ssh-ed25519"}}, {}, {}};
  plan.edits.push_back(insert);
  fit_to_version(plan, k84, "th3");
  EXPECT_EQ(plan.edits[0].setting.keyword, "PubkeyAcceptedKeyTypes");
  ASSERT_EQ(plan.notes.size(), 1U);
  EXPECT_EQ(plan.notes[0].where.host, "th3");
  EXPECT_EQ(plan.notes[0].text,
            "OpenSSH 8.4: PubkeyAcceptedAlgorithms is written as PubkeyAcceptedKeyTypes (its name before 8.5)");

  Plan same;
  same.edits.push_back(insert);
  fit_to_version(same, k92, "th2");
  EXPECT_EQ(same.edits[0].setting.keyword, "PubkeyAcceptedAlgorithms");
  EXPECT_TRUE(same.notes.empty());
}

TEST(FitToVersion, SpellsTheSettingsOfANewMatchBlockToo) {
  Plan plan;
  Edit block{
      Edit::Kind::kNewBlock, {}, "/etc/ssh/sshd_config", {}, {}, {{"PubkeyAcceptedAlgorithms", {"ssh-ed25519"}}}};
  plan.edits.push_back(block);
  fit_to_version(plan, k84, "th3");
  EXPECT_EQ(plan.edits[0].settings[0].keyword, "PubkeyAcceptedKeyTypes");
}

TEST(FitToVersion, RefusesWhatTheReleaseDoesNotKnowBeforeAnythingIsWritten) {
  Plan plan;
  plan.edits.push_back(
      Edit{Edit::Kind::kInsertGlobal, {}, "/etc/ssh/sshd_config", {"ChannelTimeout", {"session=5m"}}, {}, {}});
  try {
    fit_to_version(plan, k84, "th3");
    FAIL() << "ChannelTimeout on 8.4 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
    EXPECT_EQ(e.where().host, "th3");
    EXPECT_NE(std::string(e.what()).find("th3: OpenSSH 8.4 does not know ChannelTimeout (added in OpenSSH 9.2)"),
              std::string::npos)
        << e.what();
  }
  // A replaced line is checked too (its value), but keeps the keyword it is written with.
  Plan replace;
  replace.edits.push_back(Edit{
      Edit::Kind::kReplace, "/files/x", "/etc/ssh/sshd_config", {"KexAlgorithms", {"mlkem768x25519-sha256"}}, {}, {}});
  EXPECT_THROW(fit_to_version(replace, k92, "th2"), Error);
  EXPECT_NO_THROW(fit_to_version(replace, k100, "th4"));
  EXPECT_EQ(replace.edits[0].setting.keyword, "KexAlgorithms");
}

TEST(VersionCondition, ComparesReleases) {
  EXPECT_TRUE(parse_version_condition("< 8.5").holds(k84));
  EXPECT_FALSE(parse_version_condition("< 8.5").holds(k92));
  EXPECT_TRUE(parse_version_condition(">= 8.5, < 9.9").holds(k92));
  EXPECT_FALSE(parse_version_condition(">= 8.5, < 9.9").holds(k100));
  EXPECT_TRUE(parse_version_condition("9.2").holds(k92));
  EXPECT_TRUE(parse_version_condition("== 10.0").holds(k100));
  EXPECT_TRUE(parse_version_condition(">9.2").holds(k100));
  EXPECT_TRUE(parse_version_condition("<=8.4").holds(k84));
  EXPECT_TRUE(parse_version_condition("< 9").holds(k84));
  EXPECT_FALSE(parse_version_condition("< 9").holds(k92));
  for (const char* bad : {"", "foo", "< ", "=< 8.4", "< 8.x", ">= 8.5,", "~ 9"})
    EXPECT_THROW(parse_version_condition(bad), Error) << bad;
}

}  // namespace
}  // namespace sshdctl::config

namespace sshdctl::fleet {
namespace {

constexpr const char* kPolicy = R"(description: per release
sshd:
  PermitRootLogin: "no"
  KexAlgorithms: [sntrup761x25519-sha512@openssh.com, curve25519-sha256]
  ChannelTimeout: session=5m
openssh:
  - version: "< 8.5"
    sshd:
      KexAlgorithms: [curve25519-sha256]
  - version: "< 9.2"
    sshd:
      ChannelTimeout: ~
      LoginGraceTime: 30
)";

std::string value_of(const std::vector<PolicySetting>& settings, const std::string& keyword) {
  for (const auto& s : settings)
    if (s.key.keyword->name == keyword) return text::join(s.values, " ");
  return "(not set)";
}

TEST(PolicyReleases, EachHostGetsTheValuesOfItsRelease) {
  const auto p = parse_policy(kPolicy, "p.yml", "");
  ASSERT_EQ(p.openssh.size(), 2U);
  EXPECT_EQ(p.openssh[0].line, 7);
  const auto old = p.sshd_for({8, 4});
  EXPECT_EQ(value_of(old, "KexAlgorithms"), "curve25519-sha256");
  EXPECT_EQ(value_of(old, "ChannelTimeout"), "(not set)");
  EXPECT_EQ(value_of(old, "LoginGraceTime"), "30");
  EXPECT_EQ(value_of(old, "PermitRootLogin"), "no");
  const auto current = p.sshd_for({9, 2});
  EXPECT_EQ(value_of(current, "KexAlgorithms"), "sntrup761x25519-sha512@openssh.com,curve25519-sha256");
  EXPECT_EQ(value_of(current, "ChannelTimeout"), "session=5m");
  EXPECT_EQ(value_of(current, "LoginGraceTime"), "(not set)");
}

TEST(PolicyReleases, AnUnknownReleaseGetsTheCommonValuesAndANote) {
  const auto p = parse_policy(kPolicy, "p.yml", "");
  std::string note;
  const auto settings = p.sshd_for({}, &note);
  EXPECT_EQ(value_of(settings, "KexAlgorithms"), "sntrup761x25519-sha512@openssh.com,curve25519-sha256");
  EXPECT_EQ(value_of(settings, "LoginGraceTime"), "(not set)");
  EXPECT_NE(note.find("which OpenSSH runs here is unknown: none of the openssh: sections of p.yml was applied"),
            std::string::npos)
      << note;
  // Without sections there is nothing to say.
  const auto plain = parse_policy("sshd: {PermitRootLogin: \"no\"}\n", "q.yml", "");
  std::string quiet;
  EXPECT_EQ(plain.sshd_for({}, &quiet).size(), 1U);
  EXPECT_TRUE(quiet.empty());
}

TEST(PolicyReleases, BadSectionsNameTheirLine) {
  const auto error_of = [](const std::string& text) {
    try {
      (void)parse_policy(text, "p.yml", "");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error_of("openssh:\n  - version: \"soon\"\n    sshd: {X11Forwarding: \"no\"}\n")
                .find("p.yml:2: bad OpenSSH version condition 'soon'"),
            std::string::npos);
  EXPECT_NE(error_of("openssh:\n  - sshd: {X11Forwarding: \"no\"}\n").find("p.yml:2: an openssh entry needs a version"),
            std::string::npos);
  EXPECT_NE(
      error_of("openssh:\n  - version: \"< 9\"\n    sshd: {X11Forwarding: maybe}\n").find("p.yml:3: invalid value"),
      std::string::npos);
  EXPECT_NE(error_of("openssh:\n  - version: \"< 9\"\n    sshd: {Nope: ~}\n").find("p.yml:3: unknown sshd keyword"),
            std::string::npos);
  EXPECT_NE(error_of("openssh:\n  - version: \"< 9\"\n    when: x\n").find("unknown key 'when'"), std::string::npos);
}

}  // namespace
}  // namespace sshdctl::fleet

#include "sshdctl/txn/journal.h"

#include <gtest/gtest.h>

#include <regex>

#include "sshdctl/common/error.h"

namespace sshdctl::txn {
namespace {

ChangeSet sample() {
  ChangeSet set;
  set.id = "20261125T014700Z-3fa9c1";
  set.verb = "root-login enable";
  set.who = "alice@laptop via ssh as ecs-user";
  set.when = "2026-11-25T01:47:00Z";
  set.reason = "ticket 42:\nline two, 100% sure";
  set.reverts = "20261124T000000Z-000001";
  set.rollout = "20261125T014600Z-00aa11";
  set.service = "reload ssh.service";
  FileRecord changed{"/etc/ssh/sshd_config", {true, true, false, 0644, 0, 0}, sha256_hex("old"), sha256_hex("new")};
  FileRecord created{
      "/etc/ssh/sshd_config.d/my file.conf", {true, true, false, 0600, 0, 0}, std::nullopt, sha256_hex("x")};
  set.files = {changed, created};
  return set;
}

TEST(JournalManifest, RoundTripsEveryFieldIncludingOddCharacters) {
  const auto text = render_manifest(sample());
  EXPECT_EQ(text.rfind("sshdctl-change 1\n", 0), 0U);
  EXPECT_NE(text.find("file 1 /etc/ssh/sshd_config.d/my%20file.conf 0600 0 0 - "), std::string::npos) << text;
  const auto back = parse_manifest(text);
  EXPECT_EQ(back.id, sample().id);
  EXPECT_EQ(back.verb, sample().verb);
  EXPECT_EQ(back.who, sample().who);
  EXPECT_EQ(back.reason, sample().reason);
  EXPECT_EQ(back.reverts, sample().reverts);
  EXPECT_EQ(back.rollout, sample().rollout);
  EXPECT_EQ(back.service, "reload ssh.service");
  ASSERT_EQ(back.files.size(), 2U);
  EXPECT_EQ(back.files[1].path, "/etc/ssh/sshd_config.d/my file.conf");
  EXPECT_EQ(back.files[0].info.mode, 0644U);
  EXPECT_EQ(back.files[0].before_sha, sha256_hex("old"));
  EXPECT_FALSE(back.files[1].before_sha.has_value()) << "a created file has no before-image";
}

// A path word that starts with '"' would open a quoted word when the record is split again
// (tests/fuzz/README.md, finding 6): it is escaped like a blank.
TEST(JournalManifest, APathStartingWithAQuoteRoundTrips) {
  ChangeSet set = sample();
  set.files[1].path = "\"x y\".conf";
  const auto text = render_manifest(set);
  EXPECT_NE(text.find("file 1 %22x%20y%22.conf "), std::string::npos) << text;
  const auto back = parse_manifest(text);
  ASSERT_EQ(back.files.size(), 2U);
  EXPECT_EQ(back.files[1].path, "\"x y\".conf");
  EXPECT_EQ(back.files[1].after_sha, sample().files[1].after_sha);
}

TEST(JournalManifest, UnknownKeysFromALaterVersionAreIgnoredButANewerFormatIsRefused) {
  auto text = render_manifest(sample());
  text.insert(text.find("who "), "window 2h\n");
  EXPECT_EQ(parse_manifest(text).verb, "root-login enable");
  EXPECT_THROW(parse_manifest("sshdctl-change 2\nid x\n"), Error);
  EXPECT_THROW(parse_manifest("something else\n"), Error);
  EXPECT_THROW(parse_manifest("sshdctl-change 1\nid x\nfile 0 /a 0644 0 0 -\n"), Error);
}

TEST(JournalIds, SortByTimeAndDiffer) {
  EXPECT_TRUE(std::regex_match(new_id(1893542400), std::regex("20300102T000000\\d{6}Z-[0-9a-f]{6}")))
      << new_id(1893542400);
  EXPECT_NE(new_id(1893542400), new_id(1893542400));
  EXPECT_LT(new_id(1893542400), new_id(1893542401));
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

}  // namespace
}  // namespace sshdctl::txn

#include "sshdctl/config/match.h"

#include <gtest/gtest.h>

namespace sshdctl::config {
namespace {

TEST(WildcardMatch, HandlesStarAndQuestionMark) {
  EXPECT_TRUE(wildcard_match("root", "r*", false));
  EXPECT_TRUE(wildcard_match("root", "r??t", false));
  EXPECT_FALSE(wildcard_match("root", "R*", false));
  EXPECT_TRUE(wildcard_match("Web1.Example.COM", "*.example.com", true));
  EXPECT_TRUE(wildcard_match("", "*", false));
}

TEST(PatternListMatch, NegationWins) {
  EXPECT_EQ(pattern_list_match("root", "*,!root", false), -1);
  EXPECT_EQ(pattern_list_match("admin", "*,!root", false), 1);
  EXPECT_EQ(pattern_list_match("guest", "root,admin", false), 0);
}

TEST(AddressListMatch, UnderstandsCidrAndNegation) {
  EXPECT_EQ(address_list_match("10.1.2.3", "10.0.0.0/8"), 1);
  EXPECT_EQ(address_list_match("10.1.2.3", "10.0.0.0/8,!10.1.0.0/16"), -1);
  EXPECT_EQ(address_list_match("192.0.2.1", "10.0.0.0/8"), 0);
  EXPECT_EQ(address_list_match("192.0.2.1", "192.0.2.*"), 1);
  EXPECT_EQ(address_list_match("2001:db8::1", "2001:db8::/32"), 1);
}

TEST(EvaluateBlock, AnswersMaybeForUnknownInputs) {
  MatchBlock block;
  block.criteria = {{"User", "root"}, {"Address", "10.0.0.0/8"}};
  Connection conn;
  conn.user = "root";
  EXPECT_EQ(evaluate_block(block, conn), Tri::kMaybe);
  conn.addr = "10.0.0.1";
  EXPECT_EQ(evaluate_block(block, conn), Tri::kYes);
  conn.user = "alice";
  EXPECT_EQ(evaluate_block(block, conn), Tri::kNo);
}

// sshd reads the port with a2port: a number or a TCP service name
// (tests/fixtures/differential/value-passwordauthentication-219: `Match LocalPort ssh`).
TEST(EvaluateBlock, LocalPortTakesAServiceNameAsSshdDoes) {
  MatchBlock block;
  block.criteria = {{"LocalPort", "ssh"}};
  Connection conn;
  conn.lport = "22";
  EXPECT_EQ(evaluate_block(block, conn), Tri::kYes);
  conn.lport = "2222";
  EXPECT_EQ(evaluate_block(block, conn), Tri::kNo);
  block.criteria = {{"LocalPort", "02222"}};
  EXPECT_EQ(evaluate_block(block, conn), Tri::kYes);
  block.criteria = {{"LocalPort", "no-such-service"}};
  EXPECT_EQ(evaluate_block(block, conn), Tri::kNo);
}

TEST(EvaluateBlock, MatchAllAlwaysMatches) {
  MatchBlock block;
  block.criteria = {{"all", ""}};
  EXPECT_TRUE(block.is_all());
  EXPECT_EQ(evaluate_block(block, Connection{}), Tri::kYes);
}

TEST(EvaluateBlock, GroupNeedsTheUsersGroups) {
  MatchBlock block;
  block.criteria = {{"Group", "wheel,!guests"}};
  Connection conn;
  conn.user = "root";
  EXPECT_EQ(evaluate_block(block, conn), Tri::kMaybe);
  conn.groups = std::vector<std::string>{"root", "wheel"};
  EXPECT_EQ(evaluate_block(block, conn), Tri::kYes);
  conn.groups = std::vector<std::string>{"wheel", "guests"};
  EXPECT_EQ(evaluate_block(block, conn), Tri::kNo);
}

}  // namespace
}  // namespace sshdctl::config

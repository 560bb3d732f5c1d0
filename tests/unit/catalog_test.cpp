#include "sshdctl/config/catalog.h"

#include <gtest/gtest.h>

namespace sshdctl::config {
namespace {

TEST(Catalog, FindsKeywordsInAnyCase) {
  ASSERT_NE(find_keyword("permitrootlogin"), nullptr);
  EXPECT_EQ(find_keyword("PERMITROOTLOGIN")->name, "PermitRootLogin");
  EXPECT_EQ(find_keyword("NoSuchKeyword"), nullptr);
}

TEST(Catalog, SuggestsTheClosestKeywordForATypo) {
  EXPECT_EQ(closest_keyword("PermitRootLogn"), "PermitRootLogin");
  EXPECT_EQ(closest_keyword("PasswordAuth"), "PasswordAuthentication");
  EXPECT_FALSE(closest_keyword("Xyzzy").has_value());
}

TEST(Catalog, KnowsWhichKeywordsAccumulate) {
  EXPECT_EQ(find_keyword("Port")->combine, Combine::kAccumulate);
  EXPECT_EQ(find_keyword("AllowUsers")->combine, Combine::kAccumulate);
  EXPECT_EQ(find_keyword("PermitRootLogin")->combine, Combine::kFirstWins);
  EXPECT_EQ(find_keyword("Subsystem")->combine, Combine::kPerSubsystem);
}

TEST(Catalog, KnowsWhatMatchAllows) {
  EXPECT_TRUE(find_keyword("PermitRootLogin")->match_allowed);
  EXPECT_TRUE(find_keyword("PasswordAuthentication")->match_allowed);
  EXPECT_FALSE(find_keyword("Port")->match_allowed);
  EXPECT_FALSE(find_keyword("UsePAM")->match_allowed);
}

TEST(CheckValue, ListsTheAllowedValuesOfPermitRootLogin) {
  const auto error = check_value(*find_keyword("PermitRootLogin"), {"maybe"});
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("yes, prohibit-password, without-password, forced-commands-only, no"), std::string::npos);
  EXPECT_FALSE(check_value(*find_keyword("PermitRootLogin"), {"prohibit-password"}).has_value());
  EXPECT_FALSE(check_value(*find_keyword("PermitRootLogin"), {"YES"}).has_value());
}

TEST(CheckValue, RejectsAFlagThatIsNotYesOrNo) {
  EXPECT_TRUE(check_value(*find_keyword("PasswordAuthentication"), {"true"}).has_value());
  EXPECT_TRUE(check_value(*find_keyword("PasswordAuthentication"), {"yes", "no"}).has_value());
}

TEST(CheckValue, ChecksNumbersAndTimes) {
  EXPECT_TRUE(check_value(*find_keyword("Port"), {"0"}).has_value());
  EXPECT_TRUE(check_value(*find_keyword("Port"), {"65536"}).has_value());
  EXPECT_TRUE(check_value(*find_keyword("Port"), {"22x"}).has_value());
  EXPECT_FALSE(check_value(*find_keyword("Port"), {"2222"}).has_value());
  EXPECT_FALSE(check_value(*find_keyword("LoginGraceTime"), {"1h30m"}).has_value());
  EXPECT_TRUE(check_value(*find_keyword("LoginGraceTime"), {"soon"}).has_value());
}

TEST(CheckValue, RefusesAnEmptyValue) { EXPECT_TRUE(check_value(*find_keyword("Banner"), {}).has_value()); }

TEST(CheckValue, PortTakesSeveralValuesEachChecked) {
  EXPECT_FALSE(check_value(*find_keyword("Port"), {"22", "2222"}).has_value());
  const auto bad = check_value(*find_keyword("Port"), {"22", "99999"});
  ASSERT_TRUE(bad.has_value());
  EXPECT_NE(bad->find("invalid value '99999' for Port"), std::string::npos);
  EXPECT_TRUE(check_value(*find_keyword("MaxAuthTries"), {"3", "4"}).has_value());
}

}  // namespace
}  // namespace sshdctl::config

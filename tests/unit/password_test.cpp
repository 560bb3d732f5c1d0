#include "sshdctl/accounts/password.h"

#include <gtest/gtest.h>

#include "sshdctl/common/error.h"

namespace sshdctl::accounts {
namespace {

TEST(HashMethod, FollowsLoginDefs) {
  EXPECT_EQ(hash_method("# comment\nENCRYPT_METHOD YESCRYPT\nYESCRYPT_COST_FACTOR 7\n").prefix, "$y$");
  EXPECT_EQ(hash_method("ENCRYPT_METHOD YESCRYPT\nYESCRYPT_COST_FACTOR 7\n").cost, 7U);
  EXPECT_EQ(hash_method("ENCRYPT_METHOD SHA512\n").prefix, "$6$");
  EXPECT_EQ(hash_method("ENCRYPT_METHOD SHA256\n").prefix, "$5$");
  EXPECT_EQ(hash_method("ENCRYPT_METHOD SHA256\n").name, "SHA-256");
  EXPECT_EQ(hash_method("ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 6000\n").cost, 6000U);
  EXPECT_EQ(hash_method("ENCRYPT_METHOD SHA512\nSHA_CRYPT_MAX_ROUNDS 7000\n").cost, 7000U);
  const auto ranged = hash_method("ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 5000\nSHA_CRYPT_MAX_ROUNDS 9000\n");
  EXPECT_GE(ranged.cost, 5000U);
  EXPECT_LE(ranged.cost, 9000U);
}

TEST(HashMethod, NeverWeakerThanSha512WhenLoginDefsSaysNothingOrTooLittle) {
  EXPECT_EQ(hash_method("").prefix, "$6$");
  EXPECT_TRUE(hash_method("").note.empty());
  const auto md5 = hash_method("ENCRYPT_METHOD MD5\n");
  EXPECT_EQ(md5.prefix, "$6$");
  EXPECT_NE(md5.note.find("too weak"), std::string::npos);
}

TEST(HashPassword, MakesASaltedHashThatVerifies) {
  for (const char* defs : {"ENCRYPT_METHOD YESCRYPT\n", "ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 6000\n"}) {
    const auto method = hash_method(defs);
    const auto one = hash_password("correct horse", method);
    const auto two = hash_password("correct horse", method);
    EXPECT_EQ(one.rfind(method.prefix, 0), 0U) << one;
    EXPECT_NE(one, two) << "a fresh salt each time";
    EXPECT_TRUE(password_matches("correct horse", one));
    EXPECT_FALSE(password_matches("wrong horse", one));
  }
  EXPECT_NE(hash_password("x", hash_method("ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 6000\n")).find("rounds=6000"),
            std::string::npos);
}

TEST(PasswordMatches, NeverMatchesALockedOrEmptyField) {
  EXPECT_FALSE(password_matches("", ""));
  EXPECT_FALSE(password_matches("x", "!"));
  EXPECT_FALSE(password_matches("x", "*"));
  const auto hash = hash_password("x", hash_method(""));
  EXPECT_FALSE(password_matches("x", "!" + hash)) << "a locked hash stays locked";
}

TEST(Shadow, ReadsThePasswordFieldOfOneUser) {
  const std::string shadow = "root:*:19000:0:99999:7:::\nrootless:!:19000:0:99999:7:::\n";
  EXPECT_EQ(shadow_field(shadow, "root"), "*");
  EXPECT_EQ(shadow_field(shadow, "rootless"), "!");
  EXPECT_FALSE(shadow_field(shadow, "roo").has_value());
}

TEST(Shadow, UnlockRemovesTheBangAndAnExpiryInThePast) {
  std::string what;
  ShadowEntry locked{"!$6$x$y", "19000", "19500", ""};
  unlock(locked, "a", 20000, what);
  EXPECT_EQ(locked.password, "$6$x$y");
  EXPECT_EQ(locked.expire, "");
  EXPECT_EQ(what, "a's account was unlocked; a's account expiry (day 19500, passed) was cleared");
  ShadowEntry later{"$6$x$y", "19000", "30000", ""};
  unlock(later, "a", 20000, what);
  EXPECT_EQ(later.expire, "30000") << "a future expiry stays";
  EXPECT_TRUE(what.empty());
  ShadowEntry bare{"!", "19000", "", ""};
  EXPECT_THROW(unlock(bare, "a", 20000, what), Error) << "nothing behind the lock";
  ShadowEntry none{"*", "19000", "", ""};
  EXPECT_THROW(unlock(none, "a", 20000, what), Error);
}

TEST(Shadow, MaskedDiffShowsWhichHashChangedButNoHash) {
  const std::string before = "root:*:19000:0:99999:7:::\nalice:$6$old$hash:19000:0:99999:7:::\n";
  const std::string after = "root:*:19000:0:99999:7:::\nalice:$y$new$hash:20000:0:99999:7:::\n";
  const auto diff = masked_shadow_diff(before, after, "/etc/shadow");
  EXPECT_NE(diff.find("-alice:<hash>:19000:"), std::string::npos) << diff;
  EXPECT_NE(diff.find("+alice:<hash changed>:20000:"), std::string::npos) << diff;
  EXPECT_EQ(diff.find("$6$"), std::string::npos);
  EXPECT_EQ(diff.find("$y$"), std::string::npos);
  EXPECT_EQ(diff.find("-root"), std::string::npos) << "unchanged lines are context at most";
}

}  // namespace
}  // namespace sshdctl::accounts

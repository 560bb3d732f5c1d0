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

TEST(Shadow, ReplacesOnlyTheUsersHashAndLastChange) {
  const std::string shadow =
      "root:*:19000:0:99999:7:::\n"
      "daemon:*:19000:0:99999:7:::\n"
      "rootless:!:19000:0:99999:7:::\n";
  EXPECT_EQ(shadow_field(shadow, "root"), "*");
  EXPECT_EQ(shadow_field(shadow, "rootless"), "!");
  EXPECT_FALSE(shadow_field(shadow, "roo").has_value());
  EXPECT_EQ(with_password(shadow, "root", "$6$abc$def", 20000),
            "root:$6$abc$def:20000:0:99999:7:::\n"
            "daemon:*:19000:0:99999:7:::\n"
            "rootless:!:19000:0:99999:7:::\n");
  EXPECT_EQ(with_password("a:x:1\nb:!:2:3", "b", "H", 5), "a:x:1\nb:H:5:3") << "no trailing newline kept as is";
  EXPECT_THROW(with_password(shadow, "nobody", "H", 1), Error);
}

TEST(Shadow, UnlockRemovesTheBangAndAnExpiryInThePast) {
  std::string what;
  EXPECT_EQ(unlocked("a:!$6$x$y:19000:0:99999:7::19500:\n", "a", 20000, what), "a:$6$x$y:19000:0:99999:7:::\n");
  EXPECT_EQ(what, "unlocked, its expiry date (day 20000 or earlier) cleared");
  EXPECT_EQ(unlocked("a:$6$x$y:19000:0:99999:7::30000:\n", "a", 20000, what), "a:$6$x$y:19000:0:99999:7::30000:\n")
      << "a future expiry stays";
  EXPECT_TRUE(what.empty());
  EXPECT_THROW(unlocked("a:!:19000::::::\n", "a", 20000, what), Error) << "nothing behind the lock";
  EXPECT_THROW(unlocked("a:*:19000::::::\n", "a", 20000, what), Error);
  EXPECT_THROW(unlocked("a:x:1::::::\n", "b", 20000, what), Error);
}

}  // namespace
}  // namespace sshdctl::accounts

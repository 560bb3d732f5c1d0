// Passwords in /etc/shadow: hashed the way the target's /etc/login.defs asks (libxcrypt),
// written as a plain edit of the one user's line. Pure functions except for the randomness
// of the salt.
#pragma once

#include <optional>
#include <string>

namespace sshdctl::accounts {

struct HashMethod {
  std::string prefix;      // "$y$" (yescrypt), "$6$" (SHA-512), "$5$" (SHA-256)
  std::string name;        // yescrypt, SHA-512, SHA-256
  unsigned long cost = 0;  // yescrypt cost factor or SHA rounds; 0: libxcrypt's default
  std::string note;        // when login.defs asked for something weaker or unknown
};

// ENCRYPT_METHOD with YESCRYPT_COST_FACTOR or SHA_CRYPT_MIN/MAX_ROUNDS from login.defs text.
// No ENCRYPT_METHOD: SHA512 (as shadow's tools do since 4.x). MD5 and DES are not used: SHA512
// instead, with a note.
HashMethod hash_method(const std::string& login_defs);

// A fresh salt, then crypt(3). Throws Error when libxcrypt refuses.
std::string hash_password(const std::string& password, const HashMethod& method);
// True when `password` hashes to `hash` (false for locked or empty hashes).
bool password_matches(const std::string& password, const std::string& hash);

// The password field of `user` in shadow text; nullopt when the user has no line.
std::optional<std::string> shadow_field(const std::string& shadow, const std::string& user);
// `shadow` with `user`'s password field set to `hash` and the last-change field to `day`
// (days since 1970-01-01); every other line and field kept byte for byte.
std::string with_password(const std::string& shadow, const std::string& user, const std::string& hash, long day);
// `shadow` with `user`'s account unlocked: the "!" before the hash removed, and an account
// expiry date (field 8) that lies before `day` cleared; `what` says what was done (empty: the
// account was neither locked nor expired). A lock with no hash behind it ("!" or "*") cannot be
// lifted without a password: Error (bad input).
std::string unlocked(const std::string& shadow, const std::string& user, long day, std::string& what);
// Today in days since 1970-01-01 (UTC), as shadow counts.
long days_since_epoch();

}  // namespace sshdctl::accounts

// Passwords in /etc/shadow: hashed the way the target's /etc/login.defs asks (libxcrypt),
// written as a plain edit of the one user's line. Pure functions except for the randomness
// of the salt.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace sshdctl::aug {
class MirroredFile;
}

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

// The fields of a shadow entry that sshdctl changes.
struct ShadowEntry {
  std::string password;    // the hash, "!…" when locked, "*" or "" for none
  std::string lastchange;  // days since 1970-01-01
  std::string expire;      // account expiry day, empty: never
  std::string max_days;    // the password's lifetime in days, empty: unlimited (read, never written)
};

// Unlocks `e`: the "!" before the hash removed, an account expiry before `day` cleared; `what`
// says what was done (empty: neither locked nor expired). A lock with no hash behind it cannot be
// lifted without a new password: Error (bad input).
void unlock(ShadowEntry& e, const std::string& user, long day, std::string& what);

// /etc/shadow parsed and written with Augeas's Shadow lens, in a private mirror.
class ShadowFile {
 public:
  ShadowFile(const std::string& content, const std::string& lens_dir, const std::string& name_for_errors);
  ~ShadowFile();
  ShadowFile(const ShadowFile&) = delete;
  ShadowFile& operator=(const ShadowFile&) = delete;
  [[nodiscard]] std::optional<ShadowEntry> entry(const std::string& user) const;
  void set(const std::string& user, const ShadowEntry& e);
  [[nodiscard]] std::string text();

 private:
  std::unique_ptr<aug::MirroredFile> file_;
};

// A unified diff of two shadow texts with every password field masked: "<hash>", and
// "<hash changed>" where it changed. Nothing secret reaches a report.
std::string masked_shadow_diff(const std::string& before, const std::string& after, const std::string& path);

// Today in days since 1970-01-01 (UTC), as shadow counts.
long days_since_epoch();

}  // namespace sshdctl::accounts

// authorized_keys: public keys with their options, where sshd looks for them
// (AuthorizedKeysFile), and the edits sshdctl makes through the project's authorized_keys lens.
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sshdctl/config/match.h"
#include "sshdctl/config/model.h"
#include "sshdctl/host/accounts.h"

namespace sshdctl::aug {
class MirroredFile;
}

namespace sshdctl::accounts {

struct KeyOption {
  std::string name;
  std::optional<std::string> value;  // nullopt: a flag such as no-pty
  bool operator==(const KeyOption&) const = default;
};

struct PublicKey {
  std::vector<KeyOption> options;
  std::string type;  // ssh-ed25519, sk-ssh-ed25519@openssh.com, ssh-rsa-cert-v01@openssh.com, …
  std::string blob;  // base64
  std::string comment;
  int line = 0;  // where it was read (1-based), 0: not from a file
};

// Parses options as written before a key: name or name="value", comma-separated; a quote
// inside a value is escaped as \". Throws Error (bad input) naming what is wrong.
std::vector<KeyOption> parse_options(const std::string& text);
std::string render_options(const std::vector<KeyOption>& options);

// Parses a public key line as in a .pub file or authorized_keys ("[options] type blob
// [comment]"). Throws Error (bad input).
PublicKey parse_public_key(const std::string& line);

// Why sshd would not use this key (a blob that does not decode to a key of its type, a type
// that OpenSSH 9 no longer accepts such as ssh-dss, an unknown option); nullopt when fine.
std::optional<std::string> key_problem(const PublicKey& key);
// "SHA256:…" as ssh-keygen -l shows it.
std::string key_fingerprint(const PublicKey& key);

// The files AuthorizedKeysFile names for `account`: %h (home), %u (user), %U (uid), %%
// expanded; relative paths are under the home directory. "none" names no file.
std::vector<std::string> authorized_keys_files(const std::vector<std::string>& patterns, const host::Account& account);

// The key files sshd reads for a connection of `account`: the effective AuthorizedKeysFile
// (Match blocks for `conn` applied), else sshd's default; `decided_by` is its file:line (empty
// for the default). `files` is empty when the setting is "none".
struct KeyFiles {
  std::vector<std::string> files;
  std::string decided_by;
};
KeyFiles effective_key_files(const config::Model& model, const config::Connection& conn, const host::Account& account);

// Why sshd's StrictModes ignores keys under `info` (a key file, its directory or the home
// directory): owned by someone other than the user or root, or writable by group or others.
// nullopt: it passes.
std::optional<std::string> strict_modes_problem(const host::FileInfo& info, const host::Account& account);

// expiry-time="YYYYMMDD[HHMM[SS]][Z]" as a time (local time without Z, as sshd reads it);
// nullopt when the key has no such option. Throws Error for a malformed one.
std::optional<std::time_t> key_expiry(const PublicKey& key);
// The value of expiry-time for `when` in UTC: YYYYMMDDHHMMSSZ. OpenSSH before 8.7 has no Z
// suffix and reads the time in sshd's own time zone: given that zone's offset from UTC
// (seconds east), the value is that local time, YYYYMMDDHHMMSS.
std::string expiry_value(std::time_t when, std::optional<long> local_offset_s = std::nullopt);
// The offset from UTC of `date +%z` output ("+0530", "-0800"), in seconds east; nullopt when
// it is not of that form.
std::optional<long> parse_utc_offset(std::string_view text);

// A fresh ed25519 key pair (libssh): the private key in OpenSSH's format, unencrypted (the
// caller keeps it 0600), and the public key with `comment`.
struct KeyPair {
  std::string private_key;
  PublicKey public_key;
};
KeyPair generate_ed25519(const std::string& comment);

// One authorized_keys file, parsed and edited with the Sshdctl_authorized_keys lens in a
// private mirror (never the live file); text() renders it.
class AuthorizedKeys {
 public:
  AuthorizedKeys(const std::string& text, const std::string& lens_dir, const std::string& name_for_errors);
  ~AuthorizedKeys();
  AuthorizedKeys(const AuthorizedKeys&) = delete;
  AuthorizedKeys& operator=(const AuthorizedKeys&) = delete;

  [[nodiscard]] std::vector<PublicKey> keys() const;
  // Adds the key; a key with the same blob gets the new options and comment. False when the
  // file already holds exactly that.
  bool add(const PublicKey& key);
  // Removes every key for which `matches` is true; returns how many.
  template <typename Pred>
  int remove_if(Pred matches) {
    const auto all = keys();
    int removed = 0;
    for (int position = static_cast<int>(all.size()); position >= 1; --position)
      if (matches(all[static_cast<std::size_t>(position - 1)])) {
        remove_position(position);
        ++removed;
      }
    return removed;
  }
  // The file's text after the edits.
  [[nodiscard]] std::string text();

 private:
  void remove_position(int position);  // 1-based, among the keys
  std::unique_ptr<aug::MirroredFile> file_;
};

}  // namespace sshdctl::accounts

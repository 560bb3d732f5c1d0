// Login credentials (passwords, private keys) kept in one file encrypted at rest, so that sshdctl
// can reach hosts without the operator retyping secrets and without leaving them in plain text.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sshdctl::accounts {

struct Credential {
  std::string name;                        // unique key, e.g. "web-root"
  std::string user;                        // login user
  std::optional<std::string> password;     // secret
  std::optional<std::string> private_key;  // secret: an OpenSSH private key file's text
};

// Credentials for logging in, kept in one file encrypted at rest: a key derived from the
// operator's passphrase with Argon2id (libsodium crypto_pwhash, ALG_ARGON2ID13, with
// OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE; a fresh random salt on every save), the
// content sealed with XChaCha20-Poly1305 (crypto_aead_xchacha20poly1305_ietf, fresh random
// nonce on every save). The file starts with a versioned, authenticated header (magic
// "sshdctl-credentials", format version 1, opslimit, memlimit, salt, nonce) so a later version can
// still read it; the header is passed as additional data so it cannot be altered unnoticed.
class CredentialStore {
 public:
  // Opens the store at `path`; a missing file is an empty store. Throws Error: kPermission
  // "wrong passphrase (or the store was altered)" when decryption fails; kBadInput when the file
  // is not a credential store or has an unknown version; kPermission when the file is a symlink,
  // is not owned by the current user, or can be read by group/others (mode must be 0600).
  CredentialStore(std::string path, std::string passphrase);
  // Wipes the passphrase and the secrets from memory.
  ~CredentialStore();
  // Copies would leave more unwiped secrets around than needed.
  CredentialStore(const CredentialStore&) = delete;
  CredentialStore& operator=(const CredentialStore&) = delete;
  // No move assignment: it would free the overwritten store's secrets without wiping them.
  CredentialStore(CredentialStore&&) = default;

  [[nodiscard]] const std::vector<Credential>& list() const;  // sorted by name
  [[nodiscard]] std::optional<Credential> find(const std::string& name) const;
  // Adds or replaces by name. Throws Error kBadInput unless: name non-empty and only [A-Za-z0-9._-];
  // user non-empty; exactly one of password/private_key set, and that one non-empty.
  void put(Credential credential);
  bool remove(const std::string& name);  // false when absent
  // Writes atomically: creates the parent directory 0700 when missing, writes a temp file 0600 in the
  // same directory, fsync, rename, fsync of the directory. Nothing else is ever written.
  void save();

 private:
  std::string path_;
  std::string passphrase_;
  std::vector<Credential> credentials_;  // sorted by name, names unique
};

// $SSHDCTL_CREDENTIALS if set, else $XDG_CONFIG_HOME/sshdctl/credentials, else ~/.config/sshdctl/credentials (HOME).
std::string default_store_path();

}  // namespace sshdctl::accounts

#include "sshdctl/accounts/credentials.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

#include "sshdctl/accounts/authorized_keys.h"
#include "sshdctl/common/error.h"
#include "temp_dir.h"

namespace sshdctl::accounts {
namespace {

// Offsets of the header fields, as the format promises them to later versions.
constexpr std::size_t kVersionAt = 19;  // after "sshdctl-credentials"
constexpr std::size_t kSaltAt = kVersionAt + 4 + 8 + 8;
constexpr std::size_t kNonceAt = kSaltAt + 16;
constexpr std::size_t kHeaderBytes = kNonceAt + 24;

const std::string kPassword = "hunter2-correct-horse";
// A private key made for the run (never a key kept in the repository).
const std::string& test_key() {
  static const std::string key = accounts::generate_ed25519("credential-test").private_key;
  return key;
}

using TempDir = sshdctl::testing::TempDir;

// Sets (or, with nullptr, unsets) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value != nullptr) {
      ::setenv(name_.c_str(), value, 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
  ::chmod(path.c_str(), 0600);
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

Credential with_password(std::string name, std::string user, std::string password) {
  return Credential{std::move(name), std::move(user), std::move(password), std::nullopt};
}

Credential with_key(std::string name, std::string user, std::string key) {
  return Credential{std::move(name), std::move(user), std::nullopt, std::move(key)};
}

// The kind of Error that `f` throws; nullopt when it throws nothing.
template <typename F>
std::optional<ErrorKind> error_kind(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  return std::nullopt;
}

// A store at `path` holding one password and one key credential.
void save_sample(const std::string& path, const std::string& passphrase = "open sesame") {
  CredentialStore store(path, passphrase);
  store.put(with_password("web-root", "deploy-operator", kPassword));
  store.put(with_key("db.backup_1", "postgres", test_key()));
  store.save();
}

TEST(CredentialStore, KeepsPasswordAndKeyCredentialsAcrossSaveAndReopen) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  save_sample(path);

  const CredentialStore reopened(path, "open sesame");
  ASSERT_EQ(reopened.list().size(), 2U);
  const auto web = reopened.find("web-root");
  ASSERT_TRUE(web.has_value());
  EXPECT_EQ(web->user, "deploy-operator");
  EXPECT_EQ(web->password, kPassword);
  EXPECT_FALSE(web->private_key.has_value());
  const auto db = reopened.find("db.backup_1");
  ASSERT_TRUE(db.has_value());
  EXPECT_EQ(db->user, "postgres");
  EXPECT_FALSE(db->password.has_value());
  EXPECT_EQ(db->private_key, test_key());
  EXPECT_FALSE(reopened.find("nope").has_value());
}

TEST(CredentialStore, PutReplacesTheCredentialWithTheSameName) {
  TempDir dir("credentials-test");
  CredentialStore store(dir.file("credentials"), "open sesame");
  store.put(with_password("web", "alice", "first"));
  store.put(with_key("web", "bob", test_key()));
  ASSERT_EQ(store.list().size(), 1U);
  EXPECT_EQ(store.list()[0].user, "bob");
  EXPECT_FALSE(store.list()[0].password.has_value()) << "the old secret does not linger";
  EXPECT_EQ(store.list()[0].private_key, test_key());
}

TEST(CredentialStore, RemoveDeletesOnlyTheNamedCredentialAndSaysWhenItWasAbsent) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  save_sample(path);
  CredentialStore store(path, "open sesame");
  EXPECT_TRUE(store.remove("web-root"));
  EXPECT_FALSE(store.remove("web-root"));
  EXPECT_FALSE(store.remove("never-there"));
  store.save();

  const CredentialStore reopened(path, "open sesame");
  ASSERT_EQ(reopened.list().size(), 1U);
  EXPECT_EQ(reopened.list()[0].name, "db.backup_1");
}

TEST(CredentialStore, ListIsSortedByName) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  CredentialStore store(path, "open sesame");
  for (const char* name : {"zeta", "alpha", "Mid", "beta-2", "beta-1"}) store.put(with_password(name, "u", "p"));
  std::vector<std::string> names;
  for (const auto& c : store.list()) names.push_back(c.name);
  const std::vector<std::string> sorted = {"Mid", "alpha", "beta-1", "beta-2", "zeta"};
  EXPECT_EQ(names, sorted);
  store.save();

  names.clear();
  const CredentialStore reopened(path, "open sesame");
  for (const auto& c : reopened.list()) names.push_back(c.name);
  EXPECT_EQ(names, sorted);
}

TEST(CredentialStore, FileIsPrivateAndHoldsNoSecretOrUserInPlainText) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  save_sample(path);
  EXPECT_EQ(mode_of(path), 0600U);
  const auto bytes = read_bytes(path);
  EXPECT_EQ(bytes.find(kPassword), std::string::npos);
  EXPECT_EQ(bytes.find(test_key()), std::string::npos);
  EXPECT_EQ(bytes.find("OPENSSH PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(bytes.find("deploy-operator"), std::string::npos);
  EXPECT_EQ(bytes.find("web-root"), std::string::npos);
}

TEST(CredentialStore, FileStartsWithTheMagicAndFormatVersionOne) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  save_sample(path);
  const auto bytes = read_bytes(path);
  ASSERT_GT(bytes.size(), kHeaderBytes);
  EXPECT_EQ(bytes.substr(0, kVersionAt), "sshdctl-credentials");
  EXPECT_EQ(bytes.substr(kVersionAt, 4), std::string("\x01\x00\x00\x00", 4));
}

TEST(CredentialStore, WrongPassphraseThrowsPermissionAndLeavesTheFileUntouched) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  save_sample(path);
  const auto before = read_bytes(path);
  EXPECT_EQ(error_kind([&] { CredentialStore(path, "open sesame!"); }), ErrorKind::kPermission);
  try {
    CredentialStore(path, "wrong");
  } catch (const Error& e) {
    EXPECT_EQ(e.message(), "wrong passphrase (or the store was altered)");
  }
  EXPECT_EQ(read_bytes(path), before);
}

TEST(CredentialStore, AFlippedCiphertextByteIsDetected) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  save_sample(path);
  const auto original = read_bytes(path);
  for (const std::size_t at : {kHeaderBytes, kHeaderBytes + 10, original.size() - 1}) {
    auto damaged = original;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x01);
    write_bytes(path, damaged);
    EXPECT_EQ(error_kind([&] { CredentialStore(path, "open sesame"); }), ErrorKind::kPermission) << "byte " << at;
  }
}

TEST(CredentialStore, AFlippedHeaderByteIsDetected) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  save_sample(path);
  const auto original = read_bytes(path);
  const auto with_flip = [&](std::size_t at, char mask) {
    auto damaged = original;
    damaged[at] = static_cast<char>(damaged[at] ^ mask);
    write_bytes(path, damaged);
    return error_kind([&] { CredentialStore(path, "open sesame"); });
  };
  EXPECT_EQ(with_flip(0, 0x20), ErrorKind::kBadInput) << "magic";
  EXPECT_EQ(with_flip(kVersionAt, 0x02), ErrorKind::kBadInput) << "version";
  EXPECT_EQ(with_flip(kVersionAt + 4, 0x01), ErrorKind::kPermission) << "opslimit 2 -> 3";
  EXPECT_EQ(with_flip(kVersionAt + 4 + 8 + 7, 0x40), ErrorKind::kBadInput) << "a huge memlimit is never tried";
  EXPECT_EQ(with_flip(kSaltAt, 0x01), ErrorKind::kPermission) << "salt";
  EXPECT_EQ(with_flip(kNonceAt + 23, 0x01), ErrorKind::kPermission) << "nonce";
}

TEST(CredentialStore, AFileThatIsNotAStoreIsBadInput) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  for (const std::string& text : {std::string(), std::string("web-root deploy hunter2\n"),
                                  std::string("sshdctl-credentials"), std::string(200, 'x')}) {
    write_bytes(path, text);
    EXPECT_EQ(error_kind([&] { CredentialStore(path, "open sesame"); }), ErrorKind::kBadInput) << text.size();
  }
}

TEST(CredentialStore, AnUnknownFormatVersionIsBadInput) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  write_bytes(path, "sshdctl-credentials" + std::string("\x02\x00\x00\x00", 4) + std::string(100, '\0'));
  try {
    CredentialStore(path, "open sesame");
    ADD_FAILURE() << "version 2 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
    EXPECT_NE(e.message().find("version 2"), std::string::npos) << e.message();
  }
}

TEST(CredentialStore, AStoreOthersCanReadIsRefused) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  save_sample(path);
  for (const mode_t mode : {0644, 0640, 0604}) {
    ::chmod(path.c_str(), mode);
    EXPECT_EQ(error_kind([&] { CredentialStore(path, "open sesame"); }), ErrorKind::kPermission) << mode;
  }
}

TEST(CredentialStore, ASymlinkIsRefused) {
  TempDir dir("credentials-test");
  const auto real = dir.file("real");
  save_sample(real);
  const auto link = dir.file("credentials");
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  EXPECT_EQ(error_kind([&] { CredentialStore(link, "open sesame"); }), ErrorKind::kPermission);
}

TEST(CredentialStore, PutRejectsBadNamesUsersAndSecrets) {
  TempDir dir("credentials-test");
  CredentialStore store(dir.file("credentials"), "open sesame");
  const std::vector<Credential> bad = {
      with_password("", "u", "p"),
      with_password("has space", "u", "p"),
      with_password("slash/name", "u", "p"),
      with_password("ünï", "u", "p"),
      with_password("ok", "", "p"),
      with_password("ok", "u", ""),
      with_key("ok", "u", ""),
      Credential{"ok", "u", std::nullopt, std::nullopt},
      Credential{"ok", "u", "p", test_key()},
      Credential{"ok", "u", "", test_key()},
  };
  for (const auto& c : bad) {
    EXPECT_EQ(error_kind([&] { store.put(c); }), ErrorKind::kBadInput) << "'" << c.name << "' '" << c.user << "'";
  }
  EXPECT_TRUE(store.list().empty());
  EXPECT_NO_THROW(store.put(with_password("A-z_0.9", "u", "p")));
}

TEST(CredentialStore, AnEmptyPassphraseIsBadInput) {
  TempDir dir("credentials-test");
  EXPECT_EQ(error_kind([&] { CredentialStore(dir.file("credentials"), ""); }), ErrorKind::kBadInput);
}

TEST(CredentialStore, EachSaveUsesAFreshSaltAndNonce) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  CredentialStore store(path, "open sesame");
  store.put(with_password("web-root", "deploy-operator", kPassword));
  store.save();
  const auto first = read_bytes(path);
  store.save();
  const auto second = read_bytes(path);
  ASSERT_EQ(first.size(), second.size());
  EXPECT_NE(first, second);
  EXPECT_NE(first.substr(kSaltAt, 16), second.substr(kSaltAt, 16));
  EXPECT_NE(first.substr(kNonceAt, 24), second.substr(kNonceAt, 24));
}

TEST(CredentialStore, AMissingFileIsAnEmptyStoreAndIsNotCreatedByOpening) {
  TempDir dir("credentials-test");
  const auto path = dir.file("credentials");
  const CredentialStore store(path, "open sesame");
  EXPECT_TRUE(store.list().empty());
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(CredentialStore, SaveCreatesPrivateParentDirectoriesAndLeavesNoTemporaryFile) {
  TempDir dir("credentials-test");
  const auto path = dir.file("config/sshdctl/credentials");
  save_sample(path);
  EXPECT_EQ(mode_of(dir.file("config")), 0700U);
  EXPECT_EQ(mode_of(dir.file("config/sshdctl")), 0700U);
  EXPECT_EQ(mode_of(path), 0600U);
  save_sample(path);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("config/sshdctl"))) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"credentials"});
}

TEST(CredentialStore, DefaultPathHonoursSshdctlCredentialsThenXdgConfigHomeThenHome) {
  const ScopedEnv home("HOME", "/home/tester");
  {
    const ScopedEnv explicit_path("SSHDCTL_CREDENTIALS", "/srv/secrets/creds");
    const ScopedEnv config("XDG_CONFIG_HOME", "/xdg");
    EXPECT_EQ(default_store_path(), "/srv/secrets/creds");
  }
  const ScopedEnv explicit_path("SSHDCTL_CREDENTIALS", nullptr);
  {
    const ScopedEnv config("XDG_CONFIG_HOME", "/xdg");
    EXPECT_EQ(default_store_path(), "/xdg/sshdctl/credentials");
  }
  {
    const ScopedEnv config("XDG_CONFIG_HOME", "relative/ignored");
    EXPECT_EQ(default_store_path(), "/home/tester/.config/sshdctl/credentials");
  }
  const ScopedEnv config("XDG_CONFIG_HOME", nullptr);
  EXPECT_EQ(default_store_path(), "/home/tester/.config/sshdctl/credentials");
}

}  // namespace
}  // namespace sshdctl::accounts

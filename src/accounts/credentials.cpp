#include "sshdctl/accounts/credentials.h"

#include <fcntl.h>
#include <pwd.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <utility>

#include "sshdctl/common/error.h"

namespace sshdctl::accounts {

namespace {

// File layout (numbers little-endian): magic, u32 version, u64 opslimit, u64 memlimit, salt, nonce,
// then the XChaCha20-Poly1305 ciphertext (with its tag) of the encoded credentials.
constexpr std::string_view kMagic = "sshdctl-credentials";
constexpr std::uint64_t kVersion = 1;
constexpr std::size_t kSaltBytes = crypto_pwhash_argon2id_SALTBYTES;
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kHeaderBytes = kMagic.size() + 4 + 8 + 8 + kSaltBytes + kNonceBytes;

using Key = std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_KEYBYTES>;

struct Header {
  std::uint64_t opslimit = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
  std::uint64_t memlimit = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
  std::array<unsigned char, kSaltBytes> salt{};
  std::array<unsigned char, kNonceBytes> nonce{};
};

// Zeroes a buffer when the scope ends, including when an exception leaves it half-way.
template <typename Buffer>
class Wiped {
 public:
  explicit Wiped(Buffer& buffer) : buffer_(buffer) {}
  ~Wiped() { sodium_memzero(buffer_.data(), buffer_.size()); }
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;

 private:
  Buffer& buffer_;
};

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

Error system_error(const std::string& what, const std::string& path) {
  const int saved = errno;
  const auto kind = saved == EACCES || saved == EPERM ? ErrorKind::kPermission : ErrorKind::kInternal;
  return Error(kind, what + ": " + std::strerror(saved), Location{{}, path, 0});
}

void init_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw Error(ErrorKind::kInternal, "libsodium cannot be initialised");
}

void wipe_secrets(Credential& c) {
  if (c.password) sodium_memzero(c.password->data(), c.password->size());
  if (c.private_key) sodium_memzero(c.private_key->data(), c.private_key->size());
}

// Empty when `c` may be stored; otherwise why not.
std::string invalid_reason(const Credential& c) {
  if (c.name.empty()) return "a credential needs a name";
  const bool plain_name = std::all_of(c.name.begin(), c.name.end(), [](char ch) {
    // Spelled out rather than isalnum(), which follows the locale.
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
  });
  if (!plain_name) return "credential name '" + c.name + "' may only contain letters, digits, '.', '_' and '-'";
  if (c.user.empty()) return "credential '" + c.name + "' needs a user";
  if (c.password.has_value() == c.private_key.has_value() || (c.password ? *c.password : *c.private_key).empty()) {
    return "credential '" + c.name + "' needs exactly one non-empty secret: a password or a private key";
  }
  return {};
}

void put_number(std::string& out, std::uint64_t value, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xffU));
}

void put_text(std::string& out, const std::string& text) {
  if (text.size() > UINT32_MAX) throw Error(ErrorKind::kBadInput, "a credential field is larger than 4 GiB");
  put_number(out, text.size(), 4);
  out += text;
}

void put_optional(std::string& out, const std::optional<std::string>& text) {
  put_number(out, text ? 1 : 0, 1);
  if (text) put_text(out, *text);
}

// u32 count, then per credential: name, user (u32 length + bytes each), password, private key
// (u8 present flag, then u32 length + bytes when present).
std::string encode(const std::vector<Credential>& credentials) {
  // Sized up front: letting the string grow would leave copies of the secrets in freed memory.
  std::size_t size = 4;
  for (const auto& c : credentials) {
    size += 4 + c.name.size() + 4 + c.user.size() + 2;
    if (c.password) size += 4 + c.password->size();
    if (c.private_key) size += 4 + c.private_key->size();
  }
  std::string out;
  out.reserve(size);
  put_number(out, credentials.size(), 4);
  for (const auto& c : credentials) {
    put_text(out, c.name);
    put_text(out, c.user);
    put_optional(out, c.password);
    put_optional(out, c.private_key);
  }
  return out;
}

// Reads the encoding above; anything short or odd is a damaged store.
class Reader {
 public:
  Reader(std::string_view data, Location where) : data_(data), where_(std::move(where)) {}

  std::string_view take(std::size_t size) {
    if (size > data_.size() - pos_) throw damaged();
    const auto out = data_.substr(pos_, size);
    pos_ += size;
    return out;
  }
  std::uint64_t number(std::size_t size) {
    const auto raw = take(size);
    std::uint64_t value = 0;
    for (std::size_t i = size; i-- > 0;) value = (value << 8) | static_cast<unsigned char>(raw[i]);
    return value;
  }
  std::string text() { return std::string(take(number(4))); }
  std::optional<std::string> optional_text() {
    const auto present = number(1);
    if (present > 1) throw damaged();
    return present == 1 ? std::optional(text()) : std::nullopt;
  }
  [[nodiscard]] bool done() const { return pos_ == data_.size(); }
  [[nodiscard]] Error damaged() const { return Error(ErrorKind::kBadInput, "damaged store", where_); }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
  Location where_;
};

std::vector<Credential> decode(std::string_view plain, const Location& where) {
  Reader in(plain, where);
  std::vector<Credential> out;
  for (auto count = in.number(4); count > 0; --count) {
    Credential c;
    c.name = in.text();
    c.user = in.text();
    c.password = in.optional_text();
    c.private_key = in.optional_text();
    if (!invalid_reason(c).empty()) throw in.damaged();
    out.push_back(std::move(c));
  }
  if (!in.done()) throw in.damaged();
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  const auto same_name = [](const auto& a, const auto& b) { return a.name == b.name; };
  if (std::adjacent_find(out.begin(), out.end(), same_name) != out.end()) throw in.damaged();
  return out;
}

std::string encode_header(const Header& h) {
  std::string out(kMagic);
  put_number(out, kVersion, 4);
  put_number(out, h.opslimit, 8);
  put_number(out, h.memlimit, 8);
  out.append(reinterpret_cast<const char*>(h.salt.data()), h.salt.size());
  out.append(reinterpret_cast<const char*>(h.nonce.data()), h.nonce.size());
  return out;
}

Key derive_key(const std::string& passphrase, const Header& h) {
  Key key{};
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(), h.salt.data(), h.opslimit,
                    static_cast<std::size_t>(h.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw Error(ErrorKind::kInternal, "cannot derive the credential store key (out of memory?)");
  }
  return key;
}

// The file's bytes; nullopt when it does not exist. Refuses files others could have read or planted.
std::optional<std::string> read_private_file(const std::string& path) {
  const Location where{{}, path, 0};
  // O_NONBLOCK: a FIFO planted at the path must not hang us before fstat can refuse it.
  Fd file{::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)};
  if (file.fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP) throw Error(ErrorKind::kPermission, "the credential store is a symlink; refusing it", where);
    throw system_error("cannot open the credential store", path);
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw system_error("cannot stat the credential store", path);
  if (!S_ISREG(st.st_mode)) throw Error(ErrorKind::kBadInput, "the credential store is not a regular file", where);
  if (st.st_uid != ::geteuid()) {
    throw Error(ErrorKind::kPermission, "the credential store belongs to uid " + std::to_string(st.st_uid), where);
  }
  if ((st.st_mode & 077) != 0) {
    throw Error(ErrorKind::kPermission,
                "the credential store can be read by group or others; it must be mode 0600 (chmod 600 " + path + ")",
                where);
  }
  std::string data;
  char buffer[65536];
  for (;;) {
    const ssize_t got = ::read(file.fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw system_error("cannot read the credential store", path);
    if (got == 0) return data;
    data.append(buffer, static_cast<std::size_t>(got));
  }
}

std::vector<Credential> load(const std::string& path, const std::string& passphrase) {
  const auto file = read_private_file(path);
  if (!file) return {};
  const Location where{{}, path, 0};
  const std::string_view data(*file);
  if (!data.starts_with(kMagic)) throw Error(ErrorKind::kBadInput, "not a credential store", where);
  Reader in(data, where);
  in.take(kMagic.size());
  if (const auto version = in.number(4); version != kVersion) {
    throw Error(ErrorKind::kBadInput,
                "credential store format version " + std::to_string(version) + " is unknown to this sshdctl", where);
  }
  if (data.size() < kHeaderBytes + kTagBytes) throw Error(ErrorKind::kBadInput, "truncated credential store", where);
  Header h;
  h.opslimit = in.number(8);
  h.memlimit = in.number(8);
  // Checked before deriving: the limits are only authenticated afterwards, and a forged memlimit could
  // otherwise make us allocate without bound.
  if (h.opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN || h.opslimit > crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE ||
      h.memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN || h.memlimit > crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE) {
    throw Error(ErrorKind::kBadInput, "the credential store header has out-of-range Argon2 limits", where);
  }
  std::memcpy(h.salt.data(), in.take(kSaltBytes).data(), kSaltBytes);
  std::memcpy(h.nonce.data(), in.take(kNonceBytes).data(), kNonceBytes);

  Key key = derive_key(passphrase, h);
  const Wiped wipe_key(key);
  std::string plain(data.size() - kHeaderBytes - kTagBytes, '\0');
  const Wiped wipe_plain(plain);
  const auto sealed = data.substr(kHeaderBytes);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(bytes(plain), nullptr, nullptr, bytes(sealed), sealed.size(),
                                                 bytes(data), kHeaderBytes, h.nonce.data(), key.data()) != 0) {
    throw Error(ErrorKind::kPermission, "wrong passphrase (or the store was altered)", where);
  }
  return decode(plain, where);
}

// Creates `dir` and its missing parents with mode 0700.
void make_private_directories(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) return;
  if (dir.has_parent_path() && dir.parent_path() != dir) make_private_directories(dir.parent_path());
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw system_error("cannot create the directory", dir);
}

void write_atomically(const std::filesystem::path& target, const std::filesystem::path& dir, std::string_view data) {
  std::string temp = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) throw system_error("cannot create a temporary file next to the credential store", target);
  const auto fail = [&](const std::string& what) {
    Error error = system_error(what, target);
    ::unlink(temp.c_str());
    return error;
  };
  {
    const Fd file{fd};
    // Exactly 0600 whatever the umask.
    if (::fchmod(fd, 0600) != 0) throw fail("cannot set the mode of the temporary file");
    for (std::size_t done = 0; done < data.size();) {
      const ssize_t wrote = ::write(fd, data.data() + done, data.size() - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) throw fail("cannot write the credential store");
      done += static_cast<std::size_t>(wrote);
    }
    if (::fsync(fd) != 0) throw fail("cannot flush the credential store");
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) throw fail("cannot replace the credential store");
  // The rename itself is only durable once the directory is flushed.
  const Fd directory{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (directory.fd < 0 || ::fsync(directory.fd) != 0) throw system_error("cannot flush the directory", dir);
}

}  // namespace

CredentialStore::CredentialStore(std::string path, std::string passphrase)
    : path_(std::move(path)), passphrase_(std::move(passphrase)) {
  try {
    init_sodium();
    if (passphrase_.empty()) throw Error(ErrorKind::kBadInput, "the credential store passphrase must not be empty");
    credentials_ = load(path_, passphrase_);
  } catch (...) {
    // The destructor does not run when the constructor throws.
    sodium_memzero(passphrase_.data(), passphrase_.size());
    throw;
  }
}

CredentialStore::~CredentialStore() {
  sodium_memzero(passphrase_.data(), passphrase_.size());
  for (auto& c : credentials_) wipe_secrets(c);
}

const std::vector<Credential>& CredentialStore::list() const { return credentials_; }

std::optional<Credential> CredentialStore::find(const std::string& name) const {
  const auto it = std::find_if(credentials_.begin(), credentials_.end(), [&](const auto& c) { return c.name == name; });
  if (it == credentials_.end()) return std::nullopt;
  return *it;
}

void CredentialStore::put(Credential credential) {
  if (const auto reason = invalid_reason(credential); !reason.empty()) {
    wipe_secrets(credential);
    throw Error(ErrorKind::kBadInput, reason);
  }
  const auto it = std::lower_bound(credentials_.begin(), credentials_.end(), credential.name,
                                   [](const Credential& c, const std::string& name) { return c.name < name; });
  if (it != credentials_.end() && it->name == credential.name) {
    wipe_secrets(*it);
    *it = std::move(credential);
  } else {
    credentials_.insert(it, std::move(credential));
  }
}

bool CredentialStore::remove(const std::string& name) {
  const auto it = std::find_if(credentials_.begin(), credentials_.end(), [&](const auto& c) { return c.name == name; });
  if (it == credentials_.end()) return false;
  wipe_secrets(*it);
  credentials_.erase(it);
  return true;
}

void CredentialStore::save() {
  const std::filesystem::path target(path_);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  make_private_directories(dir);

  Header h;
  randombytes_buf(h.salt.data(), h.salt.size());
  randombytes_buf(h.nonce.data(), h.nonce.size());
  std::string file = encode_header(h);
  Key key = derive_key(passphrase_, h);
  const Wiped wipe_key(key);
  std::string plain = encode(credentials_);
  const Wiped wipe_plain(plain);
  file.resize(kHeaderBytes + plain.size() + kTagBytes);
  crypto_aead_xchacha20poly1305_ietf_encrypt(bytes(file) + kHeaderBytes, nullptr, bytes(plain), plain.size(),
                                             bytes(file), kHeaderBytes, nullptr, h.nonce.data(), key.data());
  write_atomically(target, dir, file);
}

std::string default_store_path() {
  if (const char* path = std::getenv("SSHDCTL_CREDENTIALS"); path != nullptr && *path != '\0') return path;
  // The XDG base directory spec says to ignore a relative XDG_CONFIG_HOME.
  if (const char* config = std::getenv("XDG_CONFIG_HOME"); config != nullptr && config[0] == '/') {
    return std::string(config) + "/sshdctl/credentials";
  }
  std::string home;
  if (const char* env = std::getenv("HOME"); env != nullptr) home = env;
  if (home.empty()) {
    if (const passwd* pw = ::getpwuid(::geteuid()); pw != nullptr && pw->pw_dir != nullptr) home = pw->pw_dir;
  }
  if (home.empty()) throw Error(ErrorKind::kNotFound, "cannot find the home directory for the credential store");
  return home + "/.config/sshdctl/credentials";
}

}  // namespace sshdctl::accounts

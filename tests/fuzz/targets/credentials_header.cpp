// The credential store's file (accounts::CredentialStore): its versioned header (magic,
// version, Argon2id limits, salt, nonce) and, behind the authenticated encryption, the encoding
// of the credentials.
//
// Input: the first byte picks the mode.
//   even: the rest is the file as it is on disk (header checks, then a decryption that fails
//         unless the input is a real store for the passphrase);
//   odd:  the rest is the plaintext, sealed here into a well-formed store for the passphrase,
//         so that the decoder of the credentials (counts, lengths, flags) is reached.
// The Argon2 limits of a raw input are lowered to the cheapest ones the store accepts when they
// are in range (a store may ask for up to 1 GiB and seconds per open; that is not a finding);
// out-of-range limits are kept, the store must refuse them before deriving a key.
//
// Properties: opening gives a store or an Error: bad input (not a store, unknown version, bad
// limits, truncated, damaged) or the wrong-passphrase refusal, which a sealed input must never
// get; a store that opens has sorted, unique, valid names, and saving and opening it again gives
// the same credentials (checked for one store in 256 that open: a save is slow on purpose).
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "../fuzz_support.h"
#include "sshdctl/accounts/credentials.h"

namespace {

using namespace sshdctl;
using fuzz::check;

constexpr std::string_view kMagic = "sshdctl-credentials";
constexpr const char* kPassphrase = "correct horse battery staple";
constexpr std::size_t kLimitsAt = kMagic.size() + 4;  // after the magic and the u32 version

void put_number(std::string& out, std::uint64_t value, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xffU));
}

std::uint64_t number_at(const std::string& s, std::size_t at) {
  std::uint64_t value = 0;
  for (std::size_t i = 8; i-- > 0;) value = (value << 8) | static_cast<unsigned char>(s[at + i]);
  return value;
}

void set_number_at(std::string& s, std::size_t at, std::uint64_t value) {
  for (std::size_t i = 0; i < 8; ++i) s[at + i] = static_cast<char>((value >> (8 * i)) & 0xffU);
}

// Where the store files go: a private directory, on tmpfs when there is one.
// Never destroyed: the exit handler that removes it runs after static destructors.
const std::string& work_dir() {
  static const std::string* const dir = new std::string([] {
    const std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string pattern = base + "/sshdctl-fuzz-credentials.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) fuzz::finding("cannot create a directory under " + base);
    std::atexit([] { std::filesystem::remove_all(work_dir()); });
    return pattern;
  }());
  return *dir;
}

void write_store(const std::string& path, const std::string& bytes) {
  std::filesystem::remove(path);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out) fuzz::finding("cannot write " + path);
  }
  ::chmod(path.c_str(), 0600);
}

// The cheapest limits a store may have; the key for them is derived once.
struct Sealer {
  std::array<unsigned char, crypto_pwhash_argon2id_SALTBYTES> salt{};
  std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_KEYBYTES> key{};
  std::string header;

  Sealer() {
    if (sodium_init() < 0) fuzz::finding("libsodium does not start");
    for (std::size_t i = 0; i < salt.size(); ++i) salt[i] = static_cast<unsigned char>(i * 7 + 1);
    for (std::size_t i = 0; i < nonce.size(); ++i) nonce[i] = static_cast<unsigned char>(i * 13 + 5);
    header = std::string(kMagic);
    put_number(header, 1, 4);
    put_number(header, crypto_pwhash_argon2id_OPSLIMIT_MIN, 8);
    put_number(header, crypto_pwhash_argon2id_MEMLIMIT_MIN, 8);
    header.append(reinterpret_cast<const char*>(salt.data()), salt.size());
    header.append(reinterpret_cast<const char*>(nonce.data()), nonce.size());
    if (crypto_pwhash(key.data(), key.size(), kPassphrase, std::strlen(kPassphrase), salt.data(),
                      crypto_pwhash_argon2id_OPSLIMIT_MIN, crypto_pwhash_argon2id_MEMLIMIT_MIN,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
      fuzz::finding("cannot derive the key");
  }

  [[nodiscard]] std::string seal(const std::string& plain) const {
    std::string sealed(plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
    unsigned long long length = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(sealed.data()), &length,
                                               reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                                               reinterpret_cast<const unsigned char*>(header.data()), header.size(),
                                               nullptr, nonce.data(), key.data());
    sealed.resize(static_cast<std::size_t>(length));
    return header + sealed;
  }
};

// Lowers in-range Argon2 limits to the cheapest ones (see above).
void cheapen(std::string& file) {
  if (file.size() < kLimitsAt + 16 || file.compare(0, kMagic.size(), kMagic) != 0) return;
  const auto ops = number_at(file, kLimitsAt);
  const auto mem = number_at(file, kLimitsAt + 8);
  const bool in_range = ops >= crypto_pwhash_argon2id_OPSLIMIT_MIN &&
                        ops <= crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE &&
                        mem >= crypto_pwhash_argon2id_MEMLIMIT_MIN && mem <= crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;
  if (!in_range) return;
  set_number_at(file, kLimitsAt, crypto_pwhash_argon2id_OPSLIMIT_MIN);
  set_number_at(file, kLimitsAt + 8, crypto_pwhash_argon2id_MEMLIMIT_MIN);
}

bool same(const std::vector<accounts::Credential>& a, const std::vector<accounts::Credential>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].name != b[i].name || a[i].user != b[i].user || a[i].password != b[i].password ||
        a[i].private_key != b[i].private_key)
      return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Sealer sealer;
  if (size == 0) return 0;
  const bool sealed = (data[0] & 1U) != 0;
  std::string file = fuzz::bytes(data + 1, size - 1);
  if (sealed) {
    file = sealer.seal(file);
  } else {
    cheapen(file);
  }
  const std::string path = work_dir() + "/store";
  write_store(path, file);

  std::optional<accounts::CredentialStore> store;
  if (const auto e = fuzz::outcome("CredentialStore", [&] { store.emplace(path, kPassphrase); })) {
    const bool wrong_passphrase = e->kind() == ErrorKind::kPermission && e->message().find("wrong passphrase") == 0;
    check(e->kind() == ErrorKind::kBadInput || wrong_passphrase, std::string("an expected refusal: ") + e->what());
    check(!(sealed && wrong_passphrase), "a store sealed for the passphrase opens or is damaged, not 'wrong'");
    check(e->where().file == path, std::string("the error names the store: ") + e->what());
    return 0;
  }
  const auto& list = store->list();
  for (std::size_t i = 0; i < list.size(); ++i) {
    check(!list[i].name.empty() && !list[i].user.empty(), "a credential has a name and a user");
    check(list[i].password.has_value() != list[i].private_key.has_value(), "a credential has one secret");
    if (i > 0) check(list[i - 1].name < list[i].name, "names are sorted and unique");
  }
  // What was read is what is written: save (fresh salt and nonce) and open again. A save derives
  // a key with the store's real limits (64 MiB, tens of ms), so one store in 256 that open is
  // saved.
  static unsigned opened = 0;
  if (opened++ % 256 != 0) return 0;
  const std::vector<accounts::Credential> before = list;
  if (const auto e = fuzz::outcome("save", [&] { store->save(); })) fuzz::finding(std::string("save: ") + e->what());
  std::optional<accounts::CredentialStore> reopened;
  if (const auto e = fuzz::outcome("reopen", [&] { reopened.emplace(path, kPassphrase); }))
    fuzz::finding(std::string("a saved store does not open: ") + e->what());
  check(same(reopened->list(), before), "saving and opening again keeps the credentials");
  return 0;
}

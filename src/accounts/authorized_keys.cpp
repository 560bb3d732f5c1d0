#include "sshdctl/accounts/authorized_keys.h"

#include <libssh/libssh.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "sshdctl/augeas/augeas.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/resolve.h"

namespace sshdctl::accounts {

namespace {

constexpr const char* kLens = "Sshdctl_authorized_keys.lns";

bool is_key_type(const std::string& word) {
  return word.rfind("ssh-", 0) == 0 || word.rfind("ecdsa-", 0) == 0 || word.rfind("sk-", 0) == 0;
}

// The options sshd(8) knows; `true`: it takes a value. An unknown option makes sshd refuse
// the whole line.
const std::vector<std::pair<std::string, bool>>& known_options() {
  static const std::vector<std::pair<std::string, bool>> options{{"agent-forwarding", false},
                                                                 {"cert-authority", false},
                                                                 {"command", true},
                                                                 {"environment", true},
                                                                 {"expiry-time", true},
                                                                 {"from", true},
                                                                 {"no-agent-forwarding", false},
                                                                 {"no-port-forwarding", false},
                                                                 {"no-pty", false},
                                                                 {"no-user-rc", false},
                                                                 {"no-x11-forwarding", false},
                                                                 {"permitlisten", true},
                                                                 {"permitopen", true},
                                                                 {"port-forwarding", false},
                                                                 {"principals", true},
                                                                 {"pty", false},
                                                                 {"no-touch-required", false},
                                                                 {"verify-required", false},
                                                                 {"restrict", false},
                                                                 {"tunnel", true},
                                                                 {"user-rc", false},
                                                                 {"x11-forwarding", false}};
  return options;
}

struct KeyDeleter {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;

KeyPtr import_blob(const PublicKey& key) {
  ssh_key raw = nullptr;
  const auto type = ssh_key_type_from_name(key.type.c_str());
  if (type == SSH_KEYTYPE_UNKNOWN || ssh_pki_import_pubkey_base64(key.blob.c_str(), type, &raw) != SSH_OK)
    return nullptr;
  KeyPtr imported(raw);
  if (ssh_key_type(imported.get()) != type) return nullptr;
  return imported;
}

std::string base64_decode(const std::string& in) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+') v = 62;
    if (c == '/') v = 63;
    if (v < 0) continue;  // '=' padding
    buffer = (buffer << 6U) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU);
    }
  }
  return out;
}

// The modulus size of an ssh-rsa blob (string "ssh-rsa", mpint e, mpint n), in bits.
int rsa_bits(const std::string& blob) {
  const std::string raw = base64_decode(blob);
  std::size_t at = 0;
  std::string field;
  const auto next = [&] {
    if (at + 4 > raw.size()) return false;
    std::size_t len = 0;
    for (int k = 0; k < 4; ++k) len = (len << 8U) | static_cast<unsigned char>(raw[at + static_cast<std::size_t>(k)]);
    at += 4;
    if (at + len > raw.size()) return false;
    field = raw.substr(at, len);
    at += len;
    return true;
  };
  if (!next() || !next() || !next()) return 0;
  std::size_t skip = 0;
  while (skip < field.size() && field[skip] == '\0') ++skip;
  if (skip == field.size()) return 0;
  int bits = static_cast<int>(field.size() - skip) * 8;
  for (auto top = static_cast<unsigned char>(field[skip]); (top & 0x80U) == 0;
       top = static_cast<unsigned char>(top << 1U))
    --bits;
  return bits;
}

int digits(const std::string& s, std::size_t at, std::size_t n) { return std::stoi(s.substr(at, n)); }

}  // namespace

std::vector<KeyOption> parse_options(const std::string& text) {
  std::vector<KeyOption> out;
  std::size_t i = 0;
  while (i < text.size()) {
    KeyOption option;
    const std::size_t start = i;
    while (i < text.size() && text[i] != '=' && text[i] != ',') ++i;
    option.name = text.substr(start, i - start);
    if (option.name.empty() || option.name.find_first_of(" \t\"") != std::string::npos)
      throw Error(ErrorKind::kBadInput, "malformed key options near '" + text.substr(start) + "'");
    if (i < text.size() && text[i] == '=') {
      if (i + 1 >= text.size() || text[i + 1] != '"')
        throw Error(ErrorKind::kBadInput, "the value of key option " + option.name + " must be in double quotes");
      i += 2;
      std::string value;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '"') {
          value += "\\\"";  // kept escaped, as the lens holds it
          i += 2;
        } else if (text[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          value += text[i++];
        }
      }
      if (!closed) throw Error(ErrorKind::kBadInput, "unterminated quote in key option " + option.name);
      option.value = value;
    }
    out.push_back(option);
    if (i < text.size()) {
      if (text[i] != ',') throw Error(ErrorKind::kBadInput, "malformed key options near '" + text.substr(i) + "'");
      ++i;
      if (i == text.size()) throw Error(ErrorKind::kBadInput, "key options end with a comma");
    }
  }
  return out;
}

std::string render_options(const std::vector<KeyOption>& options) {
  std::vector<std::string> parts;
  for (const auto& o : options) parts.push_back(o.value ? o.name + "=\"" + *o.value + "\"" : o.name);
  return text::join(parts, ",");
}

PublicKey parse_public_key(const std::string& line_text) {
  std::string line = text::trim(line_text);
  if (line.empty() || line[0] == '#') throw Error(ErrorKind::kBadInput, "no public key (an empty or comment line)");
  PublicKey key;
  std::size_t i = 0;
  const auto next_word = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    return line.substr(start, i - start);
  };
  if (!is_key_type(line.substr(0, line.find_first_of(" \t")))) {
    // Options run to the first blank outside quotes.
    bool quoted = false;
    for (; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        ++i;
        continue;
      }
      if (line[i] == '"') quoted = !quoted;
      if (!quoted && (line[i] == ' ' || line[i] == '\t')) break;
    }
    key.options = parse_options(line.substr(0, i));
  }
  key.type = next_word();
  key.blob = next_word();
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  key.comment = text::trim(line.substr(i));
  if (!is_key_type(key.type))
    throw Error(ErrorKind::kBadInput, "'" + key.type + "' is not a key type (ssh-ed25519, ecdsa-sha2-…, sk-…)");
  if (key.blob.empty()) throw Error(ErrorKind::kBadInput, "the key data is missing after " + key.type);
  return key;
}

std::optional<std::string> key_problem(const PublicKey& key) {
  if (key.type == "ssh-dss" || key.type == "ssh-dss-cert-v01@openssh.com")
    return "ssh-dss (DSA) keys are refused by sshd (OpenSSH 7.0 and later) unless PubkeyAcceptedAlgorithms allows "
           "them; use ed25519";
  if (ssh_key_type_from_name(key.type.c_str()) == SSH_KEYTYPE_UNKNOWN)
    return "sshd does not know the key type " + key.type;
  const auto imported = import_blob(key);
  if (!imported) return "the key data is not a valid " + key.type + " key";
  if (key.type == "ssh-rsa" && rsa_bits(key.blob) < 1024)
    return "RSA keys shorter than 1024 bits are refused by sshd (RequiredRSASize)";
  for (const auto& option : key.options) {
    const std::string name = text::lower(option.name);
    const auto known =
        std::find_if(known_options().begin(), known_options().end(), [&](const auto& k) { return k.first == name; });
    if (known == known_options().end())
      return "unknown key option '" + option.name + "' (sshd would refuse the whole line)";
    if (known->second && !option.value) return "key option " + option.name + " needs a value (" + name + "=\"…\")";
    if (!known->second && option.value) return "key option " + option.name + " takes no value";
  }
  try {
    (void)key_expiry(key);
  } catch (const Error& e) {
    return e.message();
  }
  return std::nullopt;
}

std::string key_fingerprint(const PublicKey& key) {
  const auto imported = import_blob(key);
  if (!imported) return "?";
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(imported.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK) return "?";
  char* printable = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  std::string out = printable != nullptr ? printable : "?";
  ssh_string_free_char(printable);
  return out;
}

std::vector<std::string> authorized_keys_files(const std::vector<std::string>& patterns, const host::Account& account) {
  std::vector<std::string> out;
  for (const auto& pattern : patterns) {
    if (text::iequals(pattern, "none")) continue;
    std::string path;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] != '%' || i + 1 == pattern.size()) {
        path += pattern[i];
        continue;
      }
      switch (pattern[++i]) {
        case 'h':
          path += account.home;
          break;
        case 'u':
          path += account.name;
          break;
        case 'U':
          path += std::to_string(account.uid);
          break;
        case '%':
          path += '%';
          break;
        default:
          throw Error(ErrorKind::kBadInput, "AuthorizedKeysFile: unknown token %" + std::string(1, pattern[i]));
      }
    }
    if (path.empty()) continue;
    out.push_back(path[0] == '/' ? path : account.home + "/" + path);
  }
  return out;
}

KeyFiles effective_key_files(const config::Model& model, const config::Connection& conn, const host::Account& account) {
  const config::OptionKey key{config::find_keyword("AuthorizedKeysFile"), {}};
  const auto eff = config::resolve_for(model, key, conn, config::Unknown::kIgnore);
  KeyFiles out;
  if (!eff.sources.empty()) out.decided_by = Location{{}, eff.sources[0]->file, eff.sources[0]->directive->line}.str();
  out.files = authorized_keys_files(
      eff.values.empty() ? std::vector<std::string>{".ssh/authorized_keys", ".ssh/authorized_keys2"} : eff.values,
      account);
  return out;
}

std::optional<std::string> strict_modes_problem(const host::FileInfo& info, const host::Account& account) {
  if (info.uid != account.uid && info.uid != 0)
    return "is owned by uid " + std::to_string(info.uid) + ", not by " + account.name + " or root";
  if ((info.mode & 022) != 0) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.mode));
    return std::string("can be written by group or others (mode ") + mode + ")";
  }
  return std::nullopt;
}

std::optional<std::time_t> key_expiry(const PublicKey& key) {
  for (const auto& option : key.options) {
    if (!text::iequals(option.name, "expiry-time") || !option.value) continue;
    std::string v = *option.value;
    const bool utc = !v.empty() && (v.back() == 'Z' || v.back() == 'z');
    if (utc) v.pop_back();
    if ((v.size() != 8 && v.size() != 12 && v.size() != 14) || v.find_first_not_of("0123456789") != std::string::npos)
      throw Error(ErrorKind::kBadInput, "expiry-time=\"" + *option.value + "\" is not YYYYMMDD[HHMM[SS]][Z]");
    std::tm tm{};
    tm.tm_year = digits(v, 0, 4) - 1900;
    tm.tm_mon = digits(v, 4, 2) - 1;
    tm.tm_mday = digits(v, 6, 2);
    if (v.size() >= 12) {
      tm.tm_hour = digits(v, 8, 2);
      tm.tm_min = digits(v, 10, 2);
    }
    if (v.size() == 14) tm.tm_sec = digits(v, 12, 2);
    tm.tm_isdst = -1;
    return utc ? timegm(&tm) : mktime(&tm);
  }
  return std::nullopt;
}

std::string expiry_value(std::time_t when, std::optional<long> local_offset_s) {
  if (local_offset_s) return text::utc(when + *local_offset_s, "%Y%m%d%H%M%S");
  return text::utc(when, "%Y%m%d%H%M%SZ");
}

std::optional<long> parse_utc_offset(std::string_view text) {
  const std::string t = text::trim(std::string(text));
  if (t.size() != 5 || (t[0] != '+' && t[0] != '-') || t.find_first_not_of("0123456789", 1) != std::string::npos)
    return std::nullopt;
  const long hours = (t[1] - '0') * 10 + (t[2] - '0');
  const long minutes = (t[3] - '0') * 10 + (t[4] - '0');
  if (hours > 14 || minutes > 59) return std::nullopt;
  const long seconds = hours * 3600 + minutes * 60;
  return t[0] == '-' ? -seconds : seconds;
}

KeyPair generate_ed25519(const std::string& comment) {
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK)
    throw Error(ErrorKind::kInternal, "cannot generate an ed25519 key");
  const KeyPtr key(raw);
  char* private_text = nullptr;
  char* blob = nullptr;
  if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &private_text) != SSH_OK ||
      ssh_pki_export_pubkey_base64(key.get(), &blob) != SSH_OK) {
    ssh_string_free_char(private_text);
    throw Error(ErrorKind::kInternal, "cannot export the generated key");
  }
  KeyPair pair;
  pair.private_key = private_text;
  if (!pair.private_key.empty() && pair.private_key.back() != '\n') pair.private_key += '\n';
  explicit_bzero(private_text, std::strlen(private_text));
  ssh_string_free_char(private_text);
  pair.public_key.type = "ssh-ed25519";
  pair.public_key.blob = blob;
  pair.public_key.comment = comment;
  ssh_string_free_char(blob);
  return pair;
}

AuthorizedKeys::AuthorizedKeys(const std::string& content, const std::string& lens_dir,
                               const std::string& name_for_errors)
    : file_(std::make_unique<aug::MirroredFile>(content, kLens, lens_dir, name_for_errors)) {}

AuthorizedKeys::~AuthorizedKeys() = default;

std::vector<PublicKey> AuthorizedKeys::keys() const {
  const auto& aug = file_->aug();
  std::vector<PublicKey> out;
  for (const auto& node : aug.match(file_->node() + "/key")) {
    PublicKey key;
    key.blob = aug.get(node).value_or("");
    key.type = aug.get(node + "/type").value_or("");
    key.comment = aug.get(node + "/comment").value_or("");
    for (const auto& option : aug.match(node + "/options/*"))
      key.options.push_back(KeyOption{aug.label(option), aug.get(option)});
    if (const auto span = aug.span(node)) key.line = text::line_of_offset(file_->parsed_text(), span->start);
    out.push_back(std::move(key));
  }
  return out;
}

bool AuthorizedKeys::add(const PublicKey& key) {
  const auto existing = keys();
  for (std::size_t i = 0; i < existing.size(); ++i) {
    if (existing[i].blob != key.blob) continue;
    if (existing[i].options == key.options && existing[i].type == key.type &&
        (key.comment.empty() || existing[i].comment == key.comment))
      return false;
    remove_position(static_cast<int>(i) + 1);
    break;
  }
  auto& aug = file_->aug();
  aug.set(file_->node() + "/key[last()+1]", key.blob);
  const std::string added = file_->node() + "/key[last()]";
  for (const auto& option : key.options) aug.set(added + "/options/" + option.name + "[last()+1]", option.value);
  aug.set(added + "/type", key.type);
  if (!key.comment.empty()) aug.set(added + "/comment", key.comment);
  return true;
}

void AuthorizedKeys::remove_position(int position) {
  file_->aug().remove(file_->node() + "/key[" + std::to_string(position) + "]");
}

std::string AuthorizedKeys::text() { return file_->text(); }

}  // namespace sshdctl::accounts

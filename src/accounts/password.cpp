#include "sshdctl/accounts/password.h"

#include <crypt.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <random>

#include "sshdctl/augeas/augeas.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"

namespace sshdctl::accounts {

namespace {

// The value of KEY in login.defs text ("KEY value", comments with #); the last one wins.
std::optional<std::string> defs_value(const std::string& text, const std::string& key) {
  std::optional<std::string> value;
  for (const auto& line : text::lines(text)) {
    const auto words = text::split_words(line);
    if (words.size() >= 2 && words[0] == key) value = words[1];
  }
  return value;
}

std::optional<unsigned long> defs_number(const std::string& text, const std::string& key) {
  const auto value = defs_value(text, key);
  if (!value || value->empty() || value->find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::strtoul(value->c_str(), nullptr, 10);
}

// The fields of `user`'s line: [begin, end) offsets of the line within `shadow`.
std::optional<std::pair<std::size_t, std::size_t>> find_line(const std::string& shadow, const std::string& user) {
  std::size_t begin = 0;
  while (begin < shadow.size()) {
    std::size_t end = shadow.find('\n', begin);
    if (end == std::string::npos) end = shadow.size();
    if (shadow.compare(begin, user.size() + 1, user + ":") == 0) return std::make_pair(begin, end);
    begin = end + 1;
  }
  return std::nullopt;
}

}  // namespace

HashMethod hash_method(const std::string& login_defs) {
  HashMethod m;
  const std::string method = text::lower(defs_value(login_defs, "ENCRYPT_METHOD").value_or("SHA512"));
  if (method == "yescrypt") {
    m.prefix = "$y$";
    m.name = "yescrypt";
    const auto factor = defs_number(login_defs, "YESCRYPT_COST_FACTOR");
    m.cost = factor ? std::clamp<unsigned long>(*factor, 1, 11) : 0;
    return m;
  }
  if (method == "sha256" || method == "sha512") {
    m.prefix = method == "sha256" ? "$5$" : "$6$";
    m.name = method == "sha256" ? "SHA-256" : "SHA-512";
  } else {
    m.prefix = "$6$";
    m.name = "SHA-512";
    m.note = "login.defs asks for ENCRYPT_METHOD " + method + ", which is too weak or unknown; SHA512 is used";
  }
  // shadow's rule: one bound set → that value; both → a random value between them.
  const auto low = defs_number(login_defs, "SHA_CRYPT_MIN_ROUNDS");
  const auto high = defs_number(login_defs, "SHA_CRYPT_MAX_ROUNDS");
  if (low && high) {
    if (*low >= *high) {
      m.cost = *low;
    } else {
      std::random_device random;
      m.cost = std::uniform_int_distribution<unsigned long>(*low, *high)(random);
    }
  } else if (low || high) {
    m.cost = low ? *low : *high;
  }
  if (m.cost != 0) m.cost = std::clamp<unsigned long>(m.cost, 1000, 999999999);
  return m;
}

std::string hash_password(const std::string& password, const HashMethod& method) {
  char* setting = crypt_gensalt_ra(method.prefix.c_str(), method.cost, nullptr, 0);
  if (setting == nullptr) throw Error(ErrorKind::kInternal, "cannot make a salt for " + method.prefix + " hashes");
  void* data = nullptr;
  int size = 0;
  const char* hashed = crypt_ra(password.c_str(), setting, &data, &size);
  std::string out = hashed != nullptr && hashed[0] != '*' ? hashed : "";
  std::free(setting);
  if (data != nullptr) {
    explicit_bzero(data, static_cast<std::size_t>(size));
    std::free(data);
  }
  if (out.empty()) throw Error(ErrorKind::kInternal, "libxcrypt cannot hash with " + method.prefix);
  return out;
}

bool password_matches(const std::string& password, const std::string& hash) {
  if (hash.empty() || hash[0] != '$') return false;  // locked (!, *) or empty: never a match
  void* data = nullptr;
  int size = 0;
  const char* hashed = crypt_ra(password.c_str(), hash.c_str(), &data, &size);
  const bool same = hashed != nullptr && hash == hashed;
  if (data != nullptr) {
    explicit_bzero(data, static_cast<std::size_t>(size));
    std::free(data);
  }
  return same;
}

std::optional<std::string> shadow_field(const std::string& shadow, const std::string& user) {
  const auto line = find_line(shadow, user);
  if (!line) return std::nullopt;
  const auto fields = text::split(shadow.substr(line->first, line->second - line->first), ':');
  return fields.size() > 1 ? fields[1] : std::string();
}

void unlock(ShadowEntry& e, const std::string& user, long day, std::string& what) {
  std::vector<std::string> done;
  if (!e.password.empty() && e.password[0] == '!') {
    const auto rest = e.password.find_first_not_of('!');
    if (rest == std::string::npos || e.password.substr(rest) == "*")
      throw Error(ErrorKind::kBadInput, user + " is locked and has no password to unlock: give a new one");
    e.password.erase(0, rest);
    done.emplace_back(user + "'s account was unlocked");
  } else if (e.password == "*") {
    throw Error(ErrorKind::kBadInput, user + " has no password (\"*\"): give a new one");
  }
  if (!e.expire.empty() && e.expire.find_first_not_of("0123456789") == std::string::npos &&
      std::stol(e.expire) <= day) {
    done.emplace_back(user + "'s account expiry (day " + e.expire + ", passed) was cleared");
    e.expire.clear();
  }
  what = text::join(done, "; ");
}

ShadowFile::ShadowFile(const std::string& content, const std::string& lens_dir, const std::string& name_for_errors)
    : file_(std::make_unique<aug::MirroredFile>(content, "Shadow.lns", lens_dir, name_for_errors)) {}

ShadowFile::~ShadowFile() = default;

std::optional<ShadowEntry> ShadowFile::entry(const std::string& user) const {
  const auto& aug = file_->aug();
  const std::string node = file_->node() + "/" + user;
  if (aug.match(node).size() != 1) return std::nullopt;
  return ShadowEntry{aug.get(node + "/password").value_or(""), aug.get(node + "/lastchange_date").value_or(""),
                     aug.get(node + "/expire_date").value_or(""), aug.get(node + "/maxage_days").value_or("")};
}

void ShadowFile::set(const std::string& user, const ShadowEntry& e) {
  const std::string node = file_->node() + "/" + user;
  if (file_->aug().match(node).size() != 1)
    throw Error(ErrorKind::kNotFound, "no user " + user + " in /etc/shadow", Location{{}, "/etc/shadow", 0});
  file_->aug().set(node + "/password", e.password);
  file_->aug().set(node + "/lastchange_date", e.lastchange);
  file_->aug().set(node + "/expire_date", e.expire);
}

std::string ShadowFile::text() { return file_->text(); }

std::string masked_shadow_diff(const std::string& before, const std::string& after, const std::string& path) {
  const auto hashes = [](const std::string& shadow) {
    std::map<std::string, std::string> out;
    for (const auto& line : text::lines(shadow)) {
      const auto fields = text::split(line, ':');
      if (fields.size() > 1) out[fields[0]] = fields[1];
    }
    return out;
  };
  const auto old_hashes = hashes(before);
  const auto mask = [&](const std::string& shadow, bool is_after) {
    std::string out;
    for (const auto& line : text::lines(shadow)) {
      auto fields = text::split(line, ':');
      if (fields.size() > 1) {
        const auto old = old_hashes.find(fields[0]);
        fields[1] = is_after && (old == old_hashes.end() || old->second != fields[1]) ? "<hash changed>" : "<hash>";
      }
      out += text::join(fields, ":") + "\n";
    }
    return out;
  };
  return text::unified_diff(mask(before, false), mask(after, true), path);
}

long days_since_epoch() { return static_cast<long>(std::time(nullptr) / 86400); }

}  // namespace sshdctl::accounts

#include "sshdctl/common/tar.h"

#include <cstdio>
#include <cstring>

#include "sshdctl/common/error.h"

namespace sshdctl::tar {

namespace {

constexpr std::size_t kBlock = 512;

// width - 1 octal digits and a NUL, as ustar wants.
void octal(char* field, std::size_t width, unsigned long long value) {
  field[width - 1] = '\0';
  for (std::size_t i = width - 1; i-- > 0; value >>= 3U) field[i] = static_cast<char>('0' + (value & 7U));
  if (value != 0) throw Error(ErrorKind::kInternal, "tar: a value too large for its field");
}

void pad(std::string& out) { out.append((kBlock - out.size() % kBlock) % kBlock, '\0'); }

}  // namespace

void Writer::header(const std::string& path, char type, std::size_t size, mode_t mode, uid_t uid, gid_t gid,
                    const std::string& link) {
  if (link.size() > 100) throw Error(ErrorKind::kInternal, "tar: link target too long: " + link);
  if (path.empty() || path[0] == '/') throw Error(ErrorKind::kInternal, "tar: not a relative path: " + path);
  std::string name = path;
  std::string prefix;
  if (name.size() > 100) {
    // Split at a slash into prefix (at most 155) and name (at most 100), else a long-name entry.
    const auto slash = name.find('/', name.size() > 101 ? name.size() - 101 : 0);
    if (slash != std::string::npos && slash <= 155 && name.size() - slash - 1 <= 100 && slash > 0) {
      prefix = name.substr(0, slash);
      name = name.substr(slash + 1);
    } else {
      header("././@LongLink", 'L', path.size() + 1, 0, 0, 0);
      out_.append(path);
      out_.push_back('\0');
      pad(out_);
      name = path.substr(0, 100);
    }
  }
  char h[kBlock];
  std::memset(h, 0, sizeof h);
  std::memcpy(h, name.data(), std::min<std::size_t>(name.size(), 100));
  octal(h + 100, 8, mode & 07777);
  octal(h + 108, 8, uid);
  octal(h + 116, 8, gid);
  octal(h + 124, 12, size);
  octal(h + 136, 12, static_cast<unsigned long long>(mtime_));
  h[156] = type;
  std::memcpy(h + 157, link.data(), link.size());
  std::memcpy(h + 257, "ustar", 6);  // with its NUL
  std::memcpy(h + 263, "00", 2);
  std::memcpy(h + 345, prefix.data(), std::min<std::size_t>(prefix.size(), 155));
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (const char c : h) sum += static_cast<unsigned char>(c);
  octal(h + 148, 7, sum);  // six digits and a NUL, then the space already there
  out_.append(h, sizeof h);
}

void Writer::add_dir(const std::string& path, mode_t mode, uid_t uid, gid_t gid) {
  header(path.back() == '/' ? path : path + "/", '5', 0, mode, uid, gid);
}

void Writer::add_file(const std::string& path, const std::string& content, mode_t mode, uid_t uid, gid_t gid) {
  header(path, '0', content.size(), mode, uid, gid);
  out_.append(content);
  pad(out_);
}

void Writer::add_symlink(const std::string& path, const std::string& target) {
  header(path, '2', 0, 0777, 0, 0, target);
}

std::string Writer::finish() const { return out_ + std::string(2 * kBlock, '\0'); }

}  // namespace sshdctl::tar

// A ustar archive built in memory: how a change's files travel to the target in one request
// (unpacked there by one `tar -x`, GNU or busybox), with their mode and owner, every byte
// value intact. Names longer than ustar holds use GNU's long-name entries, which both read.
#pragma once

#include <sys/types.h>

#include <ctime>
#include <string>

namespace sshdctl::tar {

class Writer {
 public:
  explicit Writer(std::time_t mtime) : mtime_(mtime) {}
  // `path` without a leading slash (the archive is unpacked at /).
  void add_dir(const std::string& path, mode_t mode, uid_t uid, gid_t gid);
  void add_file(const std::string& path, const std::string& content, mode_t mode, uid_t uid, gid_t gid);
  // A symbolic link (root's) to `target` (at most 100 bytes).
  void add_symlink(const std::string& path, const std::string& target);
  // The archive, ended by its two zero blocks.
  [[nodiscard]] std::string finish() const;

 private:
  void header(const std::string& path, char type, std::size_t size, mode_t mode, uid_t uid, gid_t gid,
              const std::string& link = {});
  std::string out_;
  std::time_t mtime_;
};

}  // namespace sshdctl::tar

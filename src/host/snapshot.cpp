#include <spdlog/spdlog.h>

#include "sshdctl/host/host.h"

namespace sshdctl::host {

Snapshot Host::snapshot(const SnapshotRequest& request) {
  Snapshot snap;
  const auto read = [&](const std::string& path) {
    Snapshot::File f;
    f.info = stat(path);
    if (f.info.exists && f.info.regular) f.content = read_file(path);
    snap.files[path] = std::move(f);
  };
  for (const auto& path : request.sshd_roots) read(path);
  for (const auto& path : request.files) read(path);
  for (const auto& path : request.stats) snap.files[path].info = stat(path);
  for (const auto& pattern : request.globs) snap.globs[pattern] = glob(pattern);
  for (const auto& program : request.programs) snap.programs[program] = has_program(program);
  return snap;
}

std::optional<std::string> SnapshotHost::read_file(const std::string& path) {
  if (const auto it = snap_.files.find(path); it != snap_.files.end()) {
    if (!it->second.info.exists) return std::nullopt;
    if (it->second.content) return it->second.content;
  }
  ++misses_;
  spdlog::debug("{}: not in the snapshot, read: {}", name(), path);
  auto content = inner_.read_file(path);
  // Remembered only with what is known of the file: its absence, or the stat asked before.
  if (!content)
    snap_.files[path] = Snapshot::File{};
  else if (const auto it = snap_.files.find(path); it != snap_.files.end() && it->second.info.exists)
    it->second.content = content;
  return content;
}

FileInfo SnapshotHost::stat(const std::string& path) {
  if (const auto it = snap_.files.find(path); it != snap_.files.end()) return it->second.info;
  ++misses_;
  spdlog::debug("{}: not in the snapshot, stat: {}", name(), path);
  const auto info = inner_.stat(path);
  snap_.files[path].info = info;
  return info;
}

std::vector<std::string> SnapshotHost::glob(const std::string& pattern) {
  if (const auto it = snap_.globs.find(pattern); it != snap_.globs.end()) return it->second;
  ++misses_;
  spdlog::debug("{}: not in the snapshot, glob: {}", name(), pattern);
  return snap_.globs[pattern] = inner_.glob(pattern);
}

bool SnapshotHost::has_program(const std::string& program) {
  if (const auto it = snap_.programs.find(program); it != snap_.programs.end()) return it->second;
  ++misses_;
  return snap_.programs[program] = inner_.has_program(program);
}

void SnapshotHost::forget_one(const std::string& path) {
  snap_.files.erase(path);
  // A glob may now match more or less.
  for (auto it = snap_.globs.begin(); it != snap_.globs.end();) {
    const auto slash = it->first.rfind('/');
    if (slash != std::string::npos && path.compare(0, slash + 1, it->first, 0, slash + 1) == 0)
      it = snap_.globs.erase(it);
    else
      ++it;
  }
}

void SnapshotHost::write_file_atomic(const std::string& path, const std::string& content, const FileInfo& like) {
  forget_one(path);
  inner_.write_file_atomic(path, content, like);
}

void SnapshotHost::write_files_atomic(const std::vector<std::pair<std::string, std::string>>& files,
                                      const FileInfo& like) {
  for (const auto& f : files) forget_one(f.first);
  inner_.write_files_atomic(files, like);
}

bool SnapshotHost::remove_file(const std::string& path) {
  forget_one(path);
  return inner_.remove_file(path);
}

bool SnapshotHost::make_dir(const std::string& path, mode_t mode) {
  forget_one(path);
  return inner_.make_dir(path, mode);
}

bool SnapshotHost::create_file(const std::string& path, const std::string& content, mode_t mode) {
  forget_one(path);
  return inner_.create_file(path, content, mode);
}

void SnapshotHost::remove_dir(const std::string& path) {
  forget_one(path);
  inner_.remove_dir(path);
}

void SnapshotHost::set_mode_owner(const std::string& path, mode_t mode, uid_t uid, gid_t gid) {
  forget_one(path);
  inner_.set_mode_owner(path, mode, uid, gid);
}

}  // namespace sshdctl::host

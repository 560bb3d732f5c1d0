#include "sshdctl/host/dry_run_host.h"

namespace sshdctl::host {

std::optional<std::string> DryRunHost::read_file(const std::string& path) {
  for (auto it = writes_.rbegin(); it != writes_.rend(); ++it)
    if (it->path == path) return it->content;  // nullopt after a recorded removal
  return inner_.read_file(path);
}

void DryRunHost::write_file_atomic(const std::string& path, const std::string& content, const FileInfo& /*like*/) {
  writes_.push_back(RecordedWrite{path, content});
}

bool DryRunHost::remove_file(const std::string& path) {
  const bool existed = read_file(path).has_value();
  writes_.push_back(RecordedWrite{path, std::nullopt});
  return existed;
}

}  // namespace sshdctl::host

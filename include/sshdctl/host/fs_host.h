// A Host over the local filesystem: the running system (root "/") or an offline root such as
// a mounted rescue disk, where commands run chrooted into the root.
#pragma once

#include "sshdctl/host/host.h"

namespace sshdctl::host {

class FsHost : public Host {
 public:
  explicit FsHost(std::string root = "/");

  [[nodiscard]] std::string name() const override;
  [[nodiscard]] bool offline() const override { return root_ != "/"; }
  [[nodiscard]] const std::string& root() const { return root_; }

  std::optional<std::string> read_file(const std::string& path) override;
  FileInfo stat(const std::string& path) override;
  std::vector<std::string> glob(const std::string& pattern) override;
  void write_file_atomic(const std::string& path, const std::string& content, const FileInfo& like) override;
  bool remove_file(const std::string& path) override;
  std::string make_scratch_dir() override;
  void write_scratch_file(const std::string& path, const std::string& content) override;
  void remove_scratch_dir(const std::string& dir) override;
  bool make_dir(const std::string& path, mode_t mode) override;
  bool create_file(const std::string& path, const std::string& content, mode_t mode) override;
  void remove_dir(const std::string& path) override;
  void set_mode_owner(const std::string& path, mode_t mode, uid_t uid, gid_t gid) override;
  CommandResult run(const std::vector<std::string>& argv) override;
  bool has_program(const std::string& program) override;
  long run_pid() override;
  bool pid_alive(long pid) override;
  std::unique_ptr<BusEndpoint> system_bus() override;
  // From `sshd -V` (the root's own sshd, chrooted, for an offline root), asked once.
  std::string openssh_version() override;

  // The real path on this machine of a target path.
  [[nodiscard]] std::string real(const std::string& path) const;
  void refuse_linked_parents(const std::string& path) const;

 private:
  std::string root_;
  std::optional<std::string> openssh_version_;
};

}  // namespace sshdctl::host

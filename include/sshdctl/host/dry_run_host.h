// A Host that reads through to another and records live writes instead of making them.
#pragma once

#include <string>
#include <vector>

#include "sshdctl/host/host.h"

namespace sshdctl::host {

struct RecordedWrite {
  std::string path;
  std::optional<std::string> content;  // nullopt: the file is removed
};

class DryRunHost : public Host {
 public:
  explicit DryRunHost(Host& inner) : inner_(inner) {}

  [[nodiscard]] std::string name() const override { return inner_.name(); }
  [[nodiscard]] bool offline() const override { return inner_.offline(); }
  std::optional<std::string> read_file(const std::string& path) override;
  FileInfo stat(const std::string& path) override { return inner_.stat(path); }
  std::vector<std::string> glob(const std::string& pattern) override { return inner_.glob(pattern); }
  void write_file_atomic(const std::string& path, const std::string& content, const FileInfo& like) override;
  bool remove_file(const std::string& path) override;
  std::string make_scratch_dir() override { return inner_.make_scratch_dir(); }
  void write_scratch_file(const std::string& path, const std::string& content) override {
    inner_.write_scratch_file(path, content);
  }
  void remove_scratch_dir(const std::string& dir) override { inner_.remove_scratch_dir(dir); }
  bool make_dir(const std::string& path, mode_t mode) override { return inner_.make_dir(path, mode); }
  bool create_file(const std::string& path, const std::string& content, mode_t mode) override {
    return inner_.create_file(path, content, mode);
  }
  void remove_dir(const std::string& path) override { inner_.remove_dir(path); }
  // Recorded as nothing: a dry run changes no permission.
  void set_mode_owner(const std::string&, mode_t, uid_t, gid_t) override {}
  CommandResult run(const std::vector<std::string>& argv) override { return inner_.run(argv); }
  bool has_program(const std::string& program) override { return inner_.has_program(program); }
  long run_pid() override { return inner_.run_pid(); }
  bool pid_alive(long pid) override { return inner_.pid_alive(pid); }
  std::unique_ptr<BusEndpoint> system_bus() override { return inner_.system_bus(); }
  Snapshot snapshot(const SnapshotRequest& request) override { return inner_.snapshot(request); }
  std::string openssh_version() override { return inner_.openssh_version(); }

  [[nodiscard]] const std::vector<RecordedWrite>& writes() const { return writes_; }

 private:
  Host& inner_;
  std::vector<RecordedWrite> writes_;
};

}  // namespace sshdctl::host

// The seam for every file and command effect on a target. The config engine, validation
// and the CLI talk to a Host; the filesystem, chroot and dry-run are implementations.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sshdctl::host {

struct FileInfo {
  bool exists = false;
  bool regular = false;
  bool symlink = false;
  mode_t mode = 0;  // permission bits
  uid_t uid = 0;
  gid_t gid = 0;
};

// A way to the target's system D-Bus. The address (e.g. unix:path=…) stays valid while the
// object lives: for a remote host it is a private socket relayed over the SSH connection.
class BusEndpoint {
 public:
  virtual ~BusEndpoint() = default;
  [[nodiscard]] virtual std::string address() const = 0;
};

// The system bus of this machine.
inline constexpr const char* kLocalSystemBus = "unix:path=/run/dbus/system_bus_socket";

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class Host {
 public:
  virtual ~Host() = default;

  // How errors and reports name this target ("localhost", "root:/mnt/rescue").
  [[nodiscard]] virtual std::string name() const = 0;
  // True for an offline root (a mounted disk): nothing runs there, no service is reloaded.
  [[nodiscard]] virtual bool offline() const = 0;

  // Paths are absolute paths on the target.
  virtual std::optional<std::string> read_file(const std::string& path) = 0;
  virtual FileInfo stat(const std::string& path) = 0;
  // Lexically sorted matches of a glob(3) pattern, like sshd's Include.
  virtual std::vector<std::string> glob(const std::string& pattern) = 0;

  // Replaces (or creates) a live file atomically: temp file in the same directory, fsync,
  // rename, fsync of the directory; mode, owner and extended attributes come from `like`
  // (or the current file when `like` does not exist).
  virtual void write_file_atomic(const std::string& path, const std::string& content, const FileInfo& like) = 0;
  // Several files (path, content), each replaced atomically as above, in order, all with the
  // mode and owner of `like` (the journal's private files). A host may do them in one step.
  virtual void write_files_atomic(const std::vector<std::pair<std::string, std::string>>& files, const FileInfo& like) {
    for (const auto& [path, content] : files) write_file_atomic(path, content, like);
  }

  // Removes a live file (a rollback of a file a change created); false when it did not exist.
  virtual bool remove_file(const std::string& path) = 0;

  // Scratch space on the target for validation; never a live file.
  virtual std::string make_scratch_dir() = 0;
  virtual void write_scratch_file(const std::string& path, const std::string& content) = 0;
  virtual void remove_scratch_dir(const std::string& dir) = 0;
  // Creates a directory; false when it already existed.
  virtual bool make_dir(const std::string& path, mode_t mode) = 0;
  virtual void remove_dir(const std::string& path) = 0;
  // Sets mode and owner of an existing file or directory (never through a symbolic link).
  virtual void set_mode_owner(const std::string& path, mode_t mode, uid_t uid, gid_t gid) = 0;

  // Runs a program on the target (inside the root for an offline root).
  virtual CommandResult run(const std::vector<std::string>& argv) = 0;
  // True when `program` (absolute path) can be run on the target.
  virtual bool has_program(const std::string& program) = 0;

  // The process that stands for this run on the target (it holds the target's lock): sshdctl
  // itself for a local or offline target, the connection's root shell for a remote one.
  virtual long run_pid() = 0;
  virtual bool pid_alive(long pid) = 0;

  // The target's system bus when systemd runs there; nullptr otherwise (offline roots,
  // hosts without systemd).
  virtual std::unique_ptr<BusEndpoint> system_bus() = 0;
};

}  // namespace sshdctl::host

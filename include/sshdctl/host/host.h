// The seam for every file and command effect on a target. The config engine, validation
// and the CLI talk to a Host; the filesystem, chroot and dry-run are implementations.
#pragma once

#include <sys/types.h>

#include <map>
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

// What planning a change reads, asked for at once (one round trip to a remote host).
struct SnapshotRequest {
  // sshd main files: each is read with every file its Include lines can match, followed again
  // into included files (missing roots are recorded as missing).
  std::vector<std::string> sshd_roots;
  std::vector<std::string> files;     // other files: content and stat
  std::vector<std::string> stats;     // stat only (directories, programs' files)
  std::vector<std::string> globs;     // patterns to expand (lexically sorted, like glob(3))
  std::vector<std::string> programs;  // has_program
};

struct Snapshot {
  struct File {
    FileInfo info;                       // info.exists false: there is no such file
    std::optional<std::string> content;  // regular files only
  };
  std::map<std::string, File> files;                      // what was read (and stat-only entries)
  std::map<std::string, std::vector<std::string>> globs;  // pattern → matches
  std::map<std::string, bool> programs;
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
  // Creates a file that must not exist yet (O_EXCL: the atomic step of a lock) holding
  // `content`, mode `mode` (at most 0600 on a remote target); false when something existed
  // at `path`.
  virtual bool create_file(const std::string& path, const std::string& content, mode_t mode) = 0;
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

  // Everything `request` names, read at once. The default reads through the calls above (no
  // round trips on a local or offline target; Include lines are not followed: a SnapshotHost
  // reads what is missing as it is asked for). A remote host does it in one request.
  virtual Snapshot snapshot(const SnapshotRequest& request);

  // Runs a POSIX sh script as root on the target in one step, `args` as $1…, `input` as its
  // stdin: the target-side steps of a change. nullopt where no shell runs (an offline root) or
  // where steps are cheap in-process (this machine): the caller does the step in-process then.
  virtual std::optional<CommandResult> run_script(const std::string& /*body*/, const std::vector<std::string>& /*args*/,
                                                  const std::string& /*input*/) {
    return std::nullopt;
  }
  [[nodiscard]] virtual bool runs_scripts() const { return false; }
  // Files a script changed behind this interface's back: a cache of them forgets them.
  virtual void forget(const std::vector<std::string>& /*paths*/) {}
  // The host as it is now, under any snapshot (what a check that nothing changed must read).
  virtual Host& live() { return *this; }
  // The OpenSSH version of the target's sshd as its banner says (e.g. "9.2"), when known.
  virtual std::string openssh_version() { return {}; }
};

// A Host that answers reads from a snapshot taken once and asks the host under it for what the
// snapshot lacks (remembering the answer); everything else goes to the host under it, and a
// write or removal forgets what the snapshot knew of that path.
class SnapshotHost : public Host {
 public:
  SnapshotHost(Host& inner, Snapshot snapshot) : inner_(inner), snap_(std::move(snapshot)) {}

  [[nodiscard]] std::string name() const override { return inner_.name(); }
  [[nodiscard]] bool offline() const override { return inner_.offline(); }
  std::optional<std::string> read_file(const std::string& path) override;
  FileInfo stat(const std::string& path) override;
  std::vector<std::string> glob(const std::string& pattern) override;
  void write_file_atomic(const std::string& path, const std::string& content, const FileInfo& like) override;
  void write_files_atomic(const std::vector<std::pair<std::string, std::string>>& files, const FileInfo& like) override;
  bool remove_file(const std::string& path) override;
  std::string make_scratch_dir() override { return inner_.make_scratch_dir(); }
  void write_scratch_file(const std::string& path, const std::string& content) override {
    inner_.write_scratch_file(path, content);
  }
  void remove_scratch_dir(const std::string& dir) override { inner_.remove_scratch_dir(dir); }
  bool make_dir(const std::string& path, mode_t mode) override;
  bool create_file(const std::string& path, const std::string& content, mode_t mode) override;
  void remove_dir(const std::string& path) override;
  void set_mode_owner(const std::string& path, mode_t mode, uid_t uid, gid_t gid) override;
  CommandResult run(const std::vector<std::string>& argv) override { return inner_.run(argv); }
  bool has_program(const std::string& program) override;
  long run_pid() override { return inner_.run_pid(); }
  bool pid_alive(long pid) override { return inner_.pid_alive(pid); }
  std::unique_ptr<BusEndpoint> system_bus() override { return inner_.system_bus(); }
  Snapshot snapshot(const SnapshotRequest& request) override { return inner_.snapshot(request); }
  std::optional<CommandResult> run_script(const std::string& body, const std::vector<std::string>& args,
                                          const std::string& input) override {
    return inner_.run_script(body, args, input);
  }
  [[nodiscard]] bool runs_scripts() const override { return inner_.runs_scripts(); }
  void forget(const std::vector<std::string>& paths) override {
    for (const auto& p : paths) forget_one(p);
    inner_.forget(paths);
  }
  Host& live() override { return inner_.live(); }
  std::string openssh_version() override { return inner_.openssh_version(); }

  // Reads the snapshot could not answer (each cost a request to the host under it).
  [[nodiscard]] int misses() const { return misses_; }
  [[nodiscard]] Host& inner() { return inner_; }

 private:
  void forget_one(const std::string& path);
  Host& inner_;
  Snapshot snap_;
  int misses_ = 0;
};

}  // namespace sshdctl::host

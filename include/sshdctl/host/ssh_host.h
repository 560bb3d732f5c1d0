// A Host reached over SSH (libssh): one connection per run; files and commands go through
// `sudo -n` when the login user is not root. The target needs sshd, sh and sudo: nothing is
// installed there. Host keys are checked against known_hosts strictly.
#pragma once

#include <memory>
#include <string>

#include "sshdctl/host/host.h"

namespace sshdctl::host {

struct SshTarget {
  std::string destination;  // [user@]host[:port], or a Host alias of the ssh config
  std::string config_file;  // -F; empty: ~/.ssh/config (when it exists)
  std::string identity;     // a private key file; empty: ssh-agent and the default keys
  std::string known_hosts;  // empty: ~/.ssh/known_hosts
  bool accept_new = false;  // record an unknown host's key (never a changed one)
  int connect_timeout_s = 10;
};

class SshHost : public Host {
 public:
  // Connects and authenticates; throws Error naming the host and what failed (DNS, refused,
  // timeout, unknown or changed host key with fingerprints, authentication with the methods
  // the server offered, sudo needing a password).
  explicit SshHost(const SshTarget& target);
  ~SshHost() override;
  SshHost(const SshHost&) = delete;
  SshHost& operator=(const SshHost&) = delete;

  [[nodiscard]] std::string name() const override { return name_; }
  [[nodiscard]] bool offline() const override { return false; }
  std::optional<std::string> read_file(const std::string& path) override;
  FileInfo stat(const std::string& path) override;
  std::vector<std::string> glob(const std::string& pattern) override;
  void write_file_atomic(const std::string& path, const std::string& content, const FileInfo& like) override;
  std::string make_scratch_dir() override;
  void write_scratch_file(const std::string& path, const std::string& content) override;
  void remove_scratch_dir(const std::string& dir) override;
  bool make_dir(const std::string& path, mode_t mode) override;
  void remove_dir(const std::string& path) override;
  CommandResult run(const std::vector<std::string>& argv) override;
  bool has_program(const std::string& program) override;

 private:
  // Runs a shell script (sh -c SCRIPT sh ARGS...) as root on the target, feeding `input`.
  CommandResult script(const std::string& body, const std::vector<std::string>& args, const std::string& input = {});
  // One exec channel: `command` as the login user, `input` on its stdin.
  CommandResult exec(const std::string& command, const std::string& input = {});

  struct Session;
  std::unique_ptr<Session> session_;
  std::string name_;
  bool as_root_ = false;
};

// Quotes a word for a POSIX shell.
std::string shell_quote(const std::string& word);

}  // namespace sshdctl::host

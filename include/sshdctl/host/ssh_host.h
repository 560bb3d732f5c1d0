// A Host reached over SSH (libssh): one connection per run. Every command runs in one root
// shell on that connection (started through `sudo -n`, or `sudo -S` fed the login password,
// when the login user is not root); the system bus is relayed over a second channel. The
// target needs sshd, sh, coreutils and sudo: nothing is installed there. Host keys are
// checked against known_hosts strictly.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "sshdctl/common/text.h"
#include "sshdctl/host/host.h"

namespace sshdctl::host {

// Asks the operator for a secret (no echo); nullopt when nobody can be asked.
using SecretAsker = std::function<std::optional<std::string>(const std::string& prompt)>;

// Authentication methods, as a bit set.
enum AuthMethod : unsigned {
  kAuthPublicKey = 1U << 0U,       // key file, ssh-agent, default keys
  kAuthKbdInteractive = 1U << 1U,  // answered with the password
  kAuthPassword = 1U << 2U,
  kAuthAny = kAuthPublicKey | kAuthKbdInteractive | kAuthPassword,
};
std::string auth_methods_text(unsigned methods);

struct SshTarget {
  std::string destination;  // [user@]host[:port], or a Host alias of the ssh config
  std::string config_file;  // -F; empty: ~/.ssh/config (when it exists)
  std::string identity;     // a private key file; empty: ssh-agent and the default keys
  // A private key's text (from the credential store). Secret, like the password.
  std::optional<std::string> private_key;
  std::string known_hosts;  // empty: from the ssh config, else ~/.ssh/known_hosts
  std::string jump;         // ProxyJump [user@]host[:port] (else the ssh config's ProxyJump)
  bool accept_new = false;  // record an unknown host's key (never a changed one)
  int connect_timeout_s = 10;
  int command_timeout_s = 30;
  // The login password (password and keyboard-interactive; also fed to `sudo -S`). Secret:
  // never logged, never on a command line.
  std::optional<std::string> password;
  // Asks for the passphrase of an encrypted key; unset: such keys cannot be used.
  SecretAsker ask_passphrase;
  unsigned methods = kAuthAny;  // the methods that may be tried
  bool need_root = true;        // start the root shell (false: a login check only)
};

class SshHost : public Host {
 public:
  // Connects, authenticates and starts the root shell; throws Error naming the host and
  // what failed (DNS, refused, timeout, unknown or changed host key with fingerprints,
  // authentication with the methods the server offered, sudo needing a password).
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
  // One command for all: each written to a temporary file, all synced, then renamed in order.
  void write_files_atomic(const std::vector<std::pair<std::string, std::string>>& files, const FileInfo& like) override;
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
  // The target's system bus through `systemd-stdio-bridge` (run as root) on a channel of
  // this connection, relayed to a private unix socket here. Valid while this host lives.
  long run_pid() override;
  bool pid_alive(long pid) override;
  std::unique_ptr<BusEndpoint> system_bus() override;
  // One request: the script below with every path the request names (see parse_snapshot).
  Snapshot snapshot(const SnapshotRequest& request) override;
  std::optional<CommandResult> run_script(const std::string& body, const std::vector<std::string>& args,
                                          const std::string& input) override {
    return script(body, args, input);
  }
  [[nodiscard]] bool runs_scripts() const override { return true; }
  std::string openssh_version() override { return openssh_version_; }

  [[nodiscard]] const std::string& login_user() const { return user_; }
  // The method that logged in (one AuthMethod bit): a login probe uses the same one.
  [[nodiscard]] unsigned auth_method() const { return auth_method_; }
  // How many commands ran on the target (each one round trip).
  [[nodiscard]] int round_trips() const { return round_trips_; }

  struct Session;

 private:
  // Runs a shell script (sh SCRIPT with ARGS as $1…) as root on the target, feeding `input`.
  CommandResult script(const std::string& body, const std::vector<std::string>& args, const std::string& input = {});

  std::unique_ptr<Session> session_;
  std::string name_;
  std::string user_;
  unsigned auth_method_ = 0;
  int command_timeout_s_ = 30;
  int round_trips_ = 0;
  long shell_pid_ = 0;
  std::string openssh_version_;
};

// The framing of the root shell's requests and answers (pure; unit-tested). A request is
// "LINES INPUT_BYTES TOKEN\n" and the program's lines; the answer ends with "\nTOKEN STATUS\n".
std::string frame_request(std::string program, std::size_t input_size, const std::string& token);
// Where the answer's output ends in `stream` (nullopt: not all there yet); sets the status and
// how many bytes of the stream the answer takes.
std::optional<std::size_t> answer_end(const std::string& stream, const std::string& token, int* status,
                                      std::size_t* consumed);
// The snapshot script's answer; throws Error when it does not add up (a file changed meanwhile).
Snapshot parse_snapshot(const std::string& answer);
// The scripts themselves, for the tests that run them with a real sh.
const char* shell_loop_script();
const std::string& snapshot_script();

// Logs in afresh with `target` (no root shell) and runs `command` there (a change's
// confirmation, or `true`); "connection refused" and resets, as while sshd re-executes itself
// after a reload, are retried for `retry_s`. Returns why the login failed, or nullopt when it
// worked.
std::optional<std::string> probe_login(const SshTarget& target, const std::string& command = "true", int retry_s = 10);

// Quotes a word for a POSIX shell.
using text::shell_quote;

}  // namespace sshdctl::host

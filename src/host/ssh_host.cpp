#include "sshdctl/host/ssh_host.h"

#include <fcntl.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "sshdctl/common/error.h"
#include "sshdctl/common/fs.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"

namespace fs = std::filesystem;

namespace sshdctl::host {

namespace {

struct SessionDeleter {
  void operator()(ssh_session s) const {
    if (s == nullptr) return;
    if (ssh_is_connected(s)) ssh_disconnect(s);
    ssh_free(s);
  }
};
struct ChannelDeleter {
  void operator()(ssh_channel c) const {
    if (c == nullptr) return;
    ssh_channel_close(c);
    ssh_channel_free(c);
  }
};
struct KeyDeleter {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionDeleter>;
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelDeleter>;
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;
using Clock = std::chrono::steady_clock;

// How long a waiting thread sleeps on the connection's socket before it looks at its
// channel again: another thread may have read the packets meant for it.
constexpr int kPollSliceMs = 5;

std::string fingerprint(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK) return "?";
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  std::string out = text != nullptr ? text : "?";
  ssh_string_free_char(text);
  return out;
}

std::string home_file(const char* relative) {
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "/root") + "/" + relative;
}

std::string offered_text(int methods) {
  std::vector<std::string> names;
  if (methods & SSH_AUTH_METHOD_PUBLICKEY) names.emplace_back("publickey");
  if (methods & SSH_AUTH_METHOD_PASSWORD) names.emplace_back("password");
  if (methods & SSH_AUTH_METHOD_INTERACTIVE) names.emplace_back("keyboard-interactive");
  if (methods & SSH_AUTH_METHOD_HOSTBASED) names.emplace_back("hostbased");
  if (methods & SSH_AUTH_METHOD_GSSAPI_MIC) names.emplace_back("gssapi-with-mic");
  return names.empty() ? "none" : text::join(names, ", ");
}

// Fingerprints of the keys known_hosts records for `host` (plain, unhashed entries).
std::string recorded_fingerprints(const std::string& file, const std::string& host, int port) {
  std::ifstream in(file);
  std::string line;
  std::vector<std::string> prints;
  const std::string bracketed = "[" + host + "]:" + std::to_string(port);
  while (std::getline(in, line)) {
    const auto words = text::split_words(line);
    if (words.size() < 3 || words[0].empty() || words[0][0] == '#') continue;
    bool names_host = false;
    for (const auto& name : text::split(words[0], ','))
      if (name == (port == 22 ? host : bracketed)) names_host = true;
    if (!names_host) continue;
    ssh_key raw = nullptr;
    if (ssh_pki_import_pubkey_base64(words[2].c_str(), ssh_key_type_from_name(words[1].c_str()), &raw) != SSH_OK)
      continue;
    const KeyPtr key(raw);
    prints.push_back(words[1] + " " + fingerprint(key.get()));
  }
  return prints.empty() ? "no readable entry" : text::join(prints, ", ");
}

// The shell every command of a run goes through. A request is "LINES INPUT_BYTES TOKEN\n", the
// script in LINES lines (read with the builtin `read`: scripts are text), then its input. The
// input goes to a file the script reads as its stdin (so a script that stops early leaves the
// stream in step), emptied after the command; the file is in /run, writable by root only; a
// script without input reads /dev/null. The
// answer is the script's own output, untouched (every byte value survives), then
// "\nTOKEN STATUS\n" on stdout and "\nTOKEN\n" on stderr: TOKEN is random per request, so no
// output can forge the end of an answer, and no `wc`, `cat` or temporary file is needed. The
// script runs in a subshell (a fork, no exec: a fresh `set --`, traps and `exit` of its own):
// one process per command, two with an input (head -c reads no further than it is told, GNU
// coreutils and busybox alike). Per connection: `rm` of the input file at the end, unless a
// script removed it (the commit does: it is the last request with an input). The effective uid
// comes from /proc/self/status (the Uid line's second field), read with a builtin.
constexpr const char* kShellLoop = R"SH(umask 077
IN=/run/sshdctl-in.$$
trap '[ ! -e "$IN" ] || rm -f "$IN"' EXIT
trap 'exit 1' HUP INT TERM PIPE
u=
while read -r k v w x; do [ "$k" = Uid: ] && { u=$w; break; }; done </proc/self/status
echo "sshdctl-ready ${u:-$(id -u)} $$"
while IFS=' ' read -r n m t; do
  s=
  while [ "$n" -gt 0 ] && IFS= read -r l; do s="$s$l
"; n=$((n - 1)); done
  if [ "$m" -gt 0 ]; then
    head -c "$m" >"$IN" || exit 1
    ( eval "$s" ) <"$IN"
  else
    ( eval "$s" ) </dev/null
  fi
  r=$?
  [ ! -e "$IN" ] || : >"$IN"
  printf '\n%s %s\n' "$t" "$r"
  printf '\n%s\n' "$t" >&2
done
)SH";

// Runs $1 as root: directly when the login user is root, else through sudo, which either
// needs no password (-n) or prints kSudoPrompt on stderr and reads the password from the
// channel (-S). The password never appears on a command line.
// The uid is read from /proc/self/status with builtins (no `id` process), `id -u` without /proc.
constexpr const char* kAsRoot = R"SH(u=
while read -r k v w x; do [ "$k" = Uid: ] && { u=$w; break; }; done 2>/dev/null </proc/self/status
if [ "${u:-$(id -u)}" -eq 0 ]; then exec sh -c "$1"; fi
if [ "$2" = S ]; then exec sudo -S -p 'sshdctl-sudo-password:' sh -c "$1"; fi
exec sudo -n sh -c "$1")SH";
constexpr const char* kSudoPrompt = "sshdctl-sudo-password:";

int auth_callback(const char* prompt, char* buf, size_t len, int /*echo*/, int /*verify*/, void* userdata) {
  auto* ask = static_cast<SecretAsker*>(userdata);
  if (ask == nullptr || !*ask) return -1;
  auto answer = (*ask)(prompt != nullptr ? prompt : "Passphrase: ");
  if (!answer || answer->size() + 1 > len) return -1;
  std::memcpy(buf, answer->c_str(), answer->size() + 1);
  std::fill(answer->begin(), answer->end(), '\0');
  return 0;
}

}  // namespace

std::string auth_methods_text(unsigned methods) {
  std::vector<std::string> names;
  if (methods & kAuthPublicKey) names.emplace_back("publickey");
  if (methods & kAuthKbdInteractive) names.emplace_back("keyboard-interactive");
  if (methods & kAuthPassword) names.emplace_back("password");
  return names.empty() ? "none" : text::join(names, ", ");
}

// One SSH connection. libssh sessions are not thread-safe: every libssh call on it holds
// `mutex` (the bus relay runs in a thread of its own).
struct SshHost::Session {
  SessionPtr ssh;
  std::mutex mutex;
  int fd = -1;
  std::string name;
  std::string user;            // the login user
  SecretAsker ask_passphrase;  // the auth callback's user data
  ssh_callbacks_struct callbacks{};
  unsigned auth_method = 0;
  std::optional<std::string> sudo_password;
  ChannelPtr shell;
  std::string shell_out, shell_err;

  [[nodiscard]] Error error(ErrorKind kind, const std::string& what) const {
    return Error(kind, what, Location{name, {}, 0});
  }

  // The path is taken for dead (silent past --command-timeout): the socket is shut, so that
  // every waiter on this connection (the bus relay's thread, a D-Bus call on it) fails now
  // instead of waiting out a timeout of its own.
  void cut() const {
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }

  // Waits until the connection's socket is readable or `ms` passed.
  void wait(int ms) const {
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, ms);
  }

  void write(ssh_channel channel, const char* data, std::size_t size) {
    const std::lock_guard<std::mutex> hold(mutex);
    std::size_t sent = 0;
    while (sent < size) {
      const int n = ssh_channel_write(channel, data + sent, static_cast<uint32_t>(size - sent));
      if (n < 0)
        throw error(ErrorKind::kInternal, std::string("connection lost while sending: ") + ssh_get_error(ssh.get()));
      sent += static_cast<std::size_t>(n);
    }
  }

  // Moves what the channel has into out/err without blocking. False at the channel's end.
  bool drain(ssh_channel channel, std::string& out, std::string& err) {
    const std::lock_guard<std::mutex> hold(mutex);
    char buf[16384];
    int n = 0;
    while ((n = ssh_channel_read_nonblocking(channel, buf, sizeof buf, 0)) > 0)
      out.append(buf, static_cast<std::size_t>(n));
    if (n == SSH_ERROR) throw error(ErrorKind::kInternal, std::string("connection lost: ") + ssh_get_error(ssh.get()));
    int e = 0;
    while ((e = ssh_channel_read_nonblocking(channel, buf, sizeof buf, 1)) > 0)
      err.append(buf, static_cast<std::size_t>(e));
    return !(ssh_channel_is_eof(channel) || ssh_channel_is_closed(channel));
  }

  ChannelPtr open_exec(const std::string& command) {
    const std::lock_guard<std::mutex> hold(mutex);
    ChannelPtr channel(ssh_channel_new(ssh.get()));
    if (!channel || ssh_channel_open_session(channel.get()) != SSH_OK ||
        ssh_channel_request_exec(channel.get(), command.c_str()) != SSH_OK) {
      const std::string why = ssh_get_error(ssh.get());
      throw error(ErrorKind::kInternal, "cannot open an SSH channel: " +
                                            (why.empty() ? std::string("the server did not answer in time") : why));
    }
    return channel;
  }

  // A channel running `script` as root (kAsRoot); answers sudo's password prompt, and
  // returns once `ready` appears on the channel's output (which is left in `out`).
  ChannelPtr open_as_root(const std::string& script, const std::string& ready, std::string& out, int timeout_s) {
    const std::string command =
        "exec sh -c " + shell_quote(kAsRoot) + " sshdctl " + shell_quote(script) + (sudo_password ? " S" : " n");
    ChannelPtr channel = open_exec(command);
    std::string err;
    bool answered = false;
    const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    while (out.find(ready) == std::string::npos) {
      const bool open = drain(channel.get(), out, err);
      if (const auto prompt = err.find(kSudoPrompt); prompt != std::string::npos) {
        err.erase(prompt, std::strlen(kSudoPrompt));
        if (answered) throw error(ErrorKind::kPermission, "sudo refused the password (" + text::trim(err) + ")");
        const std::string line = *sudo_password + "\n";
        write(channel.get(), line.data(), line.size());
        answered = true;
        continue;
      }
      if (!open && out.find(ready) == std::string::npos) {
        const std::string said = text::trim(err);
        if (said.find("password is required") != std::string::npos)
          throw error(ErrorKind::kPermission,
                      "sudo -n refused: it needs a password (give the login password with --ask-pass, --pass-file "
                      "or --pass-env; it is also fed to sudo) (" +
                          said + ")");
        if (said.find("not in the sudoers") != std::string::npos || said.find("not allowed") != std::string::npos)
          throw error(ErrorKind::kPermission, "the login user may not use sudo (" + said + ")");
        throw error(ErrorKind::kPermission, "cannot become root on the target (" +
                                                (said.empty() ? std::string("the command ended") : said) + ")");
      }
      if (Clock::now() > deadline)
        throw error(ErrorKind::kInternal, "no answer from the target within " + std::to_string(timeout_s) + " s");
      wait(kPollSliceMs);
    }
    return channel;
  }
};

namespace {

// Connects, checks the host key and logs in; fills `s`.
void connect_and_log_in(SshHost::Session& s, const SshTarget& target) {
  s.ssh.reset(ssh_new());
  ssh_session ssh = s.ssh.get();
  if (ssh == nullptr) throw Error(ErrorKind::kInternal, "cannot create an SSH session");

  std::string destination = target.destination;
  std::string user;
  if (const auto at = destination.rfind('@'); at != std::string::npos) {
    user = destination.substr(0, at);
    destination = destination.substr(at + 1);
  }
  std::string host = destination;
  int port = 0;
  if (const auto colon = destination.rfind(':'); colon != std::string::npos && destination.find(':') == colon) {
    host = destination.substr(0, colon);
    port = std::atoi(destination.substr(colon + 1).c_str());
    if (port <= 0 || port > 65535) throw Error(ErrorKind::kBadInput, "invalid port in '" + target.destination + "'");
  }
  s.name = host;

  const long timeout = target.connect_timeout_s;
  ssh_options_set(ssh, SSH_OPTIONS_HOST, host.c_str());
  bool process_config = false;
  ssh_options_set(ssh, SSH_OPTIONS_PROCESS_CONFIG, &process_config);
  const std::string config = target.config_file.empty() ? home_file(".ssh/config") : target.config_file;
  if (!target.config_file.empty() && !fs::exists(config))
    throw s.error(ErrorKind::kNotFound, "ssh config " + config + " does not exist");
  if (fs::exists(config) && ssh_options_parse_config(ssh, config.c_str()) != 0)
    throw s.error(ErrorKind::kBadInput, "cannot read ssh config " + config + ": " + ssh_get_error(ssh));
  int nodelay = 1;  // requests are small and answered at once: no Nagle delay
  ssh_options_set(ssh, SSH_OPTIONS_NODELAY, &nodelay);
  int quiet = SSH_LOG_NOLOG;  // libssh's own log goes to stderr; errors reach us as Error
  ssh_options_set(ssh, SSH_OPTIONS_LOG_VERBOSITY, &quiet);
  if (!user.empty()) ssh_options_set(ssh, SSH_OPTIONS_USER, user.c_str());
  if (port > 0) ssh_options_set(ssh, SSH_OPTIONS_PORT, &port);
  ssh_options_set(ssh, SSH_OPTIONS_TIMEOUT, &timeout);
  if (!target.known_hosts.empty()) ssh_options_set(ssh, SSH_OPTIONS_KNOWNHOSTS, target.known_hosts.c_str());
  char* known_option = nullptr;
  std::string known = home_file(".ssh/known_hosts");
  if (ssh_options_get(ssh, SSH_OPTIONS_KNOWNHOSTS, &known_option) == SSH_OK && known_option != nullptr) {
    known = known_option;
    ssh_string_free_char(known_option);
  }
  // libssh 0.10 reaches a jump host through OpenSSH's client: `-J`, or the ssh config's
  // ProxyJump, which libssh turns into "ssh -l USER [-p PORT] [-J …] -W '[%h]:%p' HOST". Either
  // way the client gets the same known_hosts, strictness, ssh config and key as the target.
  std::string jump_args;
  if (!target.jump.empty()) {
    jump_args = "-W '[%h]:%p' -- " + shell_quote(target.jump);
  } else if (char* proxy = nullptr; ssh_options_get(ssh, SSH_OPTIONS_PROXYCOMMAND, &proxy) == SSH_OK) {
    const std::string command = proxy;
    ssh_string_free_char(proxy);
    if (command.rfind("ssh ", 0) == 0 && command.find(" -W '[%h]:%p' ") != std::string::npos)
      jump_args = command.substr(4);
  }
  if (!jump_args.empty()) {
    std::string proxy =
        "exec ssh -o BatchMode=yes -o StrictHostKeyChecking=" + std::string(target.accept_new ? "accept-new" : "yes") +
        " -o UserKnownHostsFile=" + shell_quote(known) +
        " -o ConnectTimeout=" + std::to_string(target.connect_timeout_s);
    if (!target.config_file.empty()) proxy += " -F " + shell_quote(target.config_file);
    if (!target.identity.empty()) proxy += " -i " + shell_quote(target.identity);
    proxy += " " + jump_args;
    ssh_options_set(ssh, SSH_OPTIONS_PROXYCOMMAND, proxy.c_str());
  }

  s.ask_passphrase = target.ask_passphrase;
  ssh_callbacks_init(&s.callbacks);
  s.callbacks.userdata = &s.ask_passphrase;
  s.callbacks.auth_function = auth_callback;
  ssh_set_callbacks(ssh, &s.callbacks);

  if (ssh_connect(ssh) != SSH_OK) {
    const std::string why = ssh_get_error(ssh);
    const ErrorKind kind = ErrorKind::kUnsupported;
    if (why.find("resolve") != std::string::npos || why.find("getaddrinfo") != std::string::npos)
      throw s.error(kind, "cannot resolve the host name '" + host + "' (DNS): " + why);
    unsigned int used_port = 22;
    ssh_options_get_port(ssh, &used_port);
    if (why.find("refused") != std::string::npos)
      throw s.error(kind,
                    "connection refused: nothing listens on port " + std::to_string(used_port) + " (" + why + ")");
    if (why.find("imeout") != std::string::npos || why.find("timed out") != std::string::npos)
      throw s.error(kind, "connection timed out after " + std::to_string(timeout) + " s (" + why + ")");
    if (why.find("No route") != std::string::npos || why.find("unreachable") != std::string::npos)
      throw s.error(kind, "host unreachable (" + why + ")");
    throw s.error(kind, "connection lost during the handshake (" + why + ")");
  }
  s.fd = ssh_get_fd(ssh);

  ssh_key raw_key = nullptr;
  if (ssh_get_server_publickey(ssh, &raw_key) != SSH_OK)
    throw s.error(ErrorKind::kInternal, "no host key from the server");
  const KeyPtr server_key(raw_key);
  const std::string offered = fingerprint(server_key.get());
  switch (ssh_session_is_known_server(ssh)) {
    case SSH_KNOWN_HOSTS_OK:
      break;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER: {
      unsigned int used_port = 22;
      ssh_options_get_port(ssh, &used_port);
      throw s.error(ErrorKind::kPermission, "HOST KEY CHANGED: " + known + " records " +
                                                recorded_fingerprints(known, host, static_cast<int>(used_port)) +
                                                "; the server offers " + offered +
                                                "; not connecting (remove the old entry if the change is expected)");
    }
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      if (!target.accept_new)
        throw s.error(ErrorKind::kPermission, "unknown host key " + offered + " (not in " + known +
                                                  "); check it, then connect once with --accept-new");
      if (ssh_session_update_known_hosts(ssh) != SSH_OK)
        throw s.error(ErrorKind::kInternal, "cannot record the host key in " + known + ": " + ssh_get_error(ssh));
      break;
    case SSH_KNOWN_HOSTS_ERROR:
      throw s.error(ErrorKind::kInternal, std::string("cannot check the host key: ") + ssh_get_error(ssh));
  }

  // Like OpenSSH: keys first, then keyboard-interactive and password with the password.
  char* login = nullptr;
  ssh_options_get(ssh, SSH_OPTIONS_USER, &login);
  const std::string login_user = login != nullptr ? login : "?";
  ssh_string_free_char(login);
  s.user = login_user;
  const auto succeeded = [&](int result, unsigned method) {
    if (result == SSH_AUTH_ERROR)
      throw s.error(ErrorKind::kInternal, std::string("connection lost during login: ") + ssh_get_error(ssh));
    if (result != SSH_AUTH_SUCCESS) return false;
    s.auth_method = method;
    return true;
  };
  // A key given by name (or stored) is offered at once, signed: a round trip less than asking
  // first what the server offers ("none"), which is asked only when the key is refused.
  KeyPtr key;
  std::string key_name;
  if (target.methods & kAuthPublicKey) {
    if (target.private_key) {
      ssh_key raw = nullptr;
      if (ssh_pki_import_privkey_base64(target.private_key->c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK)
        throw s.error(ErrorKind::kBadInput, "the stored private key cannot be read (encrypted keys cannot be stored)");
      key.reset(raw);
      key_name = "publickey (the stored key)";
    } else if (!target.identity.empty()) {
      bool asked = false;
      bool answered = false;
      SecretAsker asker = [&](const std::string& prompt) -> std::optional<std::string> {
        asked = true;
        auto answer = target.ask_passphrase ? target.ask_passphrase(prompt) : std::nullopt;
        answered = answer.has_value();
        return answer;
      };
      ssh_key raw = nullptr;
      if (ssh_pki_import_privkey_file(target.identity.c_str(), nullptr, auth_callback, &asker, &raw) != SSH_OK) {
        if (!fs::exists(target.identity))
          throw s.error(ErrorKind::kNotFound, "the private key " + target.identity + " does not exist");
        if (asked)
          throw s.error(ErrorKind::kBadInput,
                        "cannot decrypt the private key " + target.identity +
                            (answered ? std::string(": wrong passphrase")
                                      : std::string(": it is encrypted and no passphrase can be asked (no terminal; "
                                                    "load it into ssh-agent)")));
        throw s.error(ErrorKind::kBadInput, "cannot read the private key " + target.identity);
      }
      key.reset(raw);
      key_name = "publickey (" + target.identity + ")";
    }
    if (key && succeeded(ssh_userauth_publickey(ssh, nullptr, key.get()), kAuthPublicKey)) return;
  }
  int rc = ssh_userauth_none(ssh, nullptr);
  if (rc == SSH_AUTH_SUCCESS) {
    s.auth_method = kAuthAny;
    return;
  }
  if (rc == SSH_AUTH_ERROR) throw s.error(ErrorKind::kInternal, std::string("connection lost: ") + ssh_get_error(ssh));
  const int offered_methods = ssh_userauth_list(ssh, nullptr);
  std::vector<std::string> tried;
  if ((target.methods & kAuthPublicKey) && (offered_methods & SSH_AUTH_METHOD_PUBLICKEY)) {
    if (key) {
      tried.push_back(key_name);
    } else {
      if (succeeded(ssh_userauth_publickey_auto(ssh, nullptr, nullptr), kAuthPublicKey)) return;
      tried.emplace_back("publickey (ssh-agent, the ssh config's and the default keys)");
    }
  }
  if (target.password) {
    if ((target.methods & kAuthKbdInteractive) && (offered_methods & SSH_AUTH_METHOD_INTERACTIVE)) {
      rc = ssh_userauth_kbdint(ssh, nullptr, nullptr);
      for (int round = 0; rc == SSH_AUTH_INFO && round < 4; ++round) {
        const int prompts = ssh_userauth_kbdint_getnprompts(ssh);
        for (int i = 0; i < prompts; ++i) {
          char echo = 0;
          ssh_userauth_kbdint_getprompt(ssh, static_cast<unsigned>(i), &echo);
          // Hidden prompts get the password; visible ones (a user name) get nothing.
          ssh_userauth_kbdint_setanswer(ssh, static_cast<unsigned>(i), echo != 0 ? "" : target.password->c_str());
        }
        rc = ssh_userauth_kbdint(ssh, nullptr, nullptr);
      }
      if (succeeded(rc, kAuthKbdInteractive)) return;
      tried.emplace_back("keyboard-interactive");
    }
    if ((target.methods & kAuthPassword) && (offered_methods & SSH_AUTH_METHOD_PASSWORD)) {
      if (succeeded(ssh_userauth_password(ssh, nullptr, target.password->c_str()), kAuthPassword)) return;
      tried.emplace_back("password");
    }
  }
  throw s.error(ErrorKind::kPermission,
                "authentication failed for user " + login_user +
                    "; the server offers: " + offered_text(offered_methods) +
                    "; tried: " + (tried.empty() ? std::string("nothing that it offers") : text::join(tried, ", ")));
}

// connect_and_log_in within --connect-timeout; then the blocking calls that follow (a channel's
// open and its exec request, answered once the server's session process is up: slower on
// OpenSSH 10, which starts sshd-session and sshd-auth for each connection, and behind a jump
// host) wait as long as a command may be silent (--command-timeout).
void connect_session(SshHost::Session& s, const SshTarget& target) {
  connect_and_log_in(s, target);
  long timeout = target.command_timeout_s;
  ssh_options_set(s.ssh.get(), SSH_OPTIONS_TIMEOUT, &timeout);
}

// Runs `command` as the login user on its own channel; for the login probe.
CommandResult exec_once(SshHost::Session& s, const std::string& command, int timeout_s) {
  ChannelPtr channel = s.open_exec(command);
  CommandResult r;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  while (s.drain(channel.get(), r.out, r.err)) {
    if (Clock::now() > deadline) throw s.error(ErrorKind::kInternal, "'" + command + "' did not finish in time");
    s.wait(kPollSliceMs);
  }
  const std::lock_guard<std::mutex> hold(s.mutex);
  r.exit_code = ssh_channel_get_exit_status(channel.get());
  return r;
}

// The target's system bus at a private unix socket here: the first client that speaks is
// relayed to `systemd-stdio-bridge` on a channel (a client that connects and says nothing,
// like a reachability check, is let go).
class BusRelay : public BusEndpoint {
 public:
  BusRelay(SshHost::Session& session, ChannelPtr channel) : session_(session), channel_(std::move(channel)) {
    dir_ = make_private_dir("sshdctl-bus");
    path_ = dir_ + "/bus";
    sockaddr_un sa{};
    if (path_.size() >= sizeof sa.sun_path)
      throw session_.error(ErrorKind::kInternal, "bus relay path too long: " + path_);
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path_.c_str(), path_.size());
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
        ::listen(listener_, 4) != 0 || ::pipe2(stop_, O_CLOEXEC) != 0) {
      const std::string why = std::strerror(errno);
      cleanup();
      throw session_.error(ErrorKind::kInternal, "cannot set up the bus relay: " + why);
    }
    thread_ = std::thread([this] { pump(); });
  }

  ~BusRelay() override {
    const char stop = 1;
    if (::write(stop_[1], &stop, 1) < 0) { /* the thread also ends at the channel's end */
    }
    if (thread_.joinable()) thread_.join();
    {
      const std::lock_guard<std::mutex> hold(session_.mutex);
      channel_.reset();
    }
    cleanup();
  }
  BusRelay(const BusRelay&) = delete;
  BusRelay& operator=(const BusRelay&) = delete;

  [[nodiscard]] std::string address() const override { return "unix:path=" + path_; }

 private:
  void cleanup() {
    for (int* fd : {&listener_, &stop_[0], &stop_[1]})
      if (*fd >= 0) ::close(std::exchange(*fd, -1));
    if (!path_.empty()) ::unlink(path_.c_str());
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }

  static bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
      const ssize_t n = ::write(fd, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }

  void pump() {
    int client = -1;
    bool spoke = false;
    std::string from_target, ignored;
    char buf[16384];
    try {
      while (true) {
        if (client < 0) {
          pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
          if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
          if (fds[1].revents != 0) break;
          if (fds[0].revents != 0) client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
          spoke = false;
          continue;
        }
        pollfd fds[3] = {{client, POLLIN, 0}, {session_.fd, POLLIN, 0}, {stop_[0], POLLIN, 0}};
        ::poll(fds, 3, kPollSliceMs);
        if (fds[2].revents != 0) break;
        if (fds[0].revents != 0) {
          const ssize_t n = ::read(client, buf, sizeof buf);
          if (n <= 0) {
            ::close(std::exchange(client, -1));
            if (spoke) break;  // the bus client is done: so is the bridge
            continue;
          }
          spoke = true;
          session_.write(channel_.get(), buf, static_cast<std::size_t>(n));
        }
        from_target.clear();
        const bool open = session_.drain(channel_.get(), from_target, ignored);
        if (!from_target.empty() && !write_all(client, from_target.data(), from_target.size())) break;
        if (!open) break;
      }
    } catch (const Error&) {
      // The connection is gone: the bus client sees its socket close and reports that.
    }
    if (client >= 0) ::close(client);
  }

  SshHost::Session& session_;
  ChannelPtr channel_;
  std::string dir_, path_;
  int listener_ = -1;
  int stop_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace

SshHost::SshHost(const SshTarget& target)
    : session_(std::make_unique<Session>()), command_timeout_s_(target.command_timeout_s) {
  connect_session(*session_, target);
  name_ = session_->name;
  user_ = session_->user;
  auth_method_ = session_->auth_method;
  // The server's banner ("SSH-2.0-OpenSSH_10.0p2 Debian-7"), read here: libssh's own
  // ssh_get_openssh_version() takes one digit for the major version and gives 0 for 10.x.
  if (const char* banner = ssh_get_serverbanner(session_->ssh.get()); banner != nullptr)
    if (const auto v = config::parse_openssh_version(banner); v.known()) openssh_version_ = config::to_string(v);
  if (!target.need_root) return;
  session_->sudo_password = target.password;
  // The loop prints its uid (root's) and its pid (the process that stands for this run).
  const std::string ready = "sshdctl-ready 0 ";
  std::string& out = session_->shell_out;
  session_->shell = session_->open_as_root(kShellLoop, ready, out, command_timeout_s_);
  out.erase(0, out.find(ready) + ready.size());
  const auto deadline = Clock::now() + std::chrono::seconds(command_timeout_s_);
  while (out.find('\n') == std::string::npos) {
    if (!session_->drain(session_->shell.get(), out, session_->shell_err) || Clock::now() > deadline)
      throw session_->error(ErrorKind::kInternal, "the target's root shell did not start");
    session_->wait(kPollSliceMs);
  }
  shell_pid_ = std::atol(out.substr(0, out.find('\n')).c_str());
  out.erase(0, out.find('\n') + 1);
}

SshHost::~SshHost() {
  if (session_->shell) {
    const std::lock_guard<std::mutex> hold(session_->mutex);
    ssh_channel_send_eof(session_->shell.get());
    session_->shell.reset();
  }
}

namespace {

// A fresh token for one request's answer: 128 random bits, as hex.
std::string answer_token() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  char buf[48];
  std::snprintf(buf, sizeof buf, "sshdctl-%016llx%016llx", static_cast<unsigned long long>(random()),
                static_cast<unsigned long long>(random()));
  return buf;
}

}  // namespace

std::string frame_request(std::string program, std::size_t input_size, const std::string& token) {
  if (!program.empty() && program.back() != '\n') program += '\n';
  const auto lines = std::count(program.begin(), program.end(), '\n');
  return std::to_string(lines) + " " + std::to_string(input_size) + " " + token + "\n" + program;
}

std::optional<std::size_t> answer_end(const std::string& stream, const std::string& token, int* status,
                                      std::size_t* consumed) {
  const std::string mark = "\n" + token + " ";
  const auto at = stream.find(mark);
  if (at == std::string::npos) return std::nullopt;
  const auto eol = stream.find('\n', at + mark.size());
  if (eol == std::string::npos) return std::nullopt;
  if (status != nullptr) *status = std::atoi(stream.c_str() + at + mark.size());
  if (consumed != nullptr) *consumed = eol + 1;
  return at;
}

CommandResult SshHost::script(const std::string& body, const std::vector<std::string>& args, const std::string& input) {
  Session& s = *session_;
  if (!s.shell) throw s.error(ErrorKind::kInternal, "no root shell on this connection");
  std::string program = "set --";
  for (const auto& a : args) program += " " + shell_quote(a);
  program += "\n" + body + "\n";
  const std::string token = answer_token();
  const std::string request = frame_request(program, input.size(), token) + input;
  ++round_trips_;
  const auto started = Clock::now();
  s.write(s.shell.get(), request.data(), request.size());

  auto deadline = Clock::now() + std::chrono::seconds(command_timeout_s_);
  const std::string err_mark = "\n" + token + "\n";
  CommandResult result;
  std::size_t out_end = 0;
  std::size_t out_consumed = 0;
  while (true) {
    const auto out_at = answer_end(s.shell_out, token, &result.exit_code, &out_consumed);
    const auto err_at = s.shell_err.find(err_mark);
    if (out_at && err_at != std::string::npos) {
      out_end = *out_at;
      result.err = s.shell_err.substr(0, err_at);
      s.shell_err.erase(0, err_at + err_mark.size());
      break;
    }
    const std::size_t heard = s.shell_out.size() + s.shell_err.size();
    if (!s.drain(s.shell.get(), s.shell_out, s.shell_err))
      throw s.error(ErrorKind::kInternal,
                    "the connection's shell ended" + (s.shell_err.empty() ? "" : ": " + text::trim(s.shell_err)));
    // The bound is on silence: a step that waits (for the target's lock) says so every second.
    if (s.shell_out.size() + s.shell_err.size() != heard)
      deadline = Clock::now() + std::chrono::seconds(command_timeout_s_);
    if (Clock::now() > deadline) {
      s.shell.reset();  // out of step from here on
      s.cut();
      throw s.error(ErrorKind::kInternal,
                    "no answer from the target for " + std::to_string(command_timeout_s_) +
                        " s (the path is cut, or a command hangs; see --command-timeout); nothing more was done");
    }
    s.wait(kPollSliceMs);
  }
  result.out = s.shell_out.substr(0, out_end);
  s.shell_out.erase(0, out_consumed);
  if (spdlog::should_log(spdlog::level::debug)) {
    const auto first = body.find_first_not_of(" \n");
    const auto line = body.substr(first == std::string::npos ? 0 : first, 60);
    spdlog::debug("{}: command {} ({} ms): {}", name_, round_trips_,
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count(),
                  line.substr(0, line.find('\n')));
  }
  return result;
}

CommandResult SshHost::run(const std::vector<std::string>& argv) {
  std::string command = "exec";
  for (const auto& a : argv) command += " " + shell_quote(a);
  return script(command, {});
}

std::unique_ptr<BusEndpoint> SshHost::system_bus() {
  std::string out;
  // The bridge speaks first only when asked; "exec" keeps the channel its own. Without systemd
  // the channel ends at once, and the caller falls back (no round trip spent on asking first).
  ChannelPtr channel;
  try {
    channel = session_->open_as_root(
        "[ -d /run/systemd/system ] || { echo sshdctl-no-systemd; exit 3; }; echo sshdctl-bridge; "
        "exec systemd-stdio-bridge",
        "sshdctl-bridge\n", out, command_timeout_s_);
  } catch (const Error&) {
    if (out.find("sshdctl-no-systemd") != std::string::npos) return nullptr;
    throw;  // sudo refused, the connection is gone, …: not a host without systemd
  }
  return std::make_unique<BusRelay>(*session_, std::move(channel));
}

namespace {

// One request for everything a change plans from (see Host::snapshot). Arguments are pairs:
// R main-file, F file, S stat-only path, G glob pattern, P program. Include lines of the sshd
// files are followed here with builtins only (read, case, parameter expansion, globbing), so
// the whole snapshot costs three processes: the subshell, one stat and one cat. The answer:
//   "F L R PATH" / "S L R PATH" (L: a symbolic link, R: regular, content follows) or "X PATH"
//   (missing) per path; "G PATTERN" then "M MATCH" per match; "P 0|1 PROGRAM";
//   "stat", one `stat -L` line per F/S entry in order; "data", the F contents back to back.
// A file that changes while it is read shows as a length that does not add up: the caller
// asks again. Names with a newline are left out (read one by one if they are ever asked for).
const std::string kSnapshotScript = std::string(R"SH(set -f
nl='
'
cr=')SH") + "\r" + R"SH('
meta= list= cats= todo= seen=$nl
add() {
  case $2 in *"$nl"*) return 1 ;; esac
  case $seen in *"$nl$2$nl"*) return 1 ;; esac
  seen=$seen$2$nl
  if [ ! -e "$2" ]; then
    meta="${meta}X $2$nl"
    return 1
  fi
  l=0 r=0
  [ -L "$2" ] && l=1
  [ "$1" = F ] && [ -f "$2" ] && r=1
  meta="$meta$1 $l $r $2$nl" list=$list$2$nl
  [ $r = 0 ] || cats=$cats$2$nl
}
expand() {
  meta="${meta}G $1$nl"
  set +f
  for m in $1; do
    [ -e "$m" ] || continue
    meta="${meta}M $m$nl"
    [ "$2" = 1 ] && todo=$todo$m$nl
  done
  set -f
}
scan() {
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%"$cr"}
    line=${line#"${line%%[! 	]*}"}
    case $line in [Ii][Nn][Cc][Ll][Uu][Dd][Ee][\ \	=]*) ;; *) continue ;; esac
    rest=${line#???????}
    rest=${rest#"${rest%%[! 	]*}"}
    rest=${rest#=}
    while :; do
      rest=${rest#"${rest%%[! 	]*}"}
      case $rest in
        '' | \#*) break ;;
        \"*)
          rest=${rest#?}
          w=${rest%%\"*}
          case $rest in *\"*) rest=${rest#*\"} ;; *) rest= ;; esac ;;
        *)
          w=${rest%%[ 	]*}
          rest=${rest#"$w"} ;;
      esac
      case $w in /*) ;; *) w=/etc/ssh/$w ;; esac
      expand "$w" 1
    done
  done <"$1"
}
IFS=$nl
while [ $# -ge 2 ]; do
  case $1 in
    R) todo=$todo$2$nl ;;
    F | S) add "$1" "$2" ;;
    G) expand "$2" 0 ;;
    P) if [ -x "$2" ]; then meta="${meta}P 1 $2$nl"; else meta="${meta}P 0 $2$nl"; fi ;;
  esac
  shift 2
done
while [ -n "$todo" ]; do
  f=${todo%%"$nl"*} todo=${todo#*"$nl"}
  if add F "$f" && [ -f "$f" ]; then scan "$f"; fi
done
printf '%sstat\n' "$meta"
[ -z "$list" ] || stat -L -c '%F|%a|%u|%g|%s' -- $list
echo data
[ -z "$cats" ] || exec cat -- $cats)SH";

}  // namespace

const char* shell_loop_script() { return kShellLoop; }
const std::string& snapshot_script() { return kSnapshotScript; }

Snapshot parse_snapshot(const std::string& answer) {
  Snapshot snap;
  struct Entry {
    std::string path;
    bool symlink, regular;
  };
  std::vector<Entry> entries;
  std::size_t pos = 0;
  const auto next_line = [&]() -> std::optional<std::string> {
    const auto eol = answer.find('\n', pos);
    if (eol == std::string::npos) return std::nullopt;
    std::string line = answer.substr(pos, eol - pos);
    pos = eol + 1;
    return line;
  };
  const auto bad = [](const std::string& why) { return Error(ErrorKind::kInternal, "the target's snapshot " + why); };
  std::string glob;
  std::set<std::string> named;
  while (true) {
    const auto line = next_line();
    if (!line) throw bad("ended early");
    if (*line == "stat") break;
    if (line->size() < 2 || (*line)[1] != ' ') throw bad("has a malformed line: " + *line);
    const char kind = (*line)[0];
    // The script names each path once (its `seen`): a path named twice is a garbled answer.
    const auto once = [&](const std::string& path) {
      if (!named.insert(path).second) throw bad("names " + path + " twice");
      return path;
    };
    if ((kind == 'F' || kind == 'S') && line->size() > 6) {
      entries.push_back(Entry{once(line->substr(6)), (*line)[2] == '1', (*line)[4] == '1'});
    } else if (kind == 'X') {
      snap.files[once(line->substr(2))] = Snapshot::File{};
    } else if (kind == 'G') {
      glob = line->substr(2);
      snap.globs[glob];
    } else if (kind == 'M') {
      snap.globs[glob].push_back(line->substr(2));
    } else if (kind == 'P' && line->size() > 4) {
      snap.programs[line->substr(4)] = (*line)[2] == '1';
    } else {
      throw bad("has a malformed line: " + *line);
    }
  }
  for (auto& [pattern, matches] : snap.globs) std::sort(matches.begin(), matches.end());
  std::vector<std::size_t> sizes;
  for (const auto& e : entries) {
    const auto line = next_line();
    const auto fields = line ? text::split(*line, '|') : std::vector<std::string>{};
    if (fields.size() != 5) throw bad("changed while it was read (stat)");
    Snapshot::File f;
    f.info.exists = true;
    f.info.symlink = e.symlink;
    f.info.regular = fields[0] == "regular file" || fields[0] == "regular empty file";
    f.info.mode = static_cast<mode_t>(std::strtoul(fields[1].c_str(), nullptr, 8));
    f.info.uid = static_cast<uid_t>(std::strtoul(fields[2].c_str(), nullptr, 10));
    f.info.gid = static_cast<gid_t>(std::strtoul(fields[3].c_str(), nullptr, 10));
    if (e.regular != f.info.regular) throw bad("changed while it was read (type of " + e.path + ")");
    sizes.push_back(e.regular ? std::strtoull(fields[4].c_str(), nullptr, 10) : 0);
    snap.files[e.path] = std::move(f);
  }
  if (next_line() != "data") throw bad("changed while it was read (no data)");
  // Each size is held to what is left, so that a garbled one (past 2^64 in the sum) cannot wrap.
  const std::size_t left = answer.size() - pos;
  std::size_t total = 0;
  for (const auto size : sizes) {
    if (size > left - total) throw bad("changed while it was read (sizes)");
    total += size;
  }
  if (left != total) throw bad("changed while it was read (sizes)");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].regular) continue;
    snap.files[entries[i].path].content = answer.substr(pos, sizes[i]);
    pos += sizes[i];
  }
  return snap;
}

Snapshot SshHost::snapshot(const SnapshotRequest& request) {
  std::vector<std::string> args;
  const auto pairs = [&](const char* kind, const std::vector<std::string>& words) {
    for (const auto& w : words) {
      args.emplace_back(kind);
      args.push_back(w);
    }
  };
  pairs("R", request.sshd_roots);
  pairs("F", request.files);
  pairs("S", request.stats);
  pairs("G", request.globs);
  pairs("P", request.programs);
  for (int attempt = 1;; ++attempt) {
    const auto r = script(kSnapshotScript, args);
    try {
      if (r.exit_code != 0)
        throw Error(ErrorKind::kInternal, "the target's snapshot failed: " + text::trim(r.err), Location{name_, {}, 0});
      return parse_snapshot(r.out);
    } catch (const Error& e) {
      if (attempt == 2) throw Error(e.kind(), e.message(), Location{name_, {}, 0});
      spdlog::debug("{}: {}; asking again", name_, e.message());
    }
  }
}

std::optional<std::string> SshHost::read_file(const std::string& path) {
  const auto r = script("[ -e \"$1\" ] || exit 3; cat -- \"$1\"", {path});
  if (r.exit_code == 3) return std::nullopt;
  if (r.exit_code != 0)
    throw Error(ErrorKind::kPermission, "cannot read: " + text::trim(r.err), Location{name_, path, 0});
  return r.out;
}

FileInfo SshHost::stat(const std::string& path) {
  const auto r = script(
      "[ -e \"$1\" ] || exit 3; l=0; [ -L \"$1\" ] && l=1; stat -L -c '%F|%a|%u|%g' -- \"$1\"; echo \"$l\"", {path});
  FileInfo info;
  if (r.exit_code != 0) return info;
  const auto lines = text::lines(r.out);
  const auto fields = text::split(lines.empty() ? "" : lines[0], '|');
  if (fields.size() != 4) return info;
  info.exists = true;
  info.regular = fields[0] == "regular file" || fields[0] == "regular empty file";
  info.mode = static_cast<mode_t>(std::strtoul(fields[1].c_str(), nullptr, 8));
  info.uid = static_cast<uid_t>(std::strtoul(fields[2].c_str(), nullptr, 10));
  info.gid = static_cast<gid_t>(std::strtoul(fields[3].c_str(), nullptr, 10));
  info.symlink = lines.size() > 1 && lines[1] == "1";
  return info;
}

std::vector<std::string> SshHost::glob(const std::string& pattern) {
  // The pattern is expanded by the target's shell: every character but the glob ones is
  // escaped, so nothing else in it is interpreted.
  std::string escaped;
  for (const char c : pattern) {
    if (c == '*' || c == '?' || c == '[' || c == ']')
      escaped += c;
    else
      escaped += std::string("\\") + c;
  }
  const auto r = script("for f in " + escaped + "; do [ -e \"$f\" ] && printf '%s\\n' \"$f\"; done; true", {});
  auto out = text::lines(r.out);
  std::sort(out.begin(), out.end());
  return out;
}

void SshHost::write_file_atomic(const std::string& path, const std::string& content, const FileInfo& like) {
  const char* body =
      "set -e; [ -L \"$1\" ] && { echo 'is a symbolic link; sshdctl replaces regular files only' >&2; exit 4; }; "
      "d=${1%/*}; d=${d:-/}; [ -d \"$d\" ] || mkdir -p -- \"$d\"; "
      "t=\"$1.sshdctl-$$\"; rm -f -- \"$t\"; set -C; trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; "
      "if [ -e \"$1\" ]; then chmod --reference=\"$1\" \"$t\"; chown --reference=\"$1\" \"$t\"; "
      "else chmod \"$2\" \"$t\"; chown \"$3:$4\" \"$t\"; fi; "
      "sync -- \"$t\"; mv -f -- \"$t\" \"$1\"; trap - EXIT; sync -- \"$d\"";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(like.mode));
  const auto r = script(body, {path, mode, std::to_string(like.uid), std::to_string(like.gid)}, content);
  if (r.exit_code != 0)
    throw Error(r.exit_code == 4 ? ErrorKind::kUnsupported : ErrorKind::kInternal,
                "cannot replace the file: " + text::trim(r.err), Location{name_, path, 0});
}

void SshHost::write_files_atomic(const std::vector<std::pair<std::string, std::string>>& files, const FileInfo& like) {
  if (files.empty()) return;
  // $1 mode, $2 uid, $3 gid, then a path and its size per file; the contents follow on stdin.
  const char* body =
      "set -e; set -C; m=$1; u=$2; g=$3; shift 3; t=''; ds=''; trap 'for f in $t; do rm -f \"$f\"; done' EXIT; "
      "while [ $# -gt 0 ]; do "
      "  [ -L \"$1\" ] && { echo \"$1: is a symbolic link; sshdctl replaces regular files only\" >&2; exit 4; }; "
      "  [ -d \"${1%/*}\" ] || mkdir -p -- \"${1%/*}\"; "
      "  rm -f -- \"$1.sshdctl-$$\"; head -c \"$2\" > \"$1.sshdctl-$$\"; t=\"$t $1.sshdctl-$$\"; "
      "  case \" $ds \" in *\" ${1%/*} \"*) ;; *) ds=\"$ds ${1%/*}\" ;; esac; shift 2; "
      "done; "
      "chmod \"$m\" $t; chown \"$u:$g\" $t; sync -- $t; "
      "for f in $t; do mv -f -- \"$f\" \"${f%.sshdctl-*}\"; done; t=''; sync -- $ds";
  char mode[8];
  std::snprintf(mode, sizeof mode, "%o", static_cast<unsigned>(like.mode));
  std::vector<std::string> args = {mode, std::to_string(like.uid), std::to_string(like.gid)};
  std::string input;
  for (const auto& [path, content] : files) {
    // The script keeps its file lists in words.
    if (path.find_first_of(" \t\n") != std::string::npos)
      throw Error(ErrorKind::kInternal, "a journal path with white space", Location{name_, path, 0});
    args.push_back(path);
    args.push_back(std::to_string(content.size()));
    input += content;
  }
  const auto r = script(body, args, input);
  if (r.exit_code != 0)
    throw Error(r.exit_code == 4 ? ErrorKind::kUnsupported : ErrorKind::kInternal,
                "cannot write the files: " + text::trim(r.err), Location{name_, files.front().first, 0});
}

bool SshHost::remove_file(const std::string& path) {
  const auto r =
      script("[ -e \"$1\" ] || [ -L \"$1\" ] || exit 3; d=${1%/*}; rm -f -- \"$1\" && sync -- \"${d:-/}\"", {path});
  if (r.exit_code == 3) return false;
  if (r.exit_code != 0) throw Error(ErrorKind::kPermission, "cannot remove: " + text::trim(r.err), {name_, path, 0});
  return true;
}

std::string SshHost::make_scratch_dir() {
  const auto r = script("mktemp -d /tmp/sshdctl-check.XXXXXX", {});
  if (r.exit_code != 0)
    throw Error(ErrorKind::kInternal, "cannot create scratch space: " + text::trim(r.err), Location{name_, "/tmp", 0});
  return text::trim(r.out);
}

void SshHost::write_scratch_file(const std::string& path, const std::string& content) {
  const auto r = script("[ -d \"${1%/*}\" ] || mkdir -p -- \"${1%/*}\"; cat > \"$1\"", {path}, content);
  if (r.exit_code != 0)
    throw Error(ErrorKind::kInternal, "cannot write scratch file: " + text::trim(r.err), Location{name_, path, 0});
}

void SshHost::remove_scratch_dir(const std::string& dir) { script("rm -rf -- \"$1\"", {dir}); }

bool SshHost::make_dir(const std::string& path, mode_t mode) {
  char m[8];
  std::snprintf(m, sizeof m, "%o", static_cast<unsigned>(mode));
  const auto r = script("[ -e \"$1\" ] && exit 3; mkdir -m \"$2\" -- \"$1\"", {path, m});
  if (r.exit_code == 3) return false;
  if (r.exit_code != 0)
    throw Error(ErrorKind::kInternal, "cannot create directory: " + text::trim(r.err), Location{name_, path, 0});
  return true;
}

bool SshHost::create_file(const std::string& path, const std::string& content, mode_t /*mode*/) {
  // noclobber: the shell opens with O_EXCL; the root shell's umask (077) makes the file 0600.
  // When the first try fails and nothing is there (yet again), the second says why.
  const auto r = script(
      "set -C\n{ printf '%s' \"$2\" >\"$1\"; } 2>/dev/null && exit 0\n"
      "[ -e \"$1\" ] && exit 3\nprintf '%s' \"$2\" >\"$1\"",
      {path, content});
  if (r.exit_code == 3) return false;
  if (r.exit_code != 0)
    throw Error(ErrorKind::kInternal, "cannot create: " + text::trim(r.err), Location{name_, path, 0});
  return true;
}

void SshHost::set_mode_owner(const std::string& path, mode_t mode, uid_t uid, gid_t gid) {
  char m[8];
  std::snprintf(m, sizeof m, "%o", static_cast<unsigned>(mode));
  const auto r = script(
      "[ -L \"$1\" ] && { echo 'is a symbolic link; not followed' >&2; exit 4; }; "
      "chown -h -- \"$3:$4\" \"$1\" && chmod -- \"$2\" \"$1\"",
      {path, m, std::to_string(uid), std::to_string(gid)});
  if (r.exit_code != 0)
    throw Error(r.exit_code == 4 ? ErrorKind::kUnsupported : ErrorKind::kPermission,
                "cannot set mode and owner: " + text::trim(r.err), Location{name_, path, 0});
}

void SshHost::remove_dir(const std::string& path) { script("rmdir -- \"$1\"", {path}); }

long SshHost::run_pid() { return shell_pid_; }

bool SshHost::pid_alive(long pid) { return script("kill -0 \"$1\" 2>/dev/null", {std::to_string(pid)}).exit_code == 0; }

bool SshHost::has_program(const std::string& program) { return script("[ -x \"$1\" ]", {program}).exit_code == 0; }

std::optional<std::string> probe_login(const SshTarget& target, const std::string& command, int retry_s) {
  SshTarget probe = target;
  probe.need_root = false;
  probe.accept_new = false;  // the key was checked (or recorded) by the first connection
  const auto deadline = Clock::now() + std::chrono::seconds(retry_s);
  while (true) {
    try {
      SshHost::Session s;
      connect_session(s, probe);
      const auto r = exec_once(s, command, target.command_timeout_s);
      if (r.exit_code != 0)
        return "logged in, but '" + command + "' failed with exit status " + std::to_string(r.exit_code) +
               (r.err.empty() ? "" : ": " + text::trim(r.err));
      return std::nullopt;
    } catch (const Error& e) {
      // While sshd re-executes itself after a reload, connections are refused or cut.
      const bool transient = e.message().rfind("connection refused", 0) == 0 ||
                             e.message().rfind("connection lost during the handshake", 0) == 0;
      if (!transient || Clock::now() > deadline) return e.message();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

}  // namespace sshdctl::host

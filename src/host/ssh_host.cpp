#include "sshdctl/host/ssh_host.h"

#include <libssh/libssh.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"

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

std::string methods_text(int methods) {
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

}  // namespace

struct SshHost::Session {
  SessionPtr ssh;
};

std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

SshHost::SshHost(const SshTarget& target) : session_(std::make_unique<Session>()) {
  session_->ssh.reset(ssh_new());
  ssh_session s = session_->ssh.get();
  if (s == nullptr) throw Error(ErrorKind::kInternal, "cannot create an SSH session");

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
  }
  name_ = host;
  const auto fail = [&](ErrorKind kind, const std::string& what) -> Error {
    return Error(kind, what, Location{name_, {}, 0});
  };

  const long timeout = target.connect_timeout_s;
  ssh_options_set(s, SSH_OPTIONS_HOST, host.c_str());
  bool process_config = false;
  ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &process_config);
  const std::string config = target.config_file.empty() ? home_file(".ssh/config") : target.config_file;
  if (!target.config_file.empty() && !fs::exists(config))
    throw fail(ErrorKind::kNotFound, "ssh config " + config + " does not exist");
  if (fs::exists(config) && ssh_options_parse_config(s, config.c_str()) != 0)
    throw fail(ErrorKind::kBadInput, "cannot read ssh config " + config + ": " + ssh_get_error(s));
  int quiet = SSH_LOG_NOLOG;  // libssh's own log goes to stderr; errors reach us as Error
  ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &quiet);
  if (!user.empty()) ssh_options_set(s, SSH_OPTIONS_USER, user.c_str());
  if (port > 0) ssh_options_set(s, SSH_OPTIONS_PORT, &port);
  ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout);
  if (!target.known_hosts.empty()) ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, target.known_hosts.c_str());
  char* known_option = nullptr;
  std::string known = home_file(".ssh/known_hosts");
  if (ssh_options_get(s, SSH_OPTIONS_KNOWNHOSTS, &known_option) == SSH_OK && known_option != nullptr) {
    known = known_option;
    ssh_string_free_char(known_option);
  }

  if (ssh_connect(s) != SSH_OK) {
    const std::string why = ssh_get_error(s);
    const ErrorKind kind = ErrorKind::kUnsupported;
    if (why.find("resolve") != std::string::npos || why.find("getaddrinfo") != std::string::npos)
      throw fail(kind, "cannot resolve the host name: " + why);
    if (why.find("refused") != std::string::npos) throw fail(kind, "connection refused: " + why);
    if (why.find("imeout") != std::string::npos || why.find("timed out") != std::string::npos)
      throw fail(kind, "connection timed out after " + std::to_string(timeout) + " s: " + why);
    throw fail(kind, "cannot connect: " + why);
  }

  ssh_key raw_key = nullptr;
  if (ssh_get_server_publickey(s, &raw_key) != SSH_OK) throw fail(ErrorKind::kInternal, "no host key from the server");
  const KeyPtr server_key(raw_key);
  const std::string offered = fingerprint(server_key.get());
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      break;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER: {
      unsigned int used_port = 22;
      ssh_options_get_port(s, &used_port);
      throw fail(ErrorKind::kPermission, "HOST KEY CHANGED: " + known + " records " +
                                             recorded_fingerprints(known, host, static_cast<int>(used_port)) +
                                             "; the server offers " + offered +
                                             "; not connecting (remove the old entry if the change is expected)");
    }
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      if (!target.accept_new)
        throw fail(ErrorKind::kPermission, "unknown host key " + offered + " (not in " + known +
                                               "); check it, then connect once with --accept-new");
      if (ssh_session_update_known_hosts(s) != SSH_OK)
        throw fail(ErrorKind::kInternal, "cannot record the host key in " + known + ": " + ssh_get_error(s));
      break;
    case SSH_KNOWN_HOSTS_ERROR:
      throw fail(ErrorKind::kInternal, std::string("cannot check the host key: ") + ssh_get_error(s));
  }

  int rc = SSH_AUTH_DENIED;
  if (!target.identity.empty()) {
    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(target.identity.c_str(), nullptr, nullptr, nullptr, &raw) != SSH_OK)
      throw fail(ErrorKind::kBadInput,
                 "cannot read the private key " + target.identity + " (encrypted keys: load them into ssh-agent)");
    const KeyPtr key(raw);
    rc = ssh_userauth_publickey(s, nullptr, key.get());
  } else {
    rc = ssh_userauth_publickey_auto(s, nullptr, nullptr);
  }
  if (rc != SSH_AUTH_SUCCESS) {
    const int methods = ssh_userauth_list(s, nullptr);
    throw fail(ErrorKind::kPermission, "authentication failed; the server offers: " + methods_text(methods));
  }

  as_root_ = text::trim(exec("id -u").out) == "0";
  if (!as_root_) {
    const auto sudo = exec("sudo -n true");
    if (sudo.exit_code != 0)
      throw fail(ErrorKind::kPermission,
                 "sudo -n refused (it needs a password or is not allowed): " + text::trim(sudo.err));
  }
}

SshHost::~SshHost() = default;

CommandResult SshHost::run(const std::vector<std::string>& argv) {
  std::vector<std::string> quoted;
  for (const auto& a : argv) quoted.push_back(shell_quote(a));
  return exec((as_root_ ? "" : "sudo -n ") + text::join(quoted, " "));
}

CommandResult SshHost::exec(const std::string& command, const std::string& input) {
  ssh_session s = session_->ssh.get();
  ChannelPtr channel(ssh_channel_new(s));
  if (!channel || ssh_channel_open_session(channel.get()) != SSH_OK ||
      ssh_channel_request_exec(channel.get(), command.c_str()) != SSH_OK)
    throw Error(ErrorKind::kInternal, std::string("SSH channel failed: ") + ssh_get_error(s), Location{name_, {}, 0});
  std::size_t sent = 0;
  while (sent < input.size()) {
    const int n = ssh_channel_write(channel.get(), input.data() + sent, static_cast<uint32_t>(input.size() - sent));
    if (n < 0) throw Error(ErrorKind::kInternal, std::string("SSH write failed: ") + ssh_get_error(s), {name_, {}, 0});
    sent += static_cast<std::size_t>(n);
  }
  ssh_channel_send_eof(channel.get());
  CommandResult result;
  char buf[16384];
  while (true) {
    const int out = ssh_channel_read_timeout(channel.get(), buf, sizeof buf, 0, 100);
    if (out > 0) result.out.append(buf, static_cast<std::size_t>(out));
    const int err = ssh_channel_read_nonblocking(channel.get(), buf, sizeof buf, 1);
    if (err > 0) result.err.append(buf, static_cast<std::size_t>(err));
    if (out == SSH_ERROR || err == SSH_ERROR)
      throw Error(ErrorKind::kInternal, std::string("SSH read failed: ") + ssh_get_error(s), {name_, {}, 0});
    if (ssh_channel_is_eof(channel.get()) && out <= 0 && err <= 0) break;
  }
  result.exit_code = ssh_channel_get_exit_status(channel.get());
  return result;
}

CommandResult SshHost::script(const std::string& body, const std::vector<std::string>& args, const std::string& input) {
  std::string command = (as_root_ ? "sh -c " : "sudo -n sh -c ") + shell_quote(body) + " sh";
  for (const auto& a : args) command += " " + shell_quote(a);
  return exec(command, input);
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
      "d=$(dirname -- \"$1\"); mkdir -p -- \"$d\"; "
      "t=$(mktemp \"$1.sshdctl-XXXXXX\"); trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; "
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

std::string SshHost::make_scratch_dir() {
  const auto r = script("mktemp -d /tmp/sshdctl-check.XXXXXX", {});
  if (r.exit_code != 0)
    throw Error(ErrorKind::kInternal, "cannot create scratch space: " + text::trim(r.err), Location{name_, "/tmp", 0});
  return text::trim(r.out);
}

void SshHost::write_scratch_file(const std::string& path, const std::string& content) {
  const auto r = script("mkdir -p -- \"$(dirname -- \"$1\")\" && cat > \"$1\"", {path}, content);
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

void SshHost::remove_dir(const std::string& path) { script("rmdir -- \"$1\"", {path}); }

bool SshHost::has_program(const std::string& program) { return script("[ -x \"$1\" ]", {program}).exit_code == 0; }

}  // namespace sshdctl::host

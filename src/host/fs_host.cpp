#include "sshdctl/host/fs_host.h"

#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "sshdctl/common/error.h"
#include "sshdctl/config/catalog.h"

namespace fs = std::filesystem;

namespace sshdctl::host {

namespace {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

std::string errno_text() { return std::strerror(errno); }

void write_all(int fd, const std::string& data, const std::string& path, const std::string& host) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::kInternal, "cannot write: " + errno_text(), Location{host, path, 0});
    }
    done += static_cast<std::size_t>(n);
  }
}

// Copies every extended attribute (SELinux label, ACLs, …) from one open file to another.
void copy_xattrs(int from, int to) {
  const ssize_t size = ::flistxattr(from, nullptr, 0);
  if (size <= 0) return;
  std::string names(static_cast<std::size_t>(size), '\0');
  const ssize_t got = ::flistxattr(from, names.data(), names.size());
  if (got <= 0) return;
  names.resize(static_cast<std::size_t>(got));
  for (std::size_t pos = 0; pos < names.size();) {
    const std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    const ssize_t vsize = ::fgetxattr(from, name.c_str(), nullptr, 0);
    if (vsize < 0) continue;
    std::string value(static_cast<std::size_t>(vsize), '\0');
    if (::fgetxattr(from, name.c_str(), value.data(), value.size()) < 0) continue;
    ::fsetxattr(to, name.c_str(), value.data(), value.size(), 0);
  }
}

}  // namespace

FsHost::FsHost(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_.empty()) root_ = "/";
  if (root_ != "/") {
    std::error_code ec;
    if (!fs::is_directory(root_, ec)) throw Error(ErrorKind::kNotFound, "--root " + root_ + " is not a directory");
    root_ = fs::canonical(root_).string();
  }
}

std::string FsHost::name() const { return root_ == "/" ? "localhost" : "root:" + root_; }

std::string FsHost::real(const std::string& path) const { return root_ == "/" ? path : root_ + path; }

std::optional<std::string> FsHost::read_file(const std::string& path) {
  Fd fd(::open(real(path).c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw Error(errno == EACCES ? ErrorKind::kPermission : ErrorKind::kInternal, "cannot read: " + errno_text(),
                Location{name(), path, 0});
  }
  std::string content;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(ErrorKind::kInternal, "cannot read: " + errno_text(), Location{name(), path, 0});
    }
    if (n == 0) break;
    content.append(buf, static_cast<std::size_t>(n));
  }
  return content;
}

FileInfo FsHost::stat(const std::string& path) {
  FileInfo info;
  struct stat st {};
  if (::lstat(real(path).c_str(), &st) != 0) return info;
  info.exists = true;
  info.symlink = S_ISLNK(st.st_mode);
  if (info.symlink && ::stat(real(path).c_str(), &st) != 0) return info;
  info.regular = S_ISREG(st.st_mode);
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  return info;
}

std::vector<std::string> FsHost::glob(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> out;
  const int rc = ::glob(real(pattern).c_str(), 0, nullptr, &g);
  if (rc == 0) {
    const std::size_t strip = root_ == "/" ? 0 : root_.size();
    for (std::size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(std::string(g.gl_pathv[i]).substr(strip));
  }
  globfree(&g);
  std::sort(out.begin(), out.end());
  return out;
}

void FsHost::write_file_atomic(const std::string& path, const std::string& content, const FileInfo& like) {
  const fs::path target = real(path);
  const fs::path dir = target.parent_path();
  std::error_code ec;
  if (fs::is_symlink(target, ec))
    throw Error(ErrorKind::kUnsupported,
                "is a symbolic link; sshdctl replaces regular files only (edit the file it points to)",
                {name(), path, 0});
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) throw Error(ErrorKind::kInternal, "cannot create " + dir.string() + ": " + ec.message(), {name(), path, 0});
  }
  std::string temp = (dir / ("." + target.filename().string() + ".sshdctl-XXXXXX")).string();
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (fd.get() < 0)
    throw Error(ErrorKind::kPermission, "cannot create a temporary file: " + errno_text(), {name(), path, 0});
  try {
    write_all(fd.get(), content, path, name());
    FileInfo keep = like;
    Fd old(::open(target.c_str(), O_RDONLY | O_CLOEXEC));
    if (old.get() >= 0) {
      struct stat st {};
      if (::fstat(old.get(), &st) == 0 && !keep.exists) {
        keep = FileInfo{true, true, false, static_cast<mode_t>(st.st_mode & 07777), st.st_uid, st.st_gid};
      }
      copy_xattrs(old.get(), fd.get());
    }
    if (::fchown(fd.get(), keep.uid, keep.gid) != 0 || ::fchmod(fd.get(), keep.mode) != 0)
      throw Error(ErrorKind::kPermission, "cannot set owner and mode: " + errno_text(), {name(), path, 0});
    if (::fsync(fd.get()) != 0) throw Error(ErrorKind::kInternal, "fsync failed: " + errno_text(), {name(), path, 0});
    fd.reset();
    if (::rename(temp.c_str(), target.c_str()) != 0)
      throw Error(ErrorKind::kInternal, "cannot replace the file: " + errno_text(), {name(), path, 0});
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  Fd dirfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dirfd.get() >= 0) ::fsync(dirfd.get());
}

std::string FsHost::make_scratch_dir() {
  // On an offline root, scratch space lives at the root's top level: its /tmp may be a
  // symbolic link that points out of the root (into this machine's /tmp).
  const std::string parent = root_ == "/" ? "/tmp" : root_;
  std::string pattern = parent + "/.sshdctl-check.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw Error(ErrorKind::kInternal, "cannot create scratch space: " + errno_text(), {name(), parent, 0});
  return root_ == "/" ? pattern : pattern.substr(root_.size());
}

void FsHost::write_scratch_file(const std::string& path, const std::string& content) {
  const fs::path p = real(path);
  fs::create_directories(p.parent_path());
  Fd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw Error(ErrorKind::kInternal, "cannot write scratch file: " + errno_text(), {name(), path, 0});
  write_all(fd.get(), content, path, name());
}

void FsHost::remove_scratch_dir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(real(dir), ec);
}

void FsHost::refuse_linked_parents(const std::string& path) const {
  // Never through a symbolic link of an offline root: it could lead out of the root.
  if (root_ == "/") return;
  std::error_code ec;
  for (fs::path p = fs::path(path).parent_path(); p != "/" && !p.empty(); p = p.parent_path())
    if (fs::is_symlink(real(p.string()), ec))
      throw Error(ErrorKind::kUnsupported, p.string() + " is a symbolic link in the offline root; not followed",
                  {name(), path, 0});
}

bool FsHost::make_dir(const std::string& path, mode_t mode) {
  refuse_linked_parents(path);
  if (::mkdir(real(path).c_str(), mode) == 0) return true;
  if (errno == EEXIST) return false;
  throw Error(ErrorKind::kInternal, "cannot create directory: " + errno_text(), {name(), path, 0});
}

bool FsHost::create_file(const std::string& path, const std::string& content, mode_t mode) {
  refuse_linked_parents(path);
  Fd fd(::open(real(path).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) {
    if (errno == EEXIST) return false;
    throw Error(ErrorKind::kInternal, "cannot create: " + errno_text(), {name(), path, 0});
  }
  try {
    write_all(fd.get(), content, path, name());
  } catch (const Error&) {
    ::unlink(real(path).c_str());  // ours, and empty or torn: no one is to wait for it
    throw;
  }
  return true;
}

void FsHost::remove_dir(const std::string& path) { ::rmdir(real(path).c_str()); }

void FsHost::set_mode_owner(const std::string& path, mode_t mode, uid_t uid, gid_t gid) {
  const Fd fd(::open(real(path).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0)
    throw Error(errno == ELOOP ? ErrorKind::kUnsupported : ErrorKind::kPermission,
                errno == ELOOP ? "is a symbolic link; not followed" : "cannot open: " + errno_text(),
                {name(), path, 0});
  if (::fchown(fd.get(), uid, gid) != 0 || ::fchmod(fd.get(), mode) != 0)
    throw Error(ErrorKind::kPermission, "cannot set mode and owner: " + errno_text(), {name(), path, 0});
}

bool FsHost::remove_file(const std::string& path) {
  const std::string target = real(path);
  if (::unlink(target.c_str()) == 0) {
    // The removal is durable before the caller goes on (e.g. reloads sshd).
    const int dir = ::open(fs::path(target).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
    return true;
  }
  if (errno == ENOENT) return false;
  throw Error(ErrorKind::kPermission, "cannot remove: " + errno_text(), Location{name(), path, 0});
}

long FsHost::run_pid() { return static_cast<long>(::getpid()); }

bool FsHost::pid_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

namespace {
class LocalBus : public BusEndpoint {
 public:
  [[nodiscard]] std::string address() const override { return kLocalSystemBus; }
};
}  // namespace

std::unique_ptr<BusEndpoint> FsHost::system_bus() {
  if (offline() || !stat("/run/systemd/system").exists) return nullptr;
  return std::make_unique<LocalBus>();
}

bool FsHost::has_program(const std::string& program) { return ::access(real(program).c_str(), X_OK) == 0; }

CommandResult FsHost::run(const std::vector<std::string>& argv) {
  if (argv.empty()) throw Error(ErrorKind::kInternal, "empty command");
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw Error(ErrorKind::kInternal, "pipe: " + errno_text());
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::string chroot_dir = root_;

  const pid_t pid = ::fork();
  if (pid < 0) throw Error(ErrorKind::kInternal, "fork: " + errno_text());
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    if (chroot_dir != "/" && (::chroot(chroot_dir.c_str()) != 0 || ::chdir("/") != 0)) _exit(126);
    ::execv(args[0], args.data());
    _exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  CommandResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (result.exit_code == 127 && result.err.empty()) result.err = "cannot run " + argv[0];
  return result;
}

std::string FsHost::openssh_version() {
  if (!openssh_version_) {
    openssh_version_ = std::string();
    if (has_program("/usr/sbin/sshd")) {
      // sshd -V prints "OpenSSH_9.2, OpenSSL …"; a release without -V prints its usage, which
      // names the version too.
      const auto r = run({"/usr/sbin/sshd", "-V"});
      if (const auto v = config::parse_openssh_version(r.err + r.out); v.known())
        *openssh_version_ = config::to_string(v);
    }
  }
  return *openssh_version_;
}

}  // namespace sshdctl::host

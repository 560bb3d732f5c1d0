#include "secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "sshdctl/common/error.h"

namespace sshdctl::cli {

namespace {

void chomp(std::string& line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
}

}  // namespace

std::optional<std::string> ask_on_tty(const std::string& prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return std::nullopt;
  termios saved{};
  const bool is_tty = ::tcgetattr(fd, &saved) == 0;
  if (is_tty) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  if (::write(fd, prompt.data(), prompt.size()) < 0) { /* the answer is still read */
  }
  std::string answer;
  char c = 0;
  ssize_t n = 0;
  while ((n = ::read(fd, &c, 1)) == 1 && c != '\n') answer += c;
  if (is_tty) ::tcsetattr(fd, TCSAFLUSH, &saved);
  ::close(fd);
  if (n < 0) return std::nullopt;
  chomp(answer);
  return answer;
}

std::optional<std::string> read_secret(const SecretSource& source, const std::string& what) {
  const int sources =
      (source.ask ? 1 : 0) + (source.from_stdin ? 1 : 0) + (source.file.empty() ? 0 : 1) + (source.env.empty() ? 0 : 1);
  if (sources == 0) return std::nullopt;
  if (sources > 1) throw Error(ErrorKind::kBadInput, "give the " + what + " one way only");
  std::string secret;
  if (source.ask) {
    auto answer = ask_on_tty("sshdctl: " + what + ": ");
    if (!answer) throw Error(ErrorKind::kBadInput, "cannot ask for the " + what + ": no terminal");
    secret = std::move(*answer);
  } else if (source.from_stdin) {
    if (!std::getline(std::cin, secret)) throw Error(ErrorKind::kBadInput, "no " + what + " on standard input");
  } else if (!source.file.empty()) {
    std::ifstream in(source.file);
    if (!in) throw Error(ErrorKind::kBadInput, "cannot read the " + what + " file " + source.file);
    std::getline(in, secret);
    struct stat st {};
    if (::stat(source.file.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
      std::cerr << "sshdctl: warning: " << source.file << " can be read by others (mode " << std::oct
                << (st.st_mode & 0777) << std::dec << "); keep secrets 0600\n";
  } else {
    const char* value = std::getenv(source.env.c_str());
    if (value == nullptr)
      throw Error(ErrorKind::kBadInput,
                  "the environment variable " + source.env + " (for the " + what + ") is not set");
    secret = value;
  }
  chomp(secret);
  if (secret.empty()) throw Error(ErrorKind::kBadInput, "the " + what + " is empty");
  return secret;
}

}  // namespace sshdctl::cli

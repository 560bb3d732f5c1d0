// Where secrets (login passwords, key passphrases, new passwords) come from: a prompt on the
// terminal without echo, standard input, a file, or an environment variable named on the
// command line. Never from argv; never logged.
#pragma once

#include <optional>
#include <string>

namespace sshdctl::cli {

// Asks on /dev/tty with echo off; nullopt when there is no terminal.
std::optional<std::string> ask_on_tty(const std::string& prompt);

struct SecretSource {
  bool ask = false;         // prompt on the terminal
  bool from_stdin = false;  // the first line of standard input
  std::string file;         // the first line of this file
  std::string env;          // this environment variable
  [[nodiscard]] bool given() const { return ask || from_stdin || !file.empty() || !env.empty(); }
};

// Reads the secret from the one source given (nullopt when none is); `what` names it in
// errors and in the prompt. Throws Error (bad input) for two sources, an unset variable, an
// unreadable file, an empty secret or no terminal to ask on.
std::optional<std::string> read_secret(const SecretSource& source, const std::string& what);

}  // namespace sshdctl::cli

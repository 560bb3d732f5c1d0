// One error type for the whole library: every failure says where (host, file, line) and why.
#pragma once

#include <stdexcept>
#include <string>

namespace sshdctl {

// Each kind maps to one documented exit code (see exit_code()).
enum class ErrorKind {
  kInternal,     // a bug or an unexpected system failure
  kBadInput,     // unknown keyword, invalid value, unknown user, malformed argument
  kConfigParse,  // a configuration file that cannot be parsed
  kRejected,     // sshd -t refused the candidate configuration
  kNotFound,     // a file or program that must exist does not
  kPermission,   // not allowed (not root, file owned by someone else)
  kUnsupported,  // the target cannot do what was asked
  kRolledBack,   // the change locked the operator out and was undone
};

struct Location {
  std::string host;
  std::string file;
  int line = 0;

  // "host:file:line", leaving out the parts that are unknown.
  [[nodiscard]] std::string str() const;
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, Location where = {});

  [[nodiscard]] ErrorKind kind() const { return kind_; }
  [[nodiscard]] const Location& where() const { return where_; }
  [[nodiscard]] const std::string& message() const { return message_; }
  [[nodiscard]] std::string detail() const { return detail_; }
  // Extra lines shown under the message (e.g. what sshd said).
  Error& with_detail(std::string detail);

 private:
  ErrorKind kind_;
  std::string message_;
  Location where_;
  std::string detail_;
};

// Documented process exit codes.
namespace exit_code {
inline constexpr int kChanged = 0;    // success; something was changed (or a read-only verb succeeded)
inline constexpr int kFailed = 1;     // internal or system failure
inline constexpr int kBadInput = 2;   // usage error, unknown keyword, invalid value, unknown user
inline constexpr int kUnchanged = 3;  // success; everything already was as asked, nothing written
inline constexpr int kRejected = 4;   // sshd -t rejected the candidate; nothing written
inline constexpr int kParse = 5;      // a configuration file could not be parsed; nothing written
inline constexpr int kRolledBack = 6;  // the login probe failed after the change; the change was rolled back
inline constexpr int kDrift = 9;       // audit: the target does not meet the policy
}  // namespace exit_code

int exit_code_for(ErrorKind kind);
const char* kind_name(ErrorKind kind);

}  // namespace sshdctl

#include "sshdctl/common/error.h"

#include <utility>

namespace sshdctl {

std::string Location::str() const {
  std::string out;
  if (!host.empty()) out += host;
  if (!file.empty()) {
    if (!out.empty()) out += ':';
    out += file;
    if (line > 0) out += ':' + std::to_string(line);
  }
  return out;
}

Error::Error(ErrorKind kind, std::string message, Location where)
    : std::runtime_error(where.str().empty() ? message : where.str() + ": " + message),
      kind_(kind),
      message_(std::move(message)),
      where_(std::move(where)) {}

Error& Error::with_detail(std::string detail) {
  detail_ = std::move(detail);
  return *this;
}

int exit_code_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadInput:
    case ErrorKind::kNotFound:
      return exit_code::kBadInput;
    case ErrorKind::kConfigParse:
      return exit_code::kParse;
    case ErrorKind::kRejected:
      return exit_code::kRejected;
    case ErrorKind::kRolledBack:
      return exit_code::kRolledBack;
    case ErrorKind::kInternal:
    case ErrorKind::kPermission:
    case ErrorKind::kUnsupported:
      return exit_code::kFailed;
  }
  return exit_code::kFailed;
}

const char* kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInternal:
      return "internal";
    case ErrorKind::kBadInput:
      return "bad-input";
    case ErrorKind::kConfigParse:
      return "parse";
    case ErrorKind::kRejected:
      return "rejected";
    case ErrorKind::kNotFound:
      return "not-found";
    case ErrorKind::kPermission:
      return "permission";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kRolledBack:
      return "rolled-back";
  }
  return "internal";
}

}  // namespace sshdctl

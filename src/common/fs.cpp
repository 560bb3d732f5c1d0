#include "sshdctl/common/fs.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "sshdctl/common/error.h"

namespace sshdctl {

std::string make_private_dir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + prefix + ".XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw Error(ErrorKind::kInternal, "cannot create a private directory " + pattern + ": " + std::strerror(errno));
  return pattern;
}

}  // namespace sshdctl

// Builds parsed file trees by hand, so the pure core is tested without Augeas.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sshdctl/config/model.h"

namespace sshdctl::config::testing {

inline Directive line(int n, std::string keyword, std::vector<std::string> args, std::string path = {}) {
  if (path.empty()) path = "/node/" + keyword + "@" + std::to_string(n);
  return Directive{std::move(keyword), std::move(args), std::move(path), n, {}};
}

inline MatchBlock block(int n, std::vector<Criterion> criteria, std::vector<Directive> settings) {
  return MatchBlock{std::move(criteria), std::move(settings), "/node/Match@" + std::to_string(n), n};
}

struct Tree {
  std::map<std::string, FileTree> files;
  std::map<std::string, std::vector<std::string>> globs;

  Tree& file(const std::string& path, std::vector<Directive> global, std::vector<MatchBlock> blocks = {}) {
    for (auto& d : global) d.path = path + ":" + d.path;
    for (auto& b : blocks) {
      b.path = path + ":" + b.path;
      for (auto& d : b.settings) d.path = b.path + "/Settings" + d.path;
    }
    files[path] = FileTree{path, std::move(global), std::move(blocks)};
    return *this;
  }
  // Adds a Match block at the end of an existing file, with nested node paths.
  Tree& add_block(const std::string& path, MatchBlock b) {
    b.path = path + ":" + b.path;
    for (auto& d : b.settings) d.path = b.path + "/Settings" + d.path;
    files[path].blocks.push_back(std::move(b));
    return *this;
  }
  Tree& glob(const std::string& pattern, std::vector<std::string> matches) {
    globs[pattern] = std::move(matches);
    return *this;
  }
  [[nodiscard]] Model model(const std::string& main = "/etc/ssh/sshd_config") const {
    return flatten(
        main,
        [this](const std::string& p) -> const FileTree* {
          const auto it = files.find(p);
          return it == files.end() ? nullptr : &it->second;
        },
        [this](const std::string& p) {
          const auto it = globs.find(p);
          if (it != globs.end()) return it->second;
          return files.count(p) ? std::vector<std::string>{p} : std::vector<std::string>{};
        });
  }
};

// Debian 12 cloud image: the drop-in directory is included at the top.
inline Tree debian_cloud() {
  Tree t;
  t.file("/etc/ssh/sshd_config",
         {line(12, "Include", {"/etc/ssh/sshd_config.d/*.conf"}), line(33, "PermitRootLogin", {"no"}),
          line(61, "KbdInteractiveAuthentication", {"no"}), line(84, "UsePAM", {"yes"}),
          line(91, "X11Forwarding", {"yes"}), line(111, "AcceptEnv", {"LANG", "LC_*"}),
          line(114, "Subsystem", {"sftp", "/usr/lib/openssh/sftp-server"})});
  t.file("/etc/ssh/sshd_config.d/50-cloud-init.conf", {line(1, "PasswordAuthentication", {"no"})});
  t.glob("/etc/ssh/sshd_config.d/*.conf", {"/etc/ssh/sshd_config.d/50-cloud-init.conf"});
  return t;
}

}  // namespace sshdctl::config::testing

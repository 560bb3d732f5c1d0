// The sshd configuration of one target, loaded through its Host into a private Augeas root
// (a mirror of the files), edited there, and rendered back as per-file changes.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sshdctl/config/model.h"
#include "sshdctl/config/plan.h"
#include "sshdctl/host/host.h"

namespace sshdctl::aug {
class Augeas;
}

namespace sshdctl::config {

struct FileChange {
  std::string path;
  std::optional<std::string> before;  // nothing: a new file
  std::string after;
  host::FileInfo info;   // what the replacement keeps (mode, owner)
  bool removes = false;  // the change removes the file (a revert of a file a change created)
  // Holds secrets (/etc/shadow): reports show this (what changed, a masked diff), never the text.
  std::string masked;
};

class ConfigTree {
 public:
  ConfigTree(host::Host& host, std::string lens_dir);
  ~ConfigTree();
  ConfigTree(const ConfigTree&) = delete;
  ConfigTree& operator=(const ConfigTree&) = delete;

  // Reads the main file (/etc/ssh/sshd_config, or the vendor /usr/etc/ssh/sshd_config) and
  // every file its Include lines name. Throws Error (kConfigParse with file:line, kNotFound).
  void load();
  [[nodiscard]] const Model& model() const { return model_; }

  // Applies the edits to the private copy and renders the touched files.
  void apply(const Plan& plan);
  // The model of the edited tree (new lines have line 0).
  [[nodiscard]] Model edited_model();
  [[nodiscard]] std::vector<FileChange> changes() const;
  // Every file of the edited tree, path → content.
  [[nodiscard]] std::map<std::string, std::string> candidate() const;
  // Every file as it was read, path → content.
  [[nodiscard]] std::map<std::string, std::string> current() const;
  // After load() failed: the files sshd would read, found by following every line that starts
  // with Include (with the host's glob, at most 16 levels deep) without parsing anything else,
  // so that sshd itself can say where it stops first. The main file is "main_file".
  [[nodiscard]] std::map<std::string, std::string> files_as_sshd_reads() const;
  [[nodiscard]] const std::string& main_file() const { return main_; }

 private:
  struct Loaded {
    std::string original;
    bool added_newline = false;
    bool is_new = false;
    host::FileInfo info;
    FileTree tree;
  };

  // Reads a file and, once each, the files its Include lines name (nesting depth is
  // flatten()'s rule).
  bool load_file(const std::string& path);
  FileTree read_tree(const std::string& path, const std::string* content) const;
  Directive read_directive(const std::string& node, const std::string& label, const std::string* content) const;
  std::vector<std::string> expand(const std::string& pattern, bool with_new_files);
  std::string ensure_file(const std::string& file);
  void write_setting(const std::string& node, const Setting& setting);
  std::string append_child(const std::string& parent, const std::string& label);
  void render();

  host::Host& host_;
  std::string main_;
  std::string lens_dir_;
  std::string mirror_;
  std::unique_ptr<aug::Augeas> aug_;
  std::map<std::string, Loaded> files_;
  std::map<std::string, std::vector<std::string>> expansions_;
  std::map<std::string, FileTree> edited_trees_;
  std::set<std::string> touched_;
  std::map<std::string, std::string> rendered_;
  // Match blocks that must precede a file's first Match, inserted as text (see apply()).
  std::map<std::string, std::vector<std::string>> leading_blocks_;
  Model model_;
};

// Inserts `block` before the first line that starts a Match block (pure; used for blocks that
// must precede existing ones).
std::string insert_before_first_match(const std::string& text, const std::string& block);

// Where the project's lenses are: $SSHDCTL_LENS_DIR, or share/sshdctl/lenses next to the
// executable's bin/ directory.
std::string default_lens_dir();

}  // namespace sshdctl::config

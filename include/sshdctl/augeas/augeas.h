// RAII over libaugeas. Nothing else in the project includes augeas.h; errors are read
// from /augeas//error and turned into sshdctl::Error.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

struct augeas;

namespace sshdctl::aug {

struct Span {
  std::string file;  // path of the file as Augeas saw it (under the root)
  unsigned start = 0;
  unsigned end = 0;
};

class Augeas {
 public:
  // Opens Augeas on `root` with the project's lenses in `lens_dir`; no lens is autoloaded.
  Augeas(const std::string& root, const std::string& lens_dir);
  ~Augeas();
  Augeas(const Augeas&) = delete;
  Augeas& operator=(const Augeas&) = delete;

  // Parses `file` (a path under the root) with `lens` ("Module.lns"). Throws Error of kind
  // kConfigParse, naming file:line, when the lens cannot parse it.
  void load_file(const std::string& lens, const std::string& file);

  [[nodiscard]] std::vector<std::string> match(const std::string& expression) const;
  [[nodiscard]] std::optional<std::string> get(const std::string& path) const;
  [[nodiscard]] std::string label(const std::string& path) const;
  [[nodiscard]] std::optional<Span> span(const std::string& path) const;

  // Binds $name to the node(s) of `expression`; the binding follows the nodes when
  // siblings are inserted or removed, unlike positional paths such as Match[2].
  void define(const std::string& name, const std::string& expression);

  void set(const std::string& path, const std::optional<std::string>& value);
  void insert(const std::string& path, const std::string& label, bool before);
  void remove(const std::string& path);

  // Writes every changed file under the root. (aug_preview cannot be used: with spans
  // enabled Augeas 1.14 looks its lens up under the on-disk name and fails.)
  void save();

  // Node path of a file's tree: "/files" + file, escaped for path expressions.
  static std::string file_path(const std::string& file);

 private:
  [[noreturn]] void fail(const std::string& what) const;
  augeas* aug_ = nullptr;
  int transforms_ = 0;
};

}  // namespace sshdctl::aug

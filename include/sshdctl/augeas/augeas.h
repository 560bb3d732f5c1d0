// RAII over libaugeas. Nothing else in the project includes augeas.h; errors are read
// from /augeas//error and turned into sshdctl::Error.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

namespace sshdctl::aug {

// One file, parsed by `lens` in a private mirror directory (never the live file) and edited
// through its tree; text() renders it. A missing final newline is added for the lens and taken
// away again; an empty file is not written at all (Augeas would start new content with a blank
// line).
// Refuses (ErrorKind::kConfigParse, file:line) content with a byte 0x00–0x04: Augeas encodes
// its trees with 0x01–0x04 (lens.h ENC_*), so a value holding one parses but the tree cannot
// be written back (found by fuzzing), and it reads a NUL as the end of the text. Nothing is
// loaded, so nothing can be written.
void refuse_control_bytes(std::string_view content, const std::string& file);

class MirroredFile {
 public:
  MirroredFile(const std::string& content, const std::string& lens, const std::string& lens_dir,
               const std::string& name_for_errors);
  ~MirroredFile();
  MirroredFile(const MirroredFile&) = delete;
  MirroredFile& operator=(const MirroredFile&) = delete;

  [[nodiscard]] Augeas& aug() { return *aug_; }
  [[nodiscard]] const Augeas& aug() const { return *aug_; }
  // The tree path of the file ("/files/…").
  [[nodiscard]] const std::string& node() const { return node_; }
  // The text as given (plus the added newline): what span offsets refer to.
  [[nodiscard]] const std::string& parsed_text() const { return parsed_; }
  [[nodiscard]] std::string text();

 private:
  std::string mirror_;
  std::string node_;
  std::string parsed_;
  bool added_newline_ = false;
  std::unique_ptr<Augeas> aug_;
};

}  // namespace sshdctl::aug

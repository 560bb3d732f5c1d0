// One Augeas handle per process for the lens targets: the project's lens is compiled on its first
// use and kept, and every input goes through Augeas's text API (aug_text_store /
// aug_text_retrieve) instead of a file, so an input costs a parse, not a lens compilation.
#pragma once

#include <augeas.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_support.h"

// Augeas compiles and frees large regular expressions on every parse: with ASan's default
// quarantine (256 MB) and fill of new blocks, page faults take most of the time. Smaller ones
// (ASAN_OPTIONS in the environment still wins).
extern "C" const char* __asan_default_options() { return "max_malloc_fill_size=0:quarantine_size_mb=16"; }

namespace sshdctl::fuzz {

// Augeas encodes a tree for its put direction with the bytes 0x01-0x04 (lens.h ENC_*): a value
// holding one parses but cannot be written back (put_failed; with 0x04, aug_text_retrieve
// even fails an assertion in lens.c enc_format_indent). sshdctl then cannot edit such a file
// (tests/fuzz/README.md, finding 1); the targets do not ask for the round trip of such a text.
inline bool has_tree_encoding_bytes(const std::string& text) {
  return text.find_first_of(std::string("\x01\x02\x03\x04", 4)) != std::string::npos;
}

class TextLens {
 public:
  explicit TextLens(std::string lens) : lens_(std::move(lens)) {
    const char* env = std::getenv("SSHDCTL_LENS_DIR");
    const std::string dir = env != nullptr && *env != '\0' ? env : SSHDCTL_FUZZ_LENS_DIR;
    aug_ = aug_init("/", dir.c_str(), AUG_NO_MODL_AUTOLOAD | AUG_NO_LOAD | AUG_ENABLE_SPAN | AUG_NO_ERR_CLOSE);
    if (aug_ == nullptr || aug_error(aug_) != AUG_NOERROR) finding("cannot start Augeas with the lenses in " + dir);
    // A first parse compiles the lens; one that does not load is a broken setup, not a finding.
    if (!store("\n") && !error_at("/augeas/text/tree/error").has_value())
      finding("the lens " + lens_ + " does not load from " + dir + ": " + aug_error_message(aug_));
  }
  ~TextLens() { aug_close(aug_); }
  TextLens(const TextLens&) = delete;
  TextLens& operator=(const TextLens&) = delete;

  [[nodiscard]] augeas* aug() const { return aug_; }

  // Parses `text` into /tree; false when the lens refuses it (see error_line()).
  bool store(const std::string& text) {
    aug_rm(aug_, "/tree");
    aug_rm(aug_, "/out");
    aug_rm(aug_, "/augeas/text");
    if (aug_set(aug_, "/text", text.c_str()) < 0) finding("cannot set /text");
    const int r = aug_text_store(aug_, lens_.c_str(), "/text", "/tree");
    if (r < 0 && aug_error(aug_) != AUG_NOERROR)
      finding(std::string("aug_text_store failed outside the lens: ") + aug_error_message(aug_));
    return r == 0;
  }

  // The line of the parse error Augeas recorded for the last store(); nullopt when none.
  [[nodiscard]] std::optional<int> error_line() const { return error_at("/augeas/text/tree/error"); }

  // Renders /tree back against the text it was parsed from; nullopt when the lens cannot.
  std::optional<std::string> retrieve() {
    if (aug_text_retrieve(aug_, lens_.c_str(), "/text", "/tree", "/out") < 0) return std::nullopt;
    return get("/out");
  }

  [[nodiscard]] std::vector<std::string> match(const std::string& expression) const {
    char** matches = nullptr;
    const int n = aug_match(aug_, expression.c_str(), &matches);
    if (n < 0) finding("bad path expression " + expression);
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      out.emplace_back(matches[i]);
      std::free(matches[i]);
    }
    std::free(matches);
    return out;
  }
  [[nodiscard]] std::optional<std::string> get(const std::string& path) const {
    const char* value = nullptr;
    if (aug_get(aug_, path.c_str(), &value) != 1 || value == nullptr) return std::nullopt;
    return std::string(value);
  }
  [[nodiscard]] std::string label(const std::string& path) const {
    const char* label = nullptr;
    if (aug_label(aug_, path.c_str(), &label) < 0 || label == nullptr) finding("no label for " + path);
    return label;
  }
  // The start offset of a node's span in the stored text.
  [[nodiscard]] std::optional<unsigned> span_start(const std::string& path) const {
    char* filename = nullptr;
    unsigned ls = 0, le = 0, vs = 0, ve = 0, ss = 0, se = 0;
    if (aug_span(aug_, path.c_str(), &filename, &ls, &le, &vs, &ve, &ss, &se) < 0) return std::nullopt;
    std::free(filename);
    return ss;
  }

 private:
  [[nodiscard]] std::optional<int> error_at(const std::string& node) const {
    if (!get(node)) return std::nullopt;
    return std::atoi(get(node + "/line").value_or("0").c_str());
  }

  std::string lens_;
  augeas* aug_ = nullptr;
};

}  // namespace sshdctl::fuzz

#include "sshdctl/augeas/augeas.h"

#include <augeas.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>

#include "sshdctl/common/error.h"
#include "sshdctl/common/fs.h"

namespace sshdctl::aug {

namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using CString = std::unique_ptr<char, FreeDeleter>;

std::string escape_segment(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
                       c == '.' || c == '_' || c == '-' || c == '~' || c == '@' || c == '+' || c == ',' || c == ':';
    if (!plain) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

Augeas::Augeas(const std::string& root, const std::string& lens_dir) {
  const unsigned flags = AUG_NO_MODL_AUTOLOAD | AUG_NO_LOAD | AUG_ENABLE_SPAN | AUG_NO_ERR_CLOSE;
  aug_ = aug_init(root.c_str(), lens_dir.c_str(), flags);
  if (aug_ == nullptr) throw Error(ErrorKind::kInternal, "cannot initialise Augeas");
  if (aug_error(aug_) != AUG_NOERROR) {
    const std::string message = aug_error_message(aug_);
    aug_close(aug_);
    aug_ = nullptr;
    throw Error(ErrorKind::kInternal, "cannot initialise Augeas: " + message);
  }
}

Augeas::~Augeas() {
  if (aug_ != nullptr) aug_close(aug_);
}

std::string Augeas::file_path(const std::string& file) { return "/files" + escape_segment(file); }

void Augeas::fail(const std::string& what) const {
  std::string message = what + ": " + aug_error_message(aug_);
  if (const char* minor = aug_error_minor_message(aug_)) message += std::string(" (") + minor + ")";
  if (const char* details = aug_error_details(aug_)) message += std::string(": ") + details;
  throw Error(ErrorKind::kInternal, message);
}

void Augeas::load_file(const std::string& lens, const std::string& file) {
  const std::string transform = "/augeas/load/T" + std::to_string(transforms_++);
  if (aug_set(aug_, (transform + "/lens").c_str(), lens.c_str()) < 0 ||
      aug_set(aug_, (transform + "/incl").c_str(), file.c_str()) < 0)
    fail("cannot set up the transform for " + file);
  if (aug_load_file(aug_, file.c_str()) < 0) fail("cannot load " + file);

  const std::string error = "/augeas/files" + escape_segment(file) + "/error";
  if (auto kind = get(error)) {
    const std::string message = get(error + "/message").value_or(*kind);
    const int line = std::atoi(get(error + "/line").value_or("0").c_str());
    throw Error(ErrorKind::kConfigParse, "cannot parse: " + message, Location{{}, file, line});
  }
  const std::string lens_error = transform + "/error";
  if (auto message = get(lens_error)) throw Error(ErrorKind::kInternal, "lens " + lens + ": " + *message);
}

std::vector<std::string> Augeas::match(const std::string& expression) const {
  char** matches = nullptr;
  const int n = aug_match(aug_, expression.c_str(), &matches);
  if (n < 0) fail("bad path expression " + expression);
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    out.emplace_back(matches[i]);
    std::free(matches[i]);
  }
  std::free(matches);
  return out;
}

std::optional<std::string> Augeas::get(const std::string& path) const {
  const char* value = nullptr;
  const int r = aug_get(aug_, path.c_str(), &value);
  if (r < 0) fail("cannot read " + path);
  if (r == 0 || value == nullptr) return std::nullopt;
  return std::string(value);
}

std::string Augeas::label(const std::string& path) const {
  const char* label = nullptr;
  if (aug_label(aug_, path.c_str(), &label) < 0 || label == nullptr) fail("cannot read the label of " + path);
  return label;
}

std::optional<Span> Augeas::span(const std::string& path) const {
  char* filename = nullptr;
  unsigned label_start = 0, label_end = 0, value_start = 0, value_end = 0, span_start = 0, span_end = 0;
  if (aug_span(aug_, path.c_str(), &filename, &label_start, &label_end, &value_start, &value_end, &span_start,
               &span_end) < 0)
    return std::nullopt;
  CString owned(filename);
  return Span{filename != nullptr ? filename : "", span_start, span_end};
}

void Augeas::define(const std::string& name, const std::string& expression) {
  if (aug_defvar(aug_, name.c_str(), expression.c_str()) < 0) fail("cannot bind " + expression);
}

void Augeas::set(const std::string& path, const std::optional<std::string>& value) {
  if (aug_set(aug_, path.c_str(), value ? value->c_str() : nullptr) < 0) fail("cannot set " + path);
}

void Augeas::insert(const std::string& path, const std::string& label, bool before) {
  if (aug_insert(aug_, path.c_str(), label.c_str(), before ? 1 : 0) < 0) fail("cannot insert next to " + path);
}

void Augeas::remove(const std::string& path) {
  if (aug_rm(aug_, path.c_str()) < 0) fail("cannot remove " + path);
}

void Augeas::save() {
  if (aug_save(aug_) == 0) return;
  // A put failure is recorded under /augeas/files/<file>/error.
  std::string message;
  for (const auto& error : match("/augeas//error")) {
    message += (message.empty() ? "" : "; ") + get(error).value_or("error");
    for (const char* part : {"/message", "/path", "/lens"})
      if (auto detail = get(error + part)) message += std::string(" ") + (part + 1) + "=" + *detail;
  }
  if (message.empty()) message = aug_error_message(aug_);
  throw Error(ErrorKind::kInternal, "the lens cannot write the edited tree: " + message);
}

void refuse_control_bytes(std::string_view content, const std::string& file) {
  int line = 1;
  for (const char c : content) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte == '\n') ++line;
    if (byte > 0x04) continue;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", byte);
    throw Error(ErrorKind::kConfigParse,
                std::string("the line holds the control byte ") + hex +
                    ", which the parser uses for its own (a file with it cannot be written back): remove it "
                    "(e.g. sed -i 's/\\x" +
                    (hex + 2) + "//' FILE) and run again",
                Location{{}, file, line});
  }
}

MirroredFile::MirroredFile(const std::string& content, const std::string& lens, const std::string& lens_dir,
                           const std::string& name_for_errors)
    : mirror_(make_private_dir("sshdctl-file")), node_(Augeas::file_path("/file")) {
  refuse_control_bytes(content, name_for_errors);
  added_newline_ = !content.empty() && content.back() != '\n';
  parsed_ = content + (added_newline_ ? "\n" : "");
  if (!content.empty()) {
    std::ofstream out(mirror_ + "/file", std::ios::binary);
    out << parsed_;
  }
  try {
    aug_ = std::make_unique<Augeas>(mirror_, lens_dir);
    aug_->load_file(lens, "/file");
  } catch (const Error& e) {
    aug_.reset();
    std::error_code ec;
    std::filesystem::remove_all(mirror_, ec);
    // The error names the mirror's file: name the real one instead.
    throw Error(e.kind(), e.message(), Location{{}, name_for_errors, e.where().line}).with_detail(e.detail());
  }
}

MirroredFile::~MirroredFile() {
  aug_.reset();
  std::error_code ec;
  std::filesystem::remove_all(mirror_, ec);
}

std::string MirroredFile::text() {
  aug_->save();
  std::ifstream in(mirror_ + "/file", std::ios::binary);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (added_newline_ && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace sshdctl::aug

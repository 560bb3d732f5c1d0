// An authorized_keys file through the project's lens (Sshdctl_authorized_keys.lns), read and
// edited as accounts::AuthorizedKeys does it (`sshdctl key add|remove|list`).
//
// Properties: the lens refuses the text with a parse error on a line of it, or parses it and
// renders the unchanged tree back to the same text; a key added to the tree (as
// AuthorizedKeys::add writes it) renders to a text the lens parses again, with the key last and
// the keys before it unchanged; removing the first key leaves the others.
#include <algorithm>

#include "../fuzz_support.h"
#include "../lens_text.h"
#include "sshdctl/accounts/authorized_keys.h"
#include "sshdctl/common/text.h"

namespace {

using namespace sshdctl;
using fuzz::check;
using fuzz::outcome;

// As AuthorizedKeys::keys().
std::vector<accounts::PublicKey> read_keys(const fuzz::TextLens& lens, const std::string& text) {
  std::vector<accounts::PublicKey> out;
  for (const auto& node : lens.match("/tree/key")) {
    accounts::PublicKey key;
    key.blob = lens.get(node).value_or("");
    key.type = lens.get(node + "/type").value_or("");
    key.comment = lens.get(node + "/comment").value_or("");
    for (const auto& option : lens.match(node + "/options/*"))
      key.options.push_back(accounts::KeyOption{lens.label(option), lens.get(option)});
    if (const auto start = lens.span_start(node)) key.line = text::line_of_offset(text, *start);
    out.push_back(std::move(key));
  }
  return out;
}

bool same_key(const accounts::PublicKey& a, const accounts::PublicKey& b) {
  return a.options == b.options && a.type == b.type && a.blob == b.blob && a.comment == b.comment;
}

accounts::PublicKey added_key() {
  accounts::PublicKey key;
  key.options = {{"no-pty", std::nullopt}, {"command", "/usr/bin/rsync --server -e.LsfxC . /backup"}};
  key.type = "ssh-ed25519";
  key.blob = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
  key.comment = "backup@vault";
  return key;
}

// As AuthorizedKeys::add for a key whose blob is new.
void add(fuzz::TextLens& lens, const accounts::PublicKey& key) {
  const auto set = [&](const std::string& path, const std::optional<std::string>& value) {
    if (aug_set(lens.aug(), path.c_str(), value ? value->c_str() : nullptr) < 0) fuzz::finding("cannot set " + path);
  };
  set("/tree/key[last()+1]", key.blob);
  const std::string added = "/tree/key[last()]";
  for (const auto& option : key.options) set(added + "/options/" + option.name + "[last()+1]", option.value);
  set(added + "/type", key.type);
  if (!key.comment.empty()) set(added + "/comment", key.comment);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::TextLens lens("Sshdctl_authorized_keys.lns");
  std::string text = fuzz::bytes(data, size);
  text.resize(std::min(text.size(), text.find('\0')));
  if (!text.empty() && text.back() != '\n') text += '\n';  // as MirroredFile does
  const int lines = static_cast<int>(text::lines(text).size());

  if (!lens.store(text)) {
    const auto line = lens.error_line();
    check(line.has_value(), "a refused text has a parse error");
    check(*line >= 1 && *line <= lines + 1, "the parse error names a line of the text");
    return 0;
  }
  const bool writable = !fuzz::has_tree_encoding_bytes(text);
  if (writable) {
    const auto rendered = lens.retrieve();
    check(rendered.has_value(), "a parsed tree renders");
    check(*rendered == text, "the unchanged tree renders the text it was parsed from");
  }

  const auto keys = read_keys(lens, text);
  for (const auto& key : keys) {
    check(key.line >= 1 && key.line <= lines, "a key is on a line of the text");
    (void)outcome("key_problem", [&] { (void)accounts::key_problem(key); });
    (void)outcome("key_expiry", [&] { (void)accounts::key_expiry(key); });
  }

  if (!writable) return 0;
  const auto key = added_key();
  if (std::any_of(keys.begin(), keys.end(), [&](const auto& k) { return k.blob == key.blob; })) return 0;
  add(lens, key);
  const auto edited = lens.retrieve();
  check(edited.has_value(), "the lens writes a tree with a key added");
  if (!keys.empty() && aug_rm(lens.aug(), "/tree/key[1]") < 0) fuzz::finding("cannot remove the first key");
  const auto removed = lens.retrieve();
  check(removed.has_value(), "the lens writes a tree with a key removed");

  const std::string edited_text = *edited;
  const std::string removed_text = *removed;
  check(lens.store(edited_text), "the text with a key added parses again:\n" + edited_text);
  const auto after = read_keys(lens, edited_text);
  check(after.size() == keys.size() + 1, "a key added is one key more");
  for (std::size_t i = 0; i < keys.size(); ++i) check(same_key(after[i], keys[i]), "the keys before stay as they were");
  check(same_key(after.back(), key), "the key added reads back as written");

  check(lens.store(removed_text), "the text with a key removed parses again:\n" + removed_text);
  const auto left = read_keys(lens, removed_text);
  check(left.size() == keys.size() + (keys.empty() ? 1 : 0), "removing the first key leaves the others");
  for (std::size_t i = 1; i < keys.size(); ++i) check(same_key(left[i - 1], keys[i]), "the other keys stay");
  return 0;
}

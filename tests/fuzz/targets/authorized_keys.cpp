// authorized_keys options and key lines (parse_options, parse_public_key), as `sshdctl key add
// --options` and --pubkey read them, and what is then asked of a key (key_problem,
// key_fingerprint, key_expiry).
//
// Properties: each parse gives a result or an Error; render_options(parse_options(x)) parses
// to the same options; a parsed key line written back as "options type blob comment" parses to
// the same key.
#include "sshdctl/accounts/authorized_keys.h"

#include "../fuzz_support.h"

namespace {

using namespace sshdctl;
using fuzz::check;
using fuzz::outcome;

std::string render_key(const accounts::PublicKey& key) {
  std::string line;
  if (!key.options.empty()) line = accounts::render_options(key.options) + " ";
  line += key.type + " " + key.blob;
  if (!key.comment.empty()) line += " " + key.comment;
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input = fuzz::bytes(data, size);

  std::vector<accounts::KeyOption> options;
  if (!outcome("parse_options", [&] { options = accounts::parse_options(input); })) {
    const std::string rendered = accounts::render_options(options);
    std::vector<accounts::KeyOption> again;
    if (const auto e = outcome("parse_options (rendered)", [&] { again = accounts::parse_options(rendered); }))
      fuzz::finding("rendered options do not parse: '" + rendered + "': " + e->what());
    check(again == options, "render_options(parse_options(x)) parses to the same options: '" + rendered + "'");
  }

  accounts::PublicKey key;
  if (outcome("parse_public_key", [&] { key = accounts::parse_public_key(input); })) return 0;
  (void)outcome("key_problem", [&] { (void)accounts::key_problem(key); });
  (void)outcome("key_fingerprint", [&] { (void)accounts::key_fingerprint(key); });
  (void)outcome("key_expiry", [&] { (void)accounts::key_expiry(key); });
  const std::string line = render_key(key);
  accounts::PublicKey again;
  if (const auto e = outcome("parse_public_key (rendered)", [&] { again = accounts::parse_public_key(line); }))
    fuzz::finding("a rendered key line does not parse: '" + line + "': " + e->what());
  check(
      again.options == key.options && again.type == key.type && again.blob == key.blob && again.comment == key.comment,
      "a parsed key line written back parses to the same key: '" + line + "'");
  return 0;
}

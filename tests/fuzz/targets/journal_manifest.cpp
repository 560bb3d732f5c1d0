// The journal's manifests (/var/lib/sshdctl/changes/ID/manifest, read by history, show-change,
// revert and the recovery of unfinished change sets; on a remote target its bytes come back
// through the root shell): txn::parse_manifest and txn::render_manifest.
//
// Properties: parse_manifest gives a change set or an Error naming a line; a parsed change set
// renders to a manifest that parses to the same change set, and rendering that again gives the
// same text (render is a fixed point after one parse).
#include "../fuzz_support.h"
#include "sshdctl/txn/journal.h"

namespace {

using namespace sshdctl;

// The mode is compared as the manifest writes it, four octal digits: parse_manifest keeps any
// number (0100644 from a hand-edited or foreign manifest), render_manifest writes its 07777 bits
// (tests/fuzz/README.md, observation 4).
bool same_file(const txn::FileRecord& a, const txn::FileRecord& b) {
  return a.path == b.path && (a.info.mode & 07777) == (b.info.mode & 07777) && a.info.uid == b.info.uid &&
         a.info.gid == b.info.gid && a.before_sha == b.before_sha && a.after_sha == b.after_sha;
}

std::string differs(const txn::ChangeSet& a, const txn::ChangeSet& b) {
  if (a.id != b.id) return "id";
  if (a.verb != b.verb) return "verb";
  if (a.who != b.who) return "who";
  if (a.when != b.when) return "when";
  if (a.reason != b.reason) return "reason";
  if (a.reverts != b.reverts) return "reverts";
  if (a.rollout != b.rollout) return "rollout";
  if (a.service != b.service) return "service";
  if (a.files.size() != b.files.size()) return "the number of files";
  for (std::size_t i = 0; i < a.files.size(); ++i)
    if (!same_file(a.files[i], b.files[i])) return "file " + std::to_string(i);
  return {};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = fuzz::bytes(data, size);
  txn::ChangeSet set;
  if (const auto e = fuzz::outcome("parse_manifest", [&] { set = txn::parse_manifest(text); })) {
    if (e->kind() != ErrorKind::kBadInput) fuzz::finding(std::string("not a bad-input error: ") + e->what());
    fuzz::check(e->message().rfind("journal manifest line ", 0) == 0,
                std::string("the error names a line: ") + e->what());
    return 0;
  }
  const std::string rendered = txn::render_manifest(set);
  txn::ChangeSet again;
  if (const auto e = fuzz::outcome("parse_manifest (rendered)", [&] { again = txn::parse_manifest(rendered); }))
    fuzz::finding("a rendered manifest does not parse: " + std::string(e->what()) + "\n" + rendered);
  const std::string what = differs(set, again);
  fuzz::check(what.empty(), "render then parse keeps the change set; " + what + " differs:\n" + rendered);
  fuzz::check(txn::render_manifest(again) == rendered, "render(parse(render(x))) == render(x)");
  return 0;
}

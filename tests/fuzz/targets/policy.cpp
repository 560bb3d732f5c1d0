// Policies (`sshdctl plan|apply|audit POLICY`): fleet::parse_policy on YAML text, with key
// files relative to examples/policies (its keys/ directory).
//
// Properties: an Error is bad input naming POLICY:LINE (yaml-cpp's exceptions must not get
// through); a policy's settings name known keywords and its Match conditions parse.
//
// A policy names key files ({file: PATH}) that parse_policy reads: inputs that could name a
// device, a FIFO or a file outside the examples (/dev/zero would never end) are skipped: those
// with a `file` key and a backslash escape, "..", or a word of such a path.
#include "sshdctl/fleet/policy.h"

#include <array>
#include <string_view>

#include "../fuzz_support.h"
#include "sshdctl/config/plan.h"

namespace {

bool may_name_a_special_file(std::string_view text) {
  if (text.find("file") == std::string_view::npos) return false;  // no key file is read
  static constexpr std::array<std::string_view, 9> kWords{"\\", "..", "dev", "proc", "sys", "run", "tmp", "mnt", "fd"};
  for (const auto word : kWords)
    if (text.find(word) != std::string_view::npos) return true;
  return text.find('\0') != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sshdctl;
  const std::string text = fuzz::bytes(data, size);
  if (may_name_a_special_file(text)) return 0;
  const std::string source = "fuzz/policy.yml";
  fleet::Policy policy;
  if (const auto e =
          fuzz::outcome("parse_policy", [&] { policy = fleet::parse_policy(text, source, SSHDCTL_FUZZ_POLICY_DIR); })) {
    if (e->kind() != ErrorKind::kBadInput) fuzz::finding(std::string("not a bad-input error: ") + e->what());
    fuzz::check(e->message().rfind(source + ":", 0) == 0, std::string("the error names the policy: ") + e->what());
    return 0;
  }
  fuzz::check(policy.source == source, "the policy names its file");
  fuzz::check(policy.window_s >= 0, "a window is not negative");
  for (const auto& s : policy.sshd) fuzz::check(s.key.keyword != nullptr, "a setting names a known keyword");
  for (const auto& m : policy.matches) {
    if (const auto e = fuzz::outcome("parse_criteria", [&] { (void)config::parse_criteria(m.condition); }))
      fuzz::finding("a condition the policy took does not parse: " + m.condition);
    for (const auto& s : m.settings) fuzz::check(s.key.keyword != nullptr, "a Match setting names a known keyword");
  }
  return 0;
}

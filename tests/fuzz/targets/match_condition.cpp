// Match conditions (`--match "User root Address 10.0.0.0/8"`, policy `condition:`) and their
// evaluation for a connection, as sshd's match_cfg_line does it.
//
// Input: NUL-separated fields: condition, user, groups (comma list), host, address, local
// address, local port, rdomain. A missing field is an unknown detail of the connection.
//
// Properties: parse_criteria gives criteria or an Error; the criteria written back as a
// condition (MatchBlock::condition_text) parse to the same criteria; with every detail known,
// only a criterion sshdctl does not model can answer "maybe"; with none known, no criterion but
// "all" answers yes; a text matches itself as a pattern.
#include "../fuzz_support.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/match.h"
#include "sshdctl/config/model.h"
#include "sshdctl/config/plan.h"

namespace {

using namespace sshdctl;
using fuzz::check;
using fuzz::outcome;

bool modelled(const config::Criterion& c) {
  for (const char* name : {"all", "user", "group", "host", "address", "localaddress", "localport", "rdomain"})
    if (text::iequals(c.name, name)) return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fuzz::Fields in(data, size);
  const std::string condition = in.field(0);

  config::Connection conn;
  conn.user = in.optional(1);
  if (in.present(2)) conn.groups = text::split(in.field(2), ',');
  conn.host = in.optional(3);
  conn.addr = in.optional(4);
  conn.laddr = in.optional(5);
  conn.lport = in.optional(6);
  conn.rdomain = in.optional(7);
  const bool all_known = in.present(7);

  // The raw matchers, on any text.
  for (std::size_t i = 1; i < in.size(); ++i) {
    const std::string subject = in.field(i);
    (void)config::pattern_list_match(subject, condition, false);
    (void)config::pattern_list_match(subject, condition, true);
    (void)config::address_list_match(subject, condition);
    check(config::wildcard_match(subject, subject, false), "a text matches itself as a pattern");
    check(config::wildcard_match(subject, "*", true), "'*' matches any text");
  }

  config::MatchBlock block;
  if (outcome("parse_criteria", [&] { block.criteria = config::parse_criteria(condition); })) return 0;
  check(!block.criteria.empty(), "a parsed condition has a criterion");

  const std::string written = block.condition_text();
  std::vector<config::Criterion> again;
  if (const auto e = outcome("parse_criteria (written)", [&] { again = config::parse_criteria(written); }))
    fuzz::finding("a condition written back does not parse: '" + written + "': " + e->what());
  check(config::same_criteria(again, block.criteria), "a condition written back parses to the same: '" + written + "'");

  bool all_modelled = true;
  for (const auto& c : block.criteria) {
    const auto answer = config::evaluate_criterion(c, conn);
    if (!modelled(c)) all_modelled = false;
    if (all_known && modelled(c)) check(answer != config::Tri::kMaybe, "a known connection gets yes or no: " + c.name);
    const auto unknown = config::evaluate_criterion(c, config::Connection{});
    if (!text::iequals(c.name, "all"))
      check(unknown != config::Tri::kYes, "an unknown detail is never a yes: " + c.name);
  }
  const auto answer = config::evaluate_block(block, conn);
  if (all_known && all_modelled) check(answer != config::Tri::kMaybe, "a known connection gets yes or no");
  return 0;
}

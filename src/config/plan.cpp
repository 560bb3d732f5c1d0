#include "sshdctl/config/plan.h"

#include <algorithm>
#include <array>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"

namespace sshdctl::config {

namespace {

Location where(const Entry& entry) { return Location{{}, entry.file, entry.directive->line}; }

std::string describe(const Entry& entry) {
  return entry.directive->keyword + " " + text::join(entry.directive->args, " ");
}

Edit replace(const Entry& entry, const std::vector<std::string>& values) {
  return Edit{Edit::Kind::kReplace, entry.directive->path, entry.file, {entry.directive->keyword, values}, {}, {}};
}

Edit remove(const Entry& entry) {
  return Edit{Edit::Kind::kRemove, entry.directive->path, entry.file, {entry.directive->keyword, {}}, {}, {}};
}

Edit insert_global(const Model& model, const Setting& setting) {
  const std::string file = is_vendor_file(model.main_file) ? kOverrideDropIn : model.main_file;
  return Edit{Edit::Kind::kInsertGlobal, {}, file, setting, {}, {}};
}

// Each line once: a file included twice (by two Include lines) puts its lines into the model
// twice, as sshd reads them twice, but one edit of the line serves both.
std::vector<const Entry*> distinct_lines(const std::vector<const Entry*>& entries) {
  std::vector<const Entry*> out;
  for (const Entry* e : entries)
    if (std::none_of(out.begin(), out.end(), [&](const Entry* o) { return o->directive == e->directive; }))
      out.push_back(e);
  return out;
}

// The other lines a new value must also replace to decide, given the lines that set the
// keyword where the winner is, in sshd's order: for kNoneOverrides and a value other than
// "none", the first line and every "none" line (each overrides a time); for kFirstPerPart and
// a value without an interval (RekeyLimit 1G), every later line that gives one (it would).
std::vector<const Entry*> also_replace(const OptionKey& key, const std::vector<const Entry*>& lines,
                                       const Entry& winner, const std::vector<std::string>& wanted) {
  std::vector<const Entry*> out;
  const Keyword& kw = *key.keyword;
  if (kw.combine == Combine::kNoneOverrides && !overrides_earlier(kw, wanted)) {
    for (std::size_t i = 0; i < lines.size(); ++i)
      if (lines[i]->directive != winner.directive && (i == 0 || overrides_earlier(kw, option_values(*lines[i], key))))
        out.push_back(lines[i]);
  } else if (kw.combine == Combine::kFirstPerPart && (wanted.size() < 2 || text::unquote(wanted[1]) == "none")) {
    for (const Entry* e : lines) {
      const auto v = option_values(*e, key);
      if (e->directive != winner.directive && v.size() > 1 && text::unquote(v[1]) != "none") out.push_back(e);
    }
  }
  return distinct_lines(out);
}

void note_ignored(Plan& plan, const Effective& eff) {
  if (eff.sources.empty()) return;
  const Entry& winner = *eff.sources.front();
  const Keyword& kw = *option_of(winner.directive->keyword);
  const bool last = kw.combine == Combine::kLastWins;
  const bool none = kw.combine == Combine::kNoneOverrides && overrides_earlier(kw, eff.values);
  const auto why = [&](const Entry& e) -> std::string {
    if (eff.from_match && e.context < 0) return "the 'Match all' block's value overrides it";
    if (none) return "sshd takes a 'none' over any other value";
    return last ? "sshd uses the last value" : "sshd uses the first value";
  };
  for (const Entry* e : distinct_lines(eff.ignored))
    if (e->directive != winner.directive)
      plan.notes.push_back(
          {where(*e), "'" + describe(*e) + "' has no effect: " + why(*e) + ", " + where(winner).str()});
}

void note_match_overrides(Plan& plan, const Model& model, const std::vector<const Entry*>& lines) {
  for (const Entry* e : lines) {
    const auto& block = *model.contexts[static_cast<std::size_t>(e->context)].block;
    plan.notes.push_back({where(*e), "'Match " + block.condition_text() + "' sets '" + describe(*e) +
                                         "' for the connections it matches"});
  }
}

std::vector<const Entry*> lines_in_context(const Model& model, int context, const OptionKey& key) {
  std::vector<const Entry*> out;
  for (const auto& entry : model.entries)
    if (entry.context == context && sets_option(entry, key)) out.push_back(&entry);
  return out;
}

int find_block(const Model& model, const std::vector<Criterion>& criteria) {
  for (std::size_t c = 0; c < model.contexts.size(); ++c) {
    const auto& context = model.contexts[c];
    if (context.parent < 0 && !is_vendor_file(context.file) && same_criteria(context.block->criteria, criteria))
      return static_cast<int>(c);
  }
  return -1;
}

bool is_removed_path(const std::vector<const Entry*>& removed, const std::string& path) {
  return std::any_of(removed.begin(), removed.end(), [&](const Entry* e) { return e->directive->path == path; });
}

void require_editable(const Entry& entry) {
  if (is_vendor_file(entry.file))
    throw Error(ErrorKind::kUnsupported,
                "'" + describe(entry) + "' is in a vendor file, which sshdctl does not edit; override it from /etc",
                where(entry));
}

// Refuses an edit of `entry`'s line where sshd reads that line in more than one place (its file
// included more than once) and one edit cannot be right: the line is also read inside a Match
// block (a global edit would change that block too), or, with `counts_each`, each reading adds
// its value (an accumulating keyword: the new value would count as often).
void require_read_once(const Model& model, const Entry& entry, bool counts_each) {
  std::size_t readings = 0;
  bool in_block = false;
  for (const auto& e : model.entries) {
    if (e.directive != entry.directive) continue;
    ++readings;
    in_block = in_block || !is_baseline_context(model, e.context);
  }
  if (readings < 2) return;
  if (in_block)
    throw Error(ErrorKind::kUnsupported,
                "'" + describe(entry) +
                    "' is read by sshd outside a Match block and again inside one (its file is included in "
                    "both places): this edit would change that block too; edit " +
                    entry.file + " by hand, or use --match for the block",
                where(entry));
  if (counts_each)
    throw Error(ErrorKind::kUnsupported,
                "'" + describe(entry) + "' is read by sshd " + std::to_string(readings) +
                    " times (its file is included more than once), so a value written there would count " +
                    std::to_string(readings) + " times; include " + entry.file + " once, or edit it by hand",
                where(entry));
}

}  // namespace

void Plan::append(Plan other) {
  edits.insert(edits.end(), other.edits.begin(), other.edits.end());
  notes.insert(notes.end(), other.notes.begin(), other.notes.end());
}

bool is_vendor_file(const std::string& file) { return file.rfind("/usr/", 0) == 0; }

std::vector<Criterion> parse_criteria(const std::string& condition) {
  static constexpr std::array<std::string_view, 8> kKnown{"User",      "Group",   "Host",    "LocalAddress",
                                                          "LocalPort", "RDomain", "Address", "Invalid-User"};
  const auto words = text::split_words(condition);
  if (words.size() == 1 && text::iequals(words[0], "all")) return {Criterion{"all", ""}};
  if (words.empty() || words.size() % 2 != 0)
    throw Error(ErrorKind::kBadInput,
                "a Match condition is pairs of criterion and patterns, e.g. \"User root\" or "
                "\"User admin Address 10.0.0.0/8\", or \"all\"; got \"" +
                    condition + "\"");
  std::vector<Criterion> criteria;
  for (std::size_t i = 0; i < words.size(); i += 2) {
    const auto known = std::find_if(kKnown.begin(), kKnown.end(), [&](auto k) { return text::iequals(k, words[i]); });
    if (known == kKnown.end())
      throw Error(ErrorKind::kBadInput, "unknown Match criterion '" + words[i] +
                                            "'; allowed: User, Group, Host, LocalAddress, LocalPort, RDomain, "
                                            "Address, all");
    criteria.push_back(Criterion{std::string(*known), words[i + 1]});
  }
  return criteria;
}

bool same_criteria(const std::vector<Criterion>& a, const std::vector<Criterion>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!text::iequals(a[i].name, b[i].name) || text::unquote(a[i].patterns) != text::unquote(b[i].patterns))
      return false;
  return true;
}

std::vector<Criterion> root_block_criteria() { return {Criterion{"User", "root"}}; }

Plan plan_set(const Model& model, const OptionKey& key, const std::vector<std::string>& values) {
  Plan plan;
  const Keyword& kw = *key.keyword;
  const Effective eff = resolve_global(model, key);
  const auto wanted = value_words(key, values);
  const Setting setting{std::string(kw.name), values};

  if (!eff.sources.empty() && same_values(kw, eff.values, wanted)) {
    note_ignored(plan, eff);
    note_match_overrides(plan, model, eff.uncertain);
    return plan;
  }
  const auto sources = distinct_lines(eff.sources);
  if (kw.combine == Combine::kAccumulate && kw.shape == Shape::kScalar && values.size() > 1) {
    // Port, ListenAddress, HostKey, HostCertificate: one value a line. The lines there are take
    // the values in order; more values get new lines, fewer leave the rest removed.
    for (const Entry* e : sources) {
      require_editable(*e);
      require_read_once(model, *e, true);
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i < sources.size())
        plan.edits.push_back(replace(*sources[i], {values[i]}));
      else
        plan.edits.push_back(insert_global(model, Setting{std::string(kw.name), {values[i]}}));
    }
    for (std::size_t i = values.size(); i < sources.size(); ++i) {
      plan.edits.push_back(remove(*sources[i]));
      plan.notes.push_back({where(*sources[i]), "removed '" + describe(*sources[i]) + "': " + std::string(kw.name) +
                                                    " now has only the new values"});
    }
  } else if (sources.empty()) {
    plan.edits.push_back(insert_global(model, setting));
  } else if (kw.combine == Combine::kAccumulate) {
    for (const Entry* e : sources) {
      require_editable(*e);
      require_read_once(model, *e, true);
    }
    plan.edits.push_back(replace(*sources.front(), values));
    for (std::size_t i = 1; i < sources.size(); ++i) {
      plan.edits.push_back(remove(*sources[i]));
      plan.notes.push_back({where(*sources[i]), "removed '" + describe(*sources[i]) + "': " + std::string(kw.name) +
                                                    " now has only the new values"});
    }
  } else {
    const Entry& winner = *eff.sources.front();
    // Where the winner is (the 'Match all' blocks, or the lines outside blocks), in sshd's order.
    std::vector<const Entry*> decided = eff.sources;
    for (const Entry* e : eff.ignored)
      if ((e->context >= 0) == (winner.context >= 0)) decided.push_back(e);
    std::sort(decided.begin(), decided.end());  // entries are one vector, in sshd's order
    const auto others = also_replace(key, decided, winner, wanted);
    const bool none_wins = kw.combine == Combine::kNoneOverrides && !others.empty();
    if (is_vendor_file(winner.file) && (kw.combine == Combine::kLastWins || winner.context >= 0 || !others.empty()))
      // A line in the drop-in, read before the vendor file's, would lose to it.
      throw Error(ErrorKind::kUnsupported,
                  std::string(kw.name) + " is decided by this line of a vendor file (" +
                      (winner.context >= 0 ? "a 'Match all' block"
                       : none_wins         ? "its 'none' overrides any time"
                       : !others.empty()   ? "a later line gives the interval"
                                           : "its last line wins") +
                      "), which an override from " + kOverrideDropIn +
                      " cannot beat; copy the vendor file to /etc/ssh and edit it there",
                  where(winner));
    if (is_vendor_file(winner.file)) {
      plan.edits.push_back(Edit{Edit::Kind::kInsertGlobal, {}, kOverrideDropIn, setting, {}, {}});
      plan.notes.push_back(
          {where(winner), "vendor file left as it is; overridden from " + std::string(kOverrideDropIn)});
    } else {
      require_read_once(model, winner, false);
      plan.edits.push_back(replace(winner, values));
      for (const Entry* e : others) {
        require_editable(*e);
        require_read_once(model, *e, false);
        plan.edits.push_back(replace(*e, values));
        plan.notes.push_back({where(*e), "replaced '" + describe(*e) + "' too: " + std::string(kw.name) +
                                             (kw.combine == Combine::kFirstPerPart
                                                  ? " takes its interval from the first line that gives one"
                                                  : " takes a 'none' line, or else the first line, over any other")});
      }
    }
    if (others.empty()) note_ignored(plan, eff);  // else each line that could win was replaced
  }
  note_match_overrides(plan, model, eff.uncertain);
  return plan;
}

Plan plan_unset(const Model& model, const OptionKey& key) {
  Plan plan;
  const Effective eff = resolve_global(model, key);
  std::vector<const Entry*> lines = eff.sources;
  lines.insert(lines.end(), eff.ignored.begin(), eff.ignored.end());
  for (const Entry* e : distinct_lines(lines)) {
    require_editable(*e);
    require_read_once(model, *e, false);
    plan.edits.push_back(remove(*e));
  }
  note_match_overrides(plan, model, eff.uncertain);
  return plan;
}

Plan plan_set_in_block(const Model& model, const OptionKey& key, const std::vector<std::string>& values,
                       const std::vector<Criterion>& criteria) {
  Plan plan;
  const Keyword& kw = *key.keyword;
  const Setting setting{std::string(kw.name), values};
  const int block = find_block(model, criteria);
  if (block < 0) {
    const std::string file = is_vendor_file(model.main_file) ? kOverrideDropIn : model.main_file;
    plan.edits.push_back(Edit{Edit::Kind::kNewBlock, {}, file, {}, criteria, {setting}});
    return plan;
  }
  const auto& context = model.contexts[static_cast<std::size_t>(block)];
  const auto lines = lines_in_context(model, block, key);
  if (lines.empty()) {
    plan.edits.push_back(Edit{Edit::Kind::kAppendToBlock, context.block->path, context.file, setting, {}, {}});
    return plan;
  }
  const bool last = kw.combine == Combine::kLastWins;
  const Entry* decides = last ? lines.back() : lines.front();
  for (const Entry* e : lines)  // kNoneOverrides: the first "none", if any
    if (kw.combine == Combine::kNoneOverrides && overrides_earlier(kw, option_values(*e, key))) {
      decides = e;
      break;
    }
  const Entry& winner = *decides;
  std::vector<std::string> current;
  for (const Entry* e : lines) {
    if (kw.combine != Combine::kAccumulate && e != &winner) continue;
    const auto v = option_values(*e, key);
    current.insert(current.end(), v.begin(), v.end());
  }
  if (same_values(kw, current, value_words(key, values)) && (kw.combine != Combine::kAccumulate || lines.size() == 1))
    return plan;
  const auto others = also_replace(key, lines, winner, value_words(key, values));
  plan.edits.push_back(replace(winner, values));
  for (const Entry* e : others) plan.edits.push_back(replace(*e, values));
  for (const Entry* e : lines) {
    if (e == &winner || std::find(others.begin(), others.end(), e) != others.end()) continue;
    if (kw.combine == Combine::kAccumulate) {
      plan.edits.push_back(remove(*e));
    } else {
      plan.notes.push_back({where(*e), "'" + describe(*e) + "' has no effect: the " + (last ? "last" : "first") +
                                           " value in the block wins"});
    }
  }
  return plan;
}

Plan plan_unset_in_block(const Model& model, const OptionKey& key, const std::vector<Criterion>& criteria) {
  Plan plan;
  const int block = find_block(model, criteria);
  if (block < 0) return plan;
  const auto& context = model.contexts[static_cast<std::size_t>(block)];
  const auto lines = lines_in_context(model, block, key);
  if (lines.empty()) return plan;
  if (lines.size() == context.block->settings.size()) {
    plan.edits.push_back(Edit{Edit::Kind::kRemove, context.block->path, context.file, {}, {}, {}});
    plan.notes.push_back({Location{{}, context.file, context.block->line},
                          "removed the block 'Match " + context.block->condition_text() + "': nothing was left in it"});
    return plan;
  }
  for (const Entry* e : lines) plan.edits.push_back(remove(*e));
  return plan;
}

Plan plan_root_login(const Model& model, const RootLoginRequest& request) {
  Plan plan;
  Connection root;
  root.user = "root";
  root.groups = request.root_groups;

  const OptionKey permit{find_keyword("PermitRootLogin"), {}};
  const OptionKey password{find_keyword("PasswordAuthentication"), {}};
  const bool has_lead = !model.contexts.empty() && model.contexts[0].parent < 0 &&
                        !is_vendor_file(model.contexts[0].file) &&
                        same_criteria(model.contexts[0].block->criteria, root_block_criteria());
  const int lead = has_lead ? 0 : -1;
  std::vector<const Entry*> removed;
  const auto is_removed = [&](const Entry& e) {
    return std::find(removed.begin(), removed.end(), &e) != removed.end();
  };

  // disable: drop the root block's password override and its permissive PermitRootLogin.
  if (!request.enable && has_lead) {
    for (const Entry* e : lines_in_context(model, lead, password)) removed.push_back(e);
    for (const Entry* e : lines_in_context(model, lead, permit))
      if (!same_values(*permit.keyword, option_values(*e, permit), {"no"})) removed.push_back(e);
  }

  struct Wanted {
    const OptionKey* key;
    std::string value;
    std::string fallback;  // sshd's default
    bool global_ok;        // may the global line change? (not for a root-only override)
  };
  std::vector<Wanted> wanted;
  if (request.enable) {
    wanted.push_back({&permit, request.permit, "prohibit-password", true});
    if (request.password) wanted.push_back({&password, "yes", "yes", false});
  } else {
    wanted.push_back({&permit, "no", "prohibit-password", true});
  }

  std::vector<Setting> overrides;
  bool new_block = !has_lead;
  for (const auto& w : wanted) {
    const Keyword& kw = *w.key->keyword;
    const Deciders d = possible_deciders(model, *w.key, root, is_removed);
    bool lines_conflict = false;
    for (const Entry* e : d.lines) {
      if (same_values(kw, option_values(*e, *w.key), {w.value})) continue;
      lines_conflict = true;
      // The root block itself says otherwise: leave its line alone, put a block before it.
      if (e->context == lead) new_block = true;
    }
    auto global = resolve_global(model, *w.key).values;
    if (global.empty()) global = {w.fallback};
    const bool global_conflicts = d.global && !same_values(kw, global, {w.value});
    if (!lines_conflict && !global_conflicts) continue;
    if (!lines_conflict && w.global_ok) {
      plan.append(plan_set(model, *w.key, {w.value}));
    } else {
      overrides.push_back({std::string(kw.name), {w.value}});
    }
  }

  for (const Entry* e : removed) plan.edits.push_back(remove(*e));
  const bool lead_emptied = has_lead && !removed.empty() && removed.size() == model.contexts[0].block->settings.size();
  if (lead_emptied && overrides.empty()) {
    // Nothing is left in the root block: remove the block rather than leave it empty.
    std::erase_if(plan.edits,
                  [&](const Edit& e) { return e.kind == Edit::Kind::kRemove && is_removed_path(removed, e.path); });
    plan.edits.push_back(Edit{Edit::Kind::kRemove, model.contexts[0].block->path, model.contexts[0].file, {}, {}, {}});
  }
  if (overrides.empty()) return plan;

  if (!new_block) {
    for (const auto& s : overrides)
      plan.edits.push_back(
          Edit{Edit::Kind::kAppendToBlock, model.contexts[0].block->path, model.contexts[0].file, s, {}, {}});
  } else if (!model.contexts.empty()) {
    const auto& first = model.contexts[0];
    if (is_vendor_file(first.file))
      throw Error(ErrorKind::kUnsupported,
                  "the first Match block is in a vendor file; sshdctl cannot place a 'Match User root' block "
                  "before it",
                  Location{{}, first.file, first.block->line});
    plan.edits.push_back(
        Edit{Edit::Kind::kNewBlock, first.block->path, first.file, {}, root_block_criteria(), overrides});
    plan.notes.push_back({Location{{}, first.file, first.block->line},
                          "added 'Match User root' before this block, so it is the first block that matches root"});
  } else {
    const std::string file = is_vendor_file(model.main_file) ? kOverrideDropIn : model.main_file;
    plan.edits.push_back(Edit{Edit::Kind::kNewBlock, {}, file, {}, root_block_criteria(), overrides});
  }
  return plan;
}

void require_set_effective(const Model& edited, const OptionKey& key, const std::vector<std::string>& values,
                           const std::string& where) {
  const auto eff = resolve_global(edited, key);
  if (same_values(*key.keyword, eff.values, value_words(key, values))) return;
  std::string what(key.keyword->name);
  if (!key.subsystem.empty()) what += " " + key.subsystem;
  throw Error(ErrorKind::kUnsupported, (where.empty() ? "" : where + ": ") + "the edit would not make " + what +
                                           " effective (sshd would use '" + text::join(eff.values, " ") +
                                           "'); nothing was changed");
}

void require_unset_effective(const Model& edited, const OptionKey& key) {
  const auto eff = resolve_global(edited, key);
  if (eff.sources.empty()) return;
  const Entry& left = *eff.sources.front();
  const std::string at = left.directive->line > 0 ? ":" + std::to_string(left.directive->line) : "";
  throw Error(ErrorKind::kUnsupported,
              left.file + at + ": a line for " + std::string(key.keyword->name) + " would remain; nothing was changed");
}

void require_root_login_effective(const Model& edited, const RootLoginRequest& request) {
  Connection root;
  root.user = "root";
  root.groups = request.root_groups;
  const OptionKey permit{find_keyword("PermitRootLogin"), {}};
  const OptionKey password{find_keyword("PasswordAuthentication"), {}};
  if (!certainly(edited, permit, root, request.permit, "prohibit-password"))
    throw Error(ErrorKind::kUnsupported,
                "the edit would not make PermitRootLogin " + request.permit + " certain for root; nothing was changed");
  if (request.password && !certainly(edited, password, root, "yes", "yes"))
    throw Error(ErrorKind::kUnsupported,
                "the edit would not make PasswordAuthentication yes certain for root; nothing was changed");
}

}  // namespace sshdctl::config

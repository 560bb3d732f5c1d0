#include "sshdctl/config/resolve.h"

#include <algorithm>
#include <optional>

#include "sshdctl/common/text.h"

namespace sshdctl::config {

namespace {

// kFirstPerPart: the parts a line gives (RekeyLimit's interval "none" is none).
std::vector<std::string> parts_of(std::vector<std::string> values) {
  if (values.size() > 1 && text::unquote(values[1]) == "none") values.resize(1);  // case-sensitive, as sshd
  return values;
}

// kFirstPerPart: the interval of `parts` (a later line's, or the global lines' under a block
// that gives none) where the lines before left it unset. True if it was taken.
bool take_missing_part(Effective& result, const std::vector<std::string>& parts, const Entry* from) {
  if (result.values.size() != 1 || parts.size() < 2) return false;
  result.values.push_back(parts[1]);
  result.sources.push_back(from);
  return true;
}

// MaxStartups: a line of one number sets start and full only (servconf.c: sscanf reads one
// field), so the rate of the line before stays: "N:RATE:N" where that line gives a rate.
std::optional<std::string> keeps_startups_rate(const Keyword& keyword, const std::vector<std::string>& before,
                                               const std::vector<std::string>& now) {
  if (keyword.name != "MaxStartups" || before.size() != 1 || now.size() != 1) return std::nullopt;
  const auto number = text::unquote(now[0]);
  const auto parts = text::split(text::unquote(before[0]), ':');
  if (number.find(':') != std::string::npos || parts.size() != 3) return std::nullopt;
  return number + ":" + parts[1] + ":" + number;
}

// Collects the effective value over the entries accepted by `active`.
template <typename Active>
Effective collect(const Model& model, const OptionKey& key, Active active) {
  Effective result;
  const bool accumulates = key.keyword->combine == Combine::kAccumulate;
  const bool per_part = key.keyword->combine == Combine::kFirstPerPart;
  for (const auto& entry : model.entries) {
    if (!sets_option(entry, key) || !active(entry)) continue;
    if (per_part) {
      const auto parts = parts_of(option_values(entry, key));
      if (result.sources.empty()) {
        result.values = parts;
        result.sources.push_back(&entry);
      } else if (!take_missing_part(result, parts, &entry)) {
        result.ignored.push_back(&entry);
      }
      continue;
    }
    if (result.sources.empty() || accumulates) {
      const auto values = option_values(entry, key);
      result.values.insert(result.values.end(), values.begin(), values.end());
      result.sources.push_back(&entry);
    } else if (auto values = option_values(entry, key);
               overrides_earlier(*key.keyword, values) &&
               // a second "none" changes nothing: the first stays the line that decides
               (key.keyword->combine != Combine::kNoneOverrides || !overrides_earlier(*key.keyword, result.values))) {
      if (auto composed = keeps_startups_rate(*key.keyword, result.values, values)) {
        // This line decides start and full (the first source), the line that gave the rate
        // stays the second; a one-number line between them has no effect.
        const Entry* rate = result.sources.back();
        if (result.sources.size() > 1) result.ignored.push_back(result.sources.front());
        result.sources = {&entry, rate};
        result.values = {std::move(*composed)};
      } else {
        result.ignored.insert(result.ignored.end(), result.sources.begin(), result.sources.end());
        result.sources = {&entry};
        result.values = std::move(values);
      }
    } else {
      result.ignored.push_back(&entry);
    }
  }
  return result;
}

}  // namespace

namespace {

// A comma list is the same list whether its items come as one word ("a,b", as typed) or as
// one word per item (as the lens stores them).
std::vector<std::string> comma_items(const std::vector<std::string>& words) {
  std::vector<std::string> items;
  for (const auto& w : words)
    for (auto& item : text::split(text::unquote(w), ','))
      if (!item.empty()) items.push_back(std::move(item));
  return items;
}

}  // namespace

bool overrides_earlier(const Keyword& keyword, const std::vector<std::string>& values) {
  if (keyword.combine == Combine::kLastWins) return true;
  return keyword.combine == Combine::kNoneOverrides && values.size() == 1 &&
         text::iequals(text::unquote(values[0]), "none");
}

namespace {

// MaxStartups start:rate:full, one number N meaning N:-:N. sshd never uses the rate when start
// equals full (a connection past start is past full: sshd.c, should_drop_connection), so such
// values are the same whatever their rates; else an unset rate is the default, 30.
bool same_startups(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  const auto fields = [](const std::vector<std::string>& v) {
    auto parts = text::split(text::unquote(text::join(v, " ")), ':');
    if (parts.size() == 1) parts = {parts[0], "30", parts[0]};
    return parts;
  };
  const auto x = fields(a);
  const auto y = fields(b);
  if (x.size() != 3 || y.size() != 3) return x == y;
  return x[0] == y[0] && x[2] == y[2] && (x[0] == x[2] || x[1] == y[1]);
}

}  // namespace

bool same_values(const Keyword& keyword, const std::vector<std::string>& a, const std::vector<std::string>& b) {
  if (keyword.shape == Shape::kCommaList) return comma_items(a) == comma_items(b);
  if (keyword.name == "MaxStartups" && !a.empty() && !b.empty()) return same_startups(a, b);
  // sshd keeps such a value as written (no unquoting); words given apart are written joined by
  // one space.
  if (takes_rest_of_line(keyword.name)) return text::join(a, " ") == text::join(b, " ");
  if (a.size() != b.size()) return false;
  const bool fold = keyword.grammar == Grammar::kYesNo || keyword.grammar == Grammar::kEnum;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = text::unquote(a[i]);
    const auto y = text::unquote(b[i]);
    if (fold ? !text::iequals(x, y) : x != y) return false;
  }
  return true;
}

const Keyword* option_of(std::string_view written) {
  if (text::iequals(written, "ChallengeResponseAuthentication")) return find_keyword("KbdInteractiveAuthentication");
  if (text::iequals(written, "PubkeyAcceptedKeyTypes")) return find_keyword("PubkeyAcceptedAlgorithms");
  if (text::iequals(written, "HostbasedAcceptedKeyTypes")) return find_keyword("HostbasedAcceptedAlgorithms");
  return find_keyword(written);
}

bool sets_option(const Entry& entry, const OptionKey& key) {
  if (option_of(entry.directive->keyword) != key.keyword) return false;
  if (key.keyword->combine != Combine::kPerSubsystem) return true;
  return !entry.directive->args.empty() && text::unquote(entry.directive->args[0]) == key.subsystem;
}

std::vector<std::string> value_words(const OptionKey& key, const std::vector<std::string>& words) {
  if (key.keyword->combine == Combine::kPerSubsystem && !words.empty())
    return std::vector<std::string>(words.begin() + 1, words.end());
  return words;
}

std::vector<std::string> option_values(const Entry& entry, const OptionKey& key) {
  if (!entry.directive->raw.empty()) return {entry.directive->raw};
  return value_words(key, entry.directive->args);
}

bool is_baseline_context(const Model& model, int context) {
  for (int c = context; c >= 0; c = model.contexts[static_cast<std::size_t>(c)].parent)
    if (!model.contexts[static_cast<std::size_t>(c)].block->is_all()) return false;
  return true;
}

namespace {

// kFirstPerPart under a block that gives no interval: sshd copies from the block only what it
// set (copy_set_server_options), so the interval of the lines outside blocks stays.
void take_global_part(const Model& model, const OptionKey& key, Effective& result) {
  if (key.keyword->combine != Combine::kFirstPerPart || result.values.size() != 1) return;
  const Effective global = collect(model, key, [](const Entry& entry) { return entry.context < 0; });
  if (global.values.size() < 2) return;
  take_missing_part(result, global.values, global.sources.back());
  std::erase(result.ignored, global.sources.back());
}

}  // namespace

Effective resolve_global(const Model& model, const OptionKey& key) {
  // sshd -T (and every connection) reads the files again with the connection's details, and a
  // matching block's value overrides the global lines' (servconf.c, copy_set_server_options):
  // a `Match all` block always matches, so its value wins over the lines before it too.
  // (A keyword sshd does not copy from blocks, as HostKey, is read from `Match all` at start
  // like a global line.)
  Effective in_all;
  if (key.keyword->match_allowed)
    in_all = collect(model, key, [&](const Entry& entry) {
      return entry.context >= 0 && is_baseline_context(model, entry.context);
    });
  Effective result;
  if (!in_all.sources.empty()) {
    result = std::move(in_all);
    result.from_match = true;
    for (const auto& entry : model.entries)
      if (entry.context < 0 && sets_option(entry, key)) result.ignored.push_back(&entry);
    take_global_part(model, key, result);
  } else {
    result = collect(model, key, [&](const Entry& entry) { return is_baseline_context(model, entry.context); });
  }
  for (const auto& entry : model.entries)
    if (entry.context >= 0 && !is_baseline_context(model, entry.context) && sets_option(entry, key))
      result.uncertain.push_back(&entry);
  return result;
}

Effective resolve_for(const Model& model, const OptionKey& key, const Connection& conn, Unknown unknown) {
  // Only the keywords allowed in blocks are taken from the blocks that match a connection.
  if (!key.keyword->match_allowed) return resolve_global(model, key);
  std::vector<const Entry*> uncertain;
  Effective in_match = collect(model, key, [&](const Entry& entry) {
    if (entry.context < 0) return false;
    const Tri t = evaluate_context(model, entry.context, conn);
    if (t == Tri::kMaybe) {
      uncertain.push_back(&entry);
      return unknown == Unknown::kAssume;
    }
    return t == Tri::kYes;
  });
  Effective result;
  if (!in_match.sources.empty()) {
    result = std::move(in_match);
    result.from_match = true;
    // The global lines lose too.
    for (const auto& entry : model.entries)
      if (is_baseline_context(model, entry.context) && entry.context < 0 && sets_option(entry, key))
        result.ignored.push_back(&entry);
    take_global_part(model, key, result);
  } else {
    result = collect(model, key, [&](const Entry& entry) { return is_baseline_context(model, entry.context); });
  }
  result.uncertain = std::move(uncertain);
  return result;
}

std::vector<std::string> listen_streams(const Model& model) {
  auto ports = resolve_global(model, OptionKey{find_keyword("Port"), {}}).values;
  if (ports.empty()) ports = {"22"};
  const auto lines = resolve_global(model, OptionKey{find_keyword("ListenAddress"), {}}).sources;
  std::vector<std::string> streams;
  if (lines.empty()) return ports;
  for (const Entry* e : lines) {
    if (e->directive->args.empty()) continue;
    std::string addr = text::unquote(e->directive->args[0]);  // "host", "host:port", "[v6]:port", "v6"
    std::string port;
    if (addr.front() == '[') {
      const auto close = addr.find(']');
      if (close != std::string::npos && close + 1 < addr.size() && addr[close + 1] == ':')
        port = addr.substr(close + 2);
      addr = addr.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    } else if (std::count(addr.begin(), addr.end(), ':') == 1) {
      port = addr.substr(addr.find(':') + 1);
      addr.resize(addr.find(':'));
    }
    const bool v6 = addr.find(':') != std::string::npos;
    for (const auto& p : port.empty() ? ports : std::vector<std::string>{port})
      streams.push_back((v6 ? "[" + addr + "]" : addr) + ":" + p);
  }
  return streams;
}

Deciders possible_deciders(const Model& model, const OptionKey& key, const Connection& conn,
                           const std::function<bool(const Entry&)>& skip) {
  Deciders d;
  for (const auto& entry : model.entries) {
    if (entry.context < 0 || !sets_option(entry, key) || (skip && skip(entry))) continue;
    const Tri t = evaluate_context(model, entry.context, conn);
    if (t == Tri::kNo) continue;
    d.lines.push_back(&entry);
    if (t == Tri::kYes) {
      d.global = false;
      // A later line may still win where it overrides (any line of kLastWins, a "none" of
      // kNoneOverrides over a time); nothing overrides a "none".
      const Combine combine = key.keyword->combine;
      if (combine != Combine::kLastWins &&
          (combine != Combine::kNoneOverrides || overrides_earlier(*key.keyword, option_values(entry, key))))
        break;
    }
  }
  return d;
}

bool certainly(const Model& model, const OptionKey& key, const Connection& conn, const std::string& value,
               const std::string& fallback) {
  const Deciders d = possible_deciders(model, key, conn);
  for (const Entry* e : d.lines)
    if (!same_values(*key.keyword, option_values(*e, key), {value})) return false;
  if (!d.global) return true;
  auto global = resolve_global(model, key).values;
  if (global.empty()) global = {fallback};
  return same_values(*key.keyword, global, {value});
}

}  // namespace sshdctl::config

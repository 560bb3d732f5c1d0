// sshd_config text through the project's lens (Sshdctl_sshd.lns), then the model and the
// resolution of the values, as ConfigTree::load() and `sshdctl show` do it.
//
// Properties: the lens either refuses the text with a parse error on a line of the text, or
// parses it, and then renders the unchanged tree back to the very same text; the tree read as
// ConfigTree reads it flattens (an Include that names the file itself: a located recursion
// Error), every keyword resolves, and planning a PermitRootLogin edit gives a plan or an Error.
#include <algorithm>
#include <cctype>
#include <set>

#include "../fuzz_support.h"
#include "../lens_text.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/match.h"
#include "sshdctl/config/model.h"
#include "sshdctl/config/plan.h"
#include "sshdctl/config/resolve.h"

namespace {

using namespace sshdctl;
using fuzz::check;
using fuzz::outcome;

constexpr const char* kMain = "/etc/ssh/sshd_config";

bool is_comment(const std::string& label) { return !label.empty() && label[0] == '#'; }

bool is_number(const std::string& label) {
  return !label.empty() && std::all_of(label.begin(), label.end(), [](unsigned char c) { return std::isdigit(c); });
}

int line_of(const fuzz::TextLens& lens, const std::string& node, const std::string& text) {
  const auto start = lens.span_start(node);
  return start ? text::line_of_offset(text, *start) : 0;
}

// As ConfigTree::read_directive.
config::Directive read_directive(const fuzz::TextLens& lens, const std::string& node, const std::string& label,
                                 const std::string& text) {
  config::Directive d;
  d.keyword = label;
  d.path = node;
  d.line = line_of(lens, node, text);
  if (auto value = lens.get(node)) {
    d.args = text::split_words(*value);
    return d;
  }
  for (const auto& child : lens.match(node + "/*")) {
    const std::string name = lens.label(child);
    if (is_comment(name)) continue;
    const std::string value = lens.get(child).value_or("");
    if (is_number(name)) {
      d.args.push_back(value);
    } else {
      d.args.push_back(name);
      for (auto& word : text::split_words(value)) d.args.push_back(std::move(word));
    }
  }
  return d;
}

// As ConfigTree::read_tree.
config::FileTree read_tree(const fuzz::TextLens& lens, const std::string& text) {
  config::FileTree tree;
  tree.file = kMain;
  for (const auto& node : lens.match("/tree/*")) {
    const std::string label = lens.label(node);
    if (is_comment(label)) continue;
    if (text::iequals(label, "Match")) {
      config::MatchBlock block;
      block.path = node;
      block.line = line_of(lens, node, text);
      for (const auto& c : lens.match(node + "/Condition/*")) {
        const std::string name = lens.label(c);
        if (!is_comment(name)) block.criteria.push_back(config::Criterion{name, lens.get(c).value_or("")});
      }
      for (const auto& s : lens.match(node + "/Settings/*")) {
        const std::string keyword = lens.label(s);
        if (!is_comment(keyword)) block.settings.push_back(read_directive(lens, s, keyword, text));
      }
      tree.blocks.push_back(std::move(block));
    } else {
      tree.global.push_back(read_directive(lens, node, label, text));
    }
  }
  return tree;
}

void use_model(const config::Model& model, int lines) {
  check(model.trees.size() == model.files.size(), "one tree per file");
  std::set<const config::Keyword*> keywords;
  for (const auto& entry : model.entries) {
    check(entry.directive != nullptr, "every entry has its line");
    check(entry.directive->line >= 1 && entry.directive->line <= lines, "a keyword line is a line of the text");
    check(entry.context >= -1 && entry.context < static_cast<int>(model.contexts.size()), "entry context in range");
    if (const auto* kw = config::option_of(entry.directive->keyword)) keywords.insert(kw);
  }
  config::Connection root;
  root.user = "root";
  root.groups = std::vector<std::string>{"root", "wheel"};
  root.host = "admin.example.org";
  root.addr = "192.0.2.10";
  root.laddr = "198.51.100.1";
  root.lport = "22";
  root.rdomain = "default";
  const config::Connection unknown;
  for (const auto* kw : keywords) {
    const config::OptionKey key{kw, {}};
    (void)outcome("resolve", [&] {
      (void)config::resolve_global(model, key);
      (void)config::resolve_for(model, key, root, config::Unknown::kIgnore);
      (void)config::resolve_for(model, key, unknown, config::Unknown::kAssume);
      (void)config::possible_deciders(model, key, unknown);
    });
  }
  for (std::size_t c = 0; c < model.contexts.size(); ++c) {
    const auto known = config::evaluate_context(model, static_cast<int>(c), root);
    (void)config::is_baseline_context(model, static_cast<int>(c));
    (void)known;
  }
  (void)outcome("listen_streams", [&] { (void)config::listen_streams(model); });
  const config::OptionKey permit{config::find_keyword("PermitRootLogin"), {}};
  (void)outcome("plan_set", [&] { (void)config::plan_set(model, permit, {"yes"}); });
  (void)outcome("plan_set_in_block", [&] {
    (void)config::plan_set_in_block(model, {config::find_keyword("PasswordAuthentication"), {}}, {"no"},
                                    {config::Criterion{"User", "root"}});
  });
  (void)outcome("certainly", [&] { (void)config::certainly(model, permit, unknown, "no", "prohibit-password"); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static fuzz::TextLens lens("Sshdctl_sshd.lns");
  std::string text = fuzz::bytes(data, size);
  // Augeas reads a file as a C string; ConfigTree adds a missing final newline.
  text.resize(std::min(text.size(), text.find('\0')));
  if (!text.empty() && text.back() != '\n') text += '\n';
  const int lines = static_cast<int>(text::lines(text).size());

  if (!lens.store(text)) {
    const auto line = lens.error_line();
    check(line.has_value(), "a refused text has a parse error");
    // A line of the text, or the end of it (a block left open).
    check(*line >= 1 && *line <= lines + 1, "the parse error names a line of the text (line " + std::to_string(*line) +
                                                " of " + std::to_string(lines) + ")");
    return 0;
  }
  const bool writable = !fuzz::has_tree_encoding_bytes(text);
  if (writable) {
    const auto rendered = lens.retrieve();
    check(rendered.has_value(), "a parsed tree renders");
    check(*rendered == text, "the unchanged tree renders the text it was parsed from");
  }

  const config::FileTree tree = read_tree(lens, text);
  const auto lookup = [&](const std::string& path) -> const config::FileTree* {
    return path == kMain ? &tree : nullptr;
  };
  config::Model model;
  if (const auto e = outcome("flatten", [&] {
        model = config::flatten(kMain, lookup, [](const std::string&) { return std::vector<std::string>{}; });
      }))
    fuzz::finding(std::string("flatten without includes threw: ") + e->what());
  use_model(model, lines);
  // Every Include pattern naming the file itself: sshd's depth limit, as an Error.
  (void)outcome("flatten (recursive include)", [&] {
    const auto self =
        config::flatten(kMain, lookup, [](const std::string&) { return std::vector<std::string>{kMain}; });
    use_model(self, lines);
  });
  return 0;
}

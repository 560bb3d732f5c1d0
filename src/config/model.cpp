#include "sshdctl/config/model.h"

#include <optional>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"

namespace sshdctl::config {

namespace {

// sshd refuses Include nesting deeper than this (servconf.c SERVCONF_MAX_DEPTH).
constexpr int kMaxIncludeDepth = 16;

struct Flattener {
  const TreeLookup& lookup;
  const IncludeExpander& expand;
  Model& model;
  // The first line sshd's own first reading refuses as "not allowed within a Match block": a
  // keyword that is global only, in a block that reading leaves inactive (any but `Match all`,
  // and everything in a file included from such a block). sshd reads depth first and stops at
  // its first error, so where the nesting runs too deep, a line read before that is what it
  // names. Elsewhere sshd -t names such a line itself.
  std::optional<Error> misplaced;

  [[nodiscard]] bool first_reading_active(int context) const {
    for (; context >= 0; context = model.contexts[static_cast<std::size_t>(context)].parent)
      if (!model.contexts[static_cast<std::size_t>(context)].block->is_all()) return false;
    return true;
  }

  void directives(const std::vector<Directive>& list, const std::string& file, int context, int depth) {
    for (const auto& d : list) {
      if (text::iequals(d.keyword, "Include")) {
        for (const auto& pattern : d.args) {
          for (const auto& included : expand(include_pattern_path(text::unquote(pattern))))
            this->file(included, context, depth + 1, Location{{}, file, d.line});
        }
        continue;
      }
      if (!misplaced && context >= 0 && !first_reading_active(context))
        if (const Keyword* kw = find_keyword(d.keyword); kw != nullptr && !kw->match_allowed)
          misplaced = Error(ErrorKind::kConfigParse,
                            "Directive '" + std::string(kw->name) + "' is not allowed within a Match block",
                            Location{{}, file, d.line});
      model.entries.push_back(Entry{&d, file, context});
    }
  }

  void file(const std::string& path, int parent_context, int depth, const Location& from) {
    if (depth > kMaxIncludeDepth) {
      if (misplaced) throw *misplaced;
      throw Error(ErrorKind::kConfigParse, "Include nested too deeply (more than 16 levels)", from);
    }
    const FileTree* tree = lookup(path);
    if (tree == nullptr) return;  // a pattern that names a missing file is fine for sshd
    model.files.push_back(path);
    model.trees.push_back(tree);
    directives(tree->global, path, parent_context, depth);
    for (const auto& block : tree->blocks) {
      model.contexts.push_back(Context{&block, path, parent_context});
      directives(block.settings, path, static_cast<int>(model.contexts.size()) - 1, depth);
    }
  }
};

}  // namespace

bool MatchBlock::is_all() const { return criteria.size() == 1 && text::iequals(criteria[0].name, "all"); }

std::string MatchBlock::condition_text() const {
  std::vector<std::string> parts;
  for (const auto& c : criteria) {
    parts.push_back(c.name);
    if (!c.patterns.empty()) parts.push_back(c.patterns);
  }
  return text::join(parts, " ");
}

std::string include_pattern_path(const std::string& pattern) {
  if (!pattern.empty() && (pattern[0] == '/' || pattern[0] == '~')) return pattern;
  return "/etc/ssh/" + pattern;
}

Model flatten(const std::string& main_file, const TreeLookup& lookup, const IncludeExpander& expand) {
  Model model;
  model.main_file = main_file;
  Flattener f{lookup, expand, model, std::nullopt};
  f.file(main_file, -1, 0, {});
  return model;
}

}  // namespace sshdctl::config

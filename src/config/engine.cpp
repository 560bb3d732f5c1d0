#include "sshdctl/config/engine.h"

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "sshdctl/augeas/augeas.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/fs.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/resolve.h"

namespace fs = std::filesystem;

namespace sshdctl::config {

namespace {

constexpr const char* kLens = "Sshdctl_sshd.lns";
constexpr const char* kRemovedBlockMarker = "sshdctl-removed-block";

bool is_comment(const std::string& label) { return !label.empty() && label[0] == '#'; }

bool is_number(const std::string& label) {
  return !label.empty() && std::all_of(label.begin(), label.end(), [](unsigned char c) { return std::isdigit(c); });
}

// "Match User root\n  PasswordAuthentication yes\n\n"
std::string render_block(const std::vector<Criterion>& criteria, const std::vector<Setting>& settings) {
  std::vector<std::string> condition;
  for (const auto& c : criteria) {
    condition.push_back(c.name);
    if (!c.patterns.empty()) condition.push_back(c.patterns);
  }
  std::string out = "Match " + text::join(condition, " ") + "\n";
  for (const auto& s : settings) {
    std::vector<std::string> words;
    for (const auto& a : s.args) words.push_back(text::quote_if_needed(a));
    out += "  " + s.keyword + " " + text::join(words, " ") + "\n";
  }
  return out;
}

// Cuts the line of each block marked for removal, and the blank lines right after it.
std::string cut_marked_blocks(const std::string& text) {
  std::string out;
  bool skipping_blank = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    const std::size_t next = end == std::string::npos ? text.size() : end + 1;
    const std::string line = text.substr(pos, next - pos);
    if (line.find(kRemovedBlockMarker) != std::string::npos) {
      skipping_blank = true;
    } else if (!(skipping_blank && text::trim(line).empty())) {
      skipping_blank = false;
      out += line;
    }
    pos = next;
  }
  return out;
}

}  // namespace

std::string insert_before_first_match(const std::string& text, const std::string& block) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    const std::string word = text::lower(text::trim(line).substr(0, 6));
    if (word.size() == 6 && word.compare(0, 5, "match") == 0 && (word[5] == ' ' || word[5] == '\t' || word[5] == '='))
      return text.substr(0, pos) + block + text.substr(pos);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  std::string out = text;
  if (!out.empty() && out.back() != '\n') out += '\n';
  return out + block;
}

std::string default_lens_dir() {
  if (const char* env = std::getenv("SSHDCTL_LENS_DIR"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path().parent_path() / "share/sshdctl/lenses";
    if (fs::exists(dir / "sshdctl_sshd.aug", ec)) return dir.string();
  }
  return "/usr/share/sshdctl/lenses";
}

ConfigTree::ConfigTree(host::Host& host, std::string lens_dir)
    : host_(host), lens_dir_(std::move(lens_dir)), mirror_(make_private_dir("sshdctl-mirror")) {
  if (!fs::exists(fs::path(lens_dir_) / "sshdctl_sshd.aug"))
    throw Error(ErrorKind::kNotFound, "the sshdctl lenses are not in " + lens_dir_ + " (set SSHDCTL_LENS_DIR)");
  aug_ = std::make_unique<aug::Augeas>(mirror_, lens_dir_);
}

ConfigTree::~ConfigTree() {
  aug_.reset();
  std::error_code ec;
  fs::remove_all(mirror_, ec);
}

void ConfigTree::load() {
  std::string main = "/etc/ssh/sshd_config";
  if (!host_.stat(main).exists) {
    if (host_.stat("/usr/etc/ssh/sshd_config").exists) {
      main = "/usr/etc/ssh/sshd_config";
    } else {
      throw Error(ErrorKind::kNotFound,
                  "no sshd configuration: neither /etc/ssh/sshd_config nor /usr/etc/ssh/sshd_config exists",
                  Location{host_.name(), {}, 0});
    }
  }
  main_ = main;
  load_file(main);
  model_ = flatten(
      main,
      [this](const std::string& path) -> const FileTree* {
        const auto it = files_.find(path);
        return it == files_.end() ? nullptr : &it->second.tree;
      },
      [this](const std::string& pattern) { return expand(pattern, false); });
}

bool ConfigTree::load_file(const std::string& path) {
  if (files_.count(path) != 0) return true;
  const auto info = host_.stat(path);
  if (!info.exists) return false;
  auto content = host_.read_file(path);
  if (!content) throw Error(ErrorKind::kPermission, "cannot read the file", Location{host_.name(), path, 0});
  try {
    aug::refuse_control_bytes(*content, path);
  } catch (Error& e) {
    throw Error(e.kind(), e.message(), Location{host_.name(), path, e.where().line});
  }

  Loaded loaded;
  loaded.original = *content;
  loaded.info = info;
  loaded.added_newline = !content->empty() && content->back() != '\n';
  const fs::path mirrored = fs::path(mirror_) / path.substr(1);
  fs::create_directories(mirrored.parent_path());
  {
    std::ofstream out(mirrored, std::ios::binary);
    out << *content << (loaded.added_newline ? "\n" : "");
    if (!out) throw Error(ErrorKind::kInternal, "cannot write the private copy " + mirrored.string());
  }
  try {
    aug_->load_file(kLens, path);
  } catch (Error& e) {
    Location where = e.where();
    where.host = host_.name();
    std::string message = e.message();
    const auto all = text::lines(*content);
    if (e.kind() == ErrorKind::kConfigParse && where.line > 0 && static_cast<std::size_t>(where.line) <= all.size())
      message = "cannot parse '" + text::trim(all[static_cast<std::size_t>(where.line) - 1]) +
                "' (a keyword needs a value; quotes must be closed); the parser said: " +
                e.message().substr(e.message().rfind("cannot parse: ", 0) == 0 ? 14 : 0);
    throw Error(e.kind(), message, where);
  }
  const std::string mirror_text = loaded.original + (loaded.added_newline ? "\n" : "");
  loaded.tree = read_tree(path, &mirror_text);
  auto& stored = files_.emplace(path, std::move(loaded)).first->second;

  // Follow the Include lines, wherever they are.
  std::vector<const Directive*> includes;
  for (const auto& d : stored.tree.global)
    if (text::iequals(d.keyword, "Include")) includes.push_back(&d);
  for (const auto& b : stored.tree.blocks)
    for (const auto& d : b.settings)
      if (text::iequals(d.keyword, "Include")) includes.push_back(&d);
  for (const Directive* d : includes)
    for (const auto& pattern : d->args)
      for (const auto& file : expand(include_pattern_path(text::unquote(pattern)), false)) load_file(file);
  return true;
}

std::vector<std::string> ConfigTree::expand(const std::string& pattern, bool with_new_files) {
  auto it = expansions_.find(pattern);
  if (it == expansions_.end()) it = expansions_.emplace(pattern, host_.glob(pattern)).first;
  if (!with_new_files) return it->second;
  std::vector<std::string> out = it->second;
  for (const auto& [path, loaded] : files_)
    if (loaded.is_new && fnmatch(pattern.c_str(), path.c_str(), FNM_PATHNAME) == 0 &&
        std::find(out.begin(), out.end(), path) == out.end())
      out.push_back(path);
  std::sort(out.begin(), out.end());
  return out;
}

FileTree ConfigTree::read_tree(const std::string& path, const std::string* content) const {
  FileTree tree;
  tree.file = path;
  for (const auto& node : aug_->match(aug::Augeas::file_path(path) + "/*")) {
    const std::string label = aug_->label(node);
    if (is_comment(label)) continue;
    if (text::iequals(label, "Match")) {
      MatchBlock block;
      block.path = node;
      if (content != nullptr)
        if (auto span = aug_->span(node)) block.line = text::line_of_offset(*content, span->start);
      for (const auto& c : aug_->match(node + "/Condition/*")) {
        const std::string name = aug_->label(c);
        if (!is_comment(name)) block.criteria.push_back(Criterion{name, aug_->get(c).value_or("")});
      }
      for (const auto& s : aug_->match(node + "/Settings/*")) {
        const std::string keyword = aug_->label(s);
        if (!is_comment(keyword)) block.settings.push_back(read_directive(s, keyword, content));
      }
      tree.blocks.push_back(std::move(block));
    } else {
      tree.global.push_back(read_directive(node, label, content));
    }
  }
  return tree;
}

Directive ConfigTree::read_directive(const std::string& node, const std::string& label,
                                     const std::string* content) const {
  Directive d;
  d.keyword = label;
  d.path = node;
  if (content != nullptr)
    if (auto span = aug_->span(node)) d.line = text::line_of_offset(*content, span->start);
  if (auto value = aug_->get(node)) {
    d.args = text::split_words(*value);
    // sshd keeps the rest of the line for these keywords as written, and the lens takes
    // " # …" at the end for a comment: the value comes from the line itself then.
    if (takes_rest_of_line(label) && content != nullptr && d.line > 0) {
      const auto lines = text::lines(*content);
      if (static_cast<std::size_t>(d.line) <= lines.size()) {
        std::string_view rest = lines[static_cast<std::size_t>(d.line) - 1];
        rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t")));
        rest.remove_prefix(std::min(rest.size(), label.size()));  // the keyword as written
        rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t")));
        if (!rest.empty() && rest.front() == '=') {  // as sshd's strdelim: blanks, one '=', blanks
          rest.remove_prefix(1);
          rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(" \t")));
        }
        while (!rest.empty() && std::string_view(" \t\r\f").find(rest.back()) != std::string_view::npos)
          rest.remove_suffix(1);
        d.args = text::split_words(rest);
        d.raw = std::string(rest);
      }
    }
    return d;
  }
  for (const auto& child : aug_->match(node + "/*")) {
    const std::string name = aug_->label(child);
    if (is_comment(name)) continue;
    const std::string value = aug_->get(child).value_or("");
    if (is_number(name)) {
      d.args.push_back(value);
    } else {  // Subsystem: the child is named after the subsystem
      d.args.push_back(name);
      for (auto& word : text::split_words(value)) d.args.push_back(std::move(word));
    }
  }
  return d;
}

std::string ConfigTree::ensure_file(const std::string& file) {
  if (files_.count(file) == 0) {
    aug_->load_file(kLens, file);  // registers the transform; the file does not exist yet
    Loaded loaded;
    loaded.is_new = true;
    loaded.tree.file = file;
    // New drop-ins get what sshd's own package gives them.
    loaded.info = host::FileInfo{false, true, false, 0644, 0, 0};
    files_.emplace(file, std::move(loaded));
    fs::create_directories((fs::path(mirror_) / file.substr(1)).parent_path());
  }
  touched_.insert(file);
  return aug::Augeas::file_path(file);
}

std::string ConfigTree::append_child(const std::string& parent, const std::string& label) {
  aug_->set(parent + "/" + label + "[last()+1]", std::nullopt);
  const auto created = aug_->match(parent + "/*[last()]");
  if (created.size() != 1) throw Error(ErrorKind::kInternal, "cannot add " + label + " under " + parent);
  return created.front();
}

void ConfigTree::write_setting(const std::string& node, const Setting& setting) {
  const Keyword* kw = option_of(setting.keyword);
  const Shape shape = kw != nullptr ? kw->shape : Shape::kScalar;
  if (shape == Shape::kScalar) {
    std::vector<std::string> words;
    for (const auto& a : setting.args) words.push_back(text::quote_if_needed(a));
    aug_->set(node, text::join(words, " "));
    // sshd would read a trailing " # …" as part of the new value.
    if (takes_rest_of_line(setting.keyword)) aug_->remove(node + "/#comment");
    return;
  }
  // Lists and Subsystem keep their values in children; a trailing comment stays last.
  std::optional<std::string> comment;
  for (const auto& child : aug_->match(node + "/*")) {
    if (is_comment(aug_->label(child))) comment = aug_->get(child);
  }
  aug_->remove(node + "/*");
  aug_->set(node, std::nullopt);
  if (shape == Shape::kSubsystem) {
    if (setting.args.empty()) throw Error(ErrorKind::kBadInput, "Subsystem needs a name and a command");
    std::vector<std::string> command(setting.args.begin() + 1, setting.args.end());
    aug_->set(node + "/" + setting.args[0], text::join(command, " "));
  } else {
    std::vector<std::string> items;
    for (const auto& a : setting.args) {
      if (shape == Shape::kCommaList) {
        for (auto& item : text::split(a, ','))
          if (!item.empty()) items.push_back(item);
      } else {
        items.push_back(text::quote_if_needed(a));
      }
    }
    for (std::size_t i = 0; i < items.size(); ++i) aug_->set(node + "/" + std::to_string(i + 1), items[i]);
  }
  if (comment) aug_->set(node + "/#comment", *comment);
}

void ConfigTree::apply(const Plan& plan) {
  if (plan.edits.empty()) return;  // nothing to render
  // Bind every path first: earlier edits must not shift what later ones point at.
  for (std::size_t i = 0; i < plan.edits.size(); ++i)
    if (!plan.edits[i].path.empty()) aug_->define("e" + std::to_string(i), plan.edits[i].path);

  for (std::size_t i = 0; i < plan.edits.size(); ++i) {
    const Edit& edit = plan.edits[i];
    const std::string var = "$e" + std::to_string(i);
    switch (edit.kind) {
      case Edit::Kind::kReplace:
        write_setting(var, edit.setting);
        touched_.insert(edit.file);
        break;
      case Edit::Kind::kRemove:
        if (text::iequals(aug_->label(var), "Match")) {
          // Removing a Match node would hand its layout to the next block (see kNewBlock);
          // empty it, mark it, and cut the marked line from the rendered text instead.
          aug_->remove(var + "/Settings/*");
          aug_->remove(var + "/Condition/*");
          aug_->set(var + "/Condition/User", kRemovedBlockMarker);
        } else {
          aug_->remove(var);
        }
        touched_.insert(edit.file);
        break;
      case Edit::Kind::kInsertGlobal: {
        const std::string top = ensure_file(edit.file);
        std::string node;
        for (const auto& child : aug_->match(top + "/*")) {
          if (text::iequals(aug_->label(child), "Match")) {
            aug_->insert(child, edit.setting.keyword, true);
            node = aug_->match(child + "/preceding-sibling::*[1]").at(0);
            break;
          }
        }
        if (node.empty()) node = append_child(top, edit.setting.keyword);
        write_setting(node, edit.setting);
        break;
      }
      case Edit::Kind::kAppendToBlock:
        write_setting(append_child(var + "/Settings", edit.setting.keyword), edit.setting);
        touched_.insert(edit.file);
        break;
      case Edit::Kind::kNewBlock: {
        if (!edit.path.empty()) {
          // Augeas hands formatting to same-label siblings by position: a Match node inserted
          // before another would take its layout and shift every later block's. So a block
          // that must come first is inserted as text before the file's first Match line.
          touched_.insert(edit.file);
          leading_blocks_[edit.file].push_back(render_block(edit.criteria, edit.settings));
          break;
        }
        const std::string node = append_child(ensure_file(edit.file), "Match");
        for (const auto& c : edit.criteria)
          aug_->set(append_child(node + "/Condition", c.name),
                    c.patterns.empty() ? std::nullopt : std::optional<std::string>(c.patterns));
        for (const auto& s : edit.settings) write_setting(append_child(node + "/Settings", s.keyword), s);
        break;
      }
    }
  }
  render();
}

void ConfigTree::render() {
  aug_->save();
  rendered_.clear();
  for (const auto& file : touched_) {
    const fs::path mirrored = fs::path(mirror_) / file.substr(1);
    std::ifstream in(mirrored, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    if (const auto blocks = leading_blocks_.find(file); blocks != leading_blocks_.end()) {
      text = insert_before_first_match(text, text::join(blocks->second, ""));
      std::ofstream(mirrored, std::ios::binary | std::ios::trunc) << text;
      // Parse the file again so the tree (and the post-edit checks) see the new block.
      aug_->remove(aug::Augeas::file_path(file));
      aug_->remove("/augeas" + aug::Augeas::file_path(file));
      aug_->load_file(kLens, file);
    }
    if (text.find(kRemovedBlockMarker) != std::string::npos) text = cut_marked_blocks(text);
    if (files_.at(file).added_newline && !text.empty() && text.back() == '\n') text.pop_back();
    rendered_[file] = std::move(text);
  }
  leading_blocks_.clear();
}

Model ConfigTree::edited_model() {
  edited_trees_.clear();
  for (const auto& file : touched_) edited_trees_.emplace(file, read_tree(file, nullptr));
  return flatten(
      model_.main_file,
      [this](const std::string& path) -> const FileTree* {
        if (const auto e = edited_trees_.find(path); e != edited_trees_.end()) return &e->second;
        const auto it = files_.find(path);
        return it == files_.end() || it->second.is_new ? nullptr : &it->second.tree;
      },
      [this](const std::string& pattern) { return expand(pattern, true); });
}

std::vector<FileChange> ConfigTree::changes() const {
  std::vector<FileChange> out;
  for (const auto& file : touched_) {
    const auto& loaded = files_.at(file);
    std::string after = rendered_.at(file);
    if (!loaded.is_new && after == loaded.original) continue;
    out.push_back(FileChange{file,
                             loaded.is_new ? std::nullopt : std::optional<std::string>(loaded.original),
                             std::move(after),
                             loaded.info,
                             false,
                             {}});
  }
  return out;
}

std::map<std::string, std::string> ConfigTree::current() const {
  std::map<std::string, std::string> out;
  for (const auto& [path, loaded] : files_)
    if (!loaded.is_new) out[path] = loaded.original;
  return out;
}

std::map<std::string, std::string> ConfigTree::files_as_sshd_reads() const {
  std::map<std::string, std::string> out;
  // sshd's limit on nesting (servconf.c: SSHD_CONFIG_MAX_DEPTH 16): deeper, it refuses.
  constexpr int kMaxDepth = 16;
  const std::function<void(const std::string&, int)> read = [&](const std::string& path, int depth) {
    if (out.count(path) != 0 || depth > kMaxDepth || !host_.stat(path).regular) return;
    const auto content = host_.read_file(path);
    if (!content) return;
    out[path] = *content;
    for (const auto& raw : text::lines(*content)) {
      std::string line = text::trim(raw);
      if (line.size() < 8 || !text::iequals(line.substr(0, 7), "Include") ||
          (line[7] != ' ' && line[7] != '\t' && line[7] != '='))
        continue;
      line = line.substr(8);
      if (!line.empty() && line.front() == '=') line.erase(0, 1);
      for (const auto& word : text::split_words(line)) {
        if (!word.empty() && word.front() == '#') break;
        for (const auto& file : host_.glob(include_pattern_path(text::unquote(word)))) read(file, depth + 1);
      }
    }
  };
  read(main_, 0);
  return out;
}

std::map<std::string, std::string> ConfigTree::candidate() const {
  std::map<std::string, std::string> out;
  for (const auto& [path, loaded] : files_) {
    if (touched_.count(path) != 0) {
      out[path] = rendered_.at(path);
    } else if (!loaded.is_new) {
      out[path] = loaded.original;
    }
  }
  return out;
}

}  // namespace sshdctl::config

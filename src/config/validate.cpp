#include "sshdctl/config/validate.h"

#include <algorithm>
#include <regex>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/match.h"
#include "sshdctl/config/model.h"

namespace sshdctl::config {

namespace {

constexpr const char* kSshd = "/usr/sbin/sshd";
constexpr const char* kPrivsepDir = "/run/sshd";

}  // namespace

Location sshd_complaint_location(const std::string& host, const std::string& said, const std::string& fallback) {
  // "/etc/ssh/x.conf: line 3: Bad configuration option: Foo", "/etc/ssh/x.conf line 3: ..."
  static const std::regex where(R"((/[^\s:]+):? line ([0-9]{1,9})\b)");
  // The re-read every connection makes names the main file "reprocess config" (servconf.c
  // parses the main file from its buffer; the included files under their own names).
  static const std::regex reread(R"(reprocess config line ([0-9]{1,9})\b)");
  std::smatch m;
  if (std::regex_search(said, m, where)) return Location{host, m[1].str(), std::stoi(m[2].str())};
  if (std::regex_search(said, m, reread)) return Location{host, fallback, std::stoi(m[1].str())};
  return Location{host, fallback, 0};
}

Error sshd_missing(const std::string& host) {
  return Error(
      ErrorKind::kNotFound,
      std::string("no ") + kSshd + " here: sshd is not installed (or elsewhere), so no change can be validated",
      Location{host, {}, 0});
}

namespace {

// Where a line sets `keyword` (any case and indentation, then blanks or '='): the offset of its
// value, else npos.
size_t keyword_value(const std::string& line, std::string_view keyword) {
  const auto start = line.find_first_not_of(" \t");
  const size_t n = keyword.size();
  if (start == std::string::npos || line.size() < start + n ||
      !text::iequals(std::string_view(line).substr(start, n), keyword) ||
      (line.size() > start + n && std::string_view(" \t=").find(line[start + n]) == std::string_view::npos))
    return std::string::npos;
  return start + n;
}

// Rewrites each path word of every `keyword` line through `map` (comments and layout before the
// keyword kept; the keyword spelled `spelling`); the lines of other keywords are left as they are.
template <typename Map>
std::string rewrite_paths(const std::string& content, std::string_view keyword, std::string_view spelling, Map map) {
  std::string out;
  out.reserve(content.size());
  for (std::string line : text::lines(content)) {
    // sshd takes a CR as white space (a CRLF file): the last word must not keep it
    const bool cr = !line.empty() && line.back() == '\r';
    if (cr) line.pop_back();
    const auto value_at = keyword_value(line, keyword);
    if (value_at == std::string::npos) {
      out += line + (cr ? "\r\n" : "\n");
      continue;
    }
    const std::string rest = line.substr(value_at);
    const auto value_start = rest.find_first_not_of(" \t=");
    const std::vector<std::string> words =
        text::split_words(value_start == std::string::npos ? "" : rest.substr(value_start));
    std::string rewritten = line.substr(0, value_at - keyword.size()) + std::string(spelling);
    bool comment = false;
    for (const auto& word : words) {
      if (comment || (!word.empty() && word[0] == '#')) {
        comment = true;
        rewritten += " " + word;
        continue;
      }
      const bool quoted = word.size() >= 2 && word.front() == '"';
      const std::string path = map(text::unquote(word));
      rewritten += " " + (quoted ? "\"" + path + "\"" : path);
    }
    out += rewritten + (cr ? "\r\n" : "\n");
  }
  if (!content.empty() && content.back() != '\n' && !out.empty()) out.pop_back();
  return out;
}

}  // namespace

std::string rewrite_includes(const std::string& content, const std::string& prefix) {
  return rewrite_paths(content, "include", "Include",
                       [&](const std::string& pattern) { return prefix + include_pattern_path(pattern); });
}

std::string rewrite_host_keys(const std::string& content, const std::string& prefix, std::vector<std::string>* paths) {
  return rewrite_paths(content, "hostkey", "HostKey", [&](const std::string& path) {
    if (path.empty() || path.front() != '/') return path;
    if (paths != nullptr) paths->push_back(path);
    return prefix + path;
  });
}

std::optional<SshdRun> SshdOracle::run(const std::map<std::string, std::string>& files, const std::string& main_file,
                                       const std::vector<std::string>& args) {
  return run_each(files, main_file, {args});
}

std::optional<SshdRun> SshdOracle::check(const std::map<std::string, std::string>& files, const std::string& main_file,
                                         const std::vector<std::string>& more) {
  std::vector<std::vector<std::string>> runs;
  for (const char* spec : kCheckConnections) runs.push_back({"-T", "-C", spec});
  for (const auto& spec : more) runs.push_back({"-T", "-C", spec});
  return run_each(files, main_file, runs);
}

namespace {

// "user=a,host=b,…" → the Connection (no groups known but root's own).
Connection connection_of(std::string_view spec) {
  Connection c;
  for (const auto& field : text::split(spec, ',')) {
    const auto eq = field.find('=');
    const std::string name = field.substr(0, eq);
    std::string value = field.substr(eq + 1);
    if (name == "user") c.user = value;
    if (name == "host") c.host = value;
    if (name == "addr") c.addr = value;
    if (name == "laddr") c.laddr = value;
    if (name == "lport") c.lport = value;
    if (name == "rdomain") c.rdomain = value;
  }
  c.groups = c.user == "root" ? std::vector<std::string>{"root"} : std::vector<std::string>{};
  return c;
}

std::string spec_of(const Connection& c) {
  return "user=" + *c.user + ",host=" + *c.host + ",addr=" + *c.addr + ",laddr=" + *c.laddr + ",lport=" + *c.lport +
         ",rdomain=" + *c.rdomain;
}

// A value the first pattern of `list` that is not negated matches; nothing when there is none
// (only negations: the check connection's own value is kept) or none can be made.
std::optional<std::string> value_for(const std::string& criterion, const std::string& list, bool* keep) {
  *keep = false;
  for (const auto& pattern : text::split(text::unquote(list), ',')) {
    if (pattern.empty() || pattern.front() == '!') continue;
    const bool wild = pattern.find_first_of("*?") != std::string::npos;
    if (criterion == "address" || criterion == "localaddress") {
      if (wild) return std::nullopt;
      return pattern.substr(0, pattern.find('/'));
    }
    if (criterion == "localport" && wild) return std::nullopt;
    std::string v;
    for (const char ch : pattern) v += (ch == '*' || ch == '?') ? std::string("x") : std::string(1, ch);
    return v;
  }
  *keep = true;
  return std::nullopt;
}

}  // namespace

std::vector<std::string> block_check_connections(const Model& model) {
  std::vector<Connection> standard;
  for (const char* spec : kCheckConnections) standard.push_back(connection_of(spec));
  std::vector<std::string> out;
  for (std::size_t i = 0; i < model.contexts.size() && out.size() < kMaxBlockChecks; ++i) {
    const MatchBlock& block = *model.contexts[i].block;
    if (block.is_all()) continue;
    const int context = static_cast<int>(i);
    if (std::any_of(standard.begin(), standard.end(),
                    [&](const Connection& c) { return evaluate_context(model, context, c) == Tri::kYes; }))
      continue;
    // This block's criteria and those of the blocks around it (an Include inside a Match).
    Connection conn = standard.front();
    bool made = true;
    bool group = false;
    // Outermost first, so that an inner block's value is the one kept ("User *" around
    // "User nobody").
    std::vector<int> chain;
    for (int c = context; c >= 0; c = model.contexts[static_cast<std::size_t>(c)].parent)
      chain.insert(chain.begin(), c);
    for (const int c : chain) {
      if (!made) break;
      for (const auto& criterion : model.contexts[static_cast<std::size_t>(c)].block->criteria) {
        const std::string name = text::lower(criterion.name);
        if (name == "all") continue;
        if (name == "group") {  // only root's groups are known here: root's connection, if it meets it
          group = true;
          continue;
        }
        bool keep = false;
        const auto value = value_for(name, criterion.patterns, &keep);
        if (keep) continue;
        if (!value || value->find_first_of(",= \t") != std::string::npos) {
          made = false;
          break;
        }
        std::optional<std::string>* field = name == "user"           ? &conn.user
                                            : name == "host"         ? &conn.host
                                            : name == "address"      ? &conn.addr
                                            : name == "localaddress" ? &conn.laddr
                                            : name == "localport"    ? &conn.lport
                                            : name == "rdomain"      ? &conn.rdomain
                                                                     : nullptr;
        if (field == nullptr) {
          made = false;
          break;
        }
        *field = *value;
      }
    }
    if (group) {
      if (conn.user != standard.front().user && conn.user != "root") continue;
      conn.user = "root";
      conn.groups = std::vector<std::string>{"root"};
    }
    if (!made || evaluate_context(model, context, conn) != Tri::kYes) continue;
    const std::string spec = spec_of(conn);
    if (std::find(out.begin(), out.end(), spec) == out.end()) out.push_back(spec);
  }
  return out;
}

std::optional<SshdRun> SshdOracle::run_each(const std::map<std::string, std::string>& files,
                                            const std::string& main_file,
                                            const std::vector<std::vector<std::string>>& runs) {
  SshdRun run;
  host::Host* runner = &target_;
  bool foreign = false;
  if (target_.offline() && !target_.has_program(kSshd)) {
    if (!controller_.has_program(kSshd)) return std::nullopt;
    runner = &controller_;
    foreign = true;
    run.notes.push_back(target_.name() + " has no " + kSshd + ": checked with this machine's sshd instead");
  }
  if (!target_.offline() && !target_.has_program(kSshd)) throw sshd_missing(target_.name());
  run.validator = foreign ? "sshd of this machine" : "sshd of " + target_.name();

  const std::string scratch = runner->make_scratch_dir();
  struct Cleanup {
    host::Host* host;
    std::string dir;
    bool privsep_made = false;
    ~Cleanup() {
      // Never throws: this runs while an error (e.g. a lost connection) unwinds the stack.
      try {
        if (privsep_made) host->remove_dir(kPrivsepDir);
        host->remove_scratch_dir(dir);
      } catch (const Error&) {
        // The scratch dir stays in the target's /tmp; the error being reported says why.
      }
    }
  } cleanup{runner, scratch};

  // A foreign root's HostKey lines name the root's own keys: pointed into the copy, where the
  // root's keys are copied below (sshd on this machine would otherwise load this machine's).
  std::vector<std::string> named_keys;
  for (const auto& [path, content] : files) {
    std::string copy = rewrite_includes(content, scratch);
    if (foreign) copy = rewrite_host_keys(copy, scratch, &named_keys);
    runner->write_scratch_file(scratch + path, copy);
  }
  // sshd refuses to start, even in test mode, without its privilege separation directory,
  // which only exists while an sshd runs (not on an offline root, nor under socket
  // activation between connections): create it for the check and remove it after.
  if (!runner->stat(kPrivsepDir).exists) {
    try {
      cleanup.privsep_made = runner->make_dir(kPrivsepDir, 0755);
    } catch (const Error& e) {
      run.notes.push_back(std::string("cannot create ") + kPrivsepDir + " for the check: " + e.message());
    }
  }

  std::vector<std::string> tail{"-f", scratch + main_file};
  if (foreign) {
    // The root's own host keys, as its sshd would load them (a key sshd finds too short for
    // RequiredRSASize, say, is refused here as there): the keys its HostKey lines name, else
    // sshd's default ones. Without any (an image whose keys are made at first boot), one key
    // sshd can load: this machine's own, or else a throw-away one.
    const bool defaults = named_keys.empty();
    if (defaults)
      named_keys = {"/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key", "/etc/ssh/ssh_host_ed25519_key"};
    bool copied = false;
    for (const auto& key : named_keys) {
      const auto content = target_.read_file(key);
      if (!content) continue;
      runner->write_scratch_file(scratch + key, *content);
      copied = true;
      if (defaults) tail.insert(tail.end(), {"-h", scratch + key});
    }
    if (!copied) {
      std::string key = "/etc/ssh/ssh_host_ed25519_key";
      if (!runner->stat(key).regular) {
        key = scratch + "/hostkey";
        runner->run({"/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key});
      }
      tail.insert(tail.end(), {"-h", key});
      run.notes.push_back(target_.name() + " has none of the host keys its sshd would load: checked with " +
                          (key == "/etc/ssh/ssh_host_ed25519_key" ? "this machine's " + key : "a throw-away key"));
    }
  }
  for (const auto& args : runs) {
    std::vector<std::string> argv{kSshd};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), tail.begin(), tail.end());
    run.result = runner->run(argv);
    run.result.out = text::replace_all(run.result.out, scratch, "");
    run.result.err = text::replace_all(run.result.err, scratch, "");
    if (run.result.exit_code != 0) break;
  }
  return run;
}

void SshdOracle::require_current_accepted(const std::map<std::string, std::string>& current,
                                          const std::string& main_file, const std::vector<std::string>& more) {
  const auto before = current.empty() ? std::nullopt : check(current, main_file, more);
  if (before && before->result.exit_code != 0)
    throw Error(ErrorKind::kRejected,
                "sshd -T already rejects the current configuration, before this change; fix that first "
                "(nothing was changed)",
                sshd_complaint_location(target_.name(), before->result.err, main_file))
        .with_detail(text::trim(before->result.err));
}

std::vector<std::string> SshdOracle::validate(const std::map<std::string, std::string>& files,
                                              const std::string& main_file,
                                              const std::map<std::string, std::string>& current,
                                              const std::vector<std::string>& more) {
  // sshd -T -C for each check connection (validate.h); its dump of the configuration is not kept.
  auto run = check(files, main_file, more);
  if (!run) {
    if (!target_.offline())
      throw Error(ErrorKind::kNotFound, std::string("cannot validate: ") + kSshd + " is missing",
                  Location{target_.name(), {}, 0});
    return {"NOT VALIDATED: neither " + target_.name() + " nor this machine has " + kSshd};
  }
  if (run->result.exit_code != 0) {
    const std::string said = text::trim(run->result.err);
    // Was it this change, or was the configuration already refused before it?
    require_current_accepted(current, main_file, more);
    throw Error(ErrorKind::kRejected, "sshd -T rejected the new configuration; nothing was changed",
                sshd_complaint_location(target_.name(), said, main_file))
        .with_detail(said);
  }
  run->notes.push_back("validated with sshd -T (" + run->validator + ")");
  return run->notes;
}

std::optional<std::vector<std::pair<std::string, std::string>>> SshdOracle::effective(
    const std::map<std::string, std::string>& files, const std::string& main_file, const std::string& spec) {
  std::vector<std::string> args{"-T"};
  if (!spec.empty()) args.insert(args.end(), {"-C", spec});
  auto run = this->run(files, main_file, args);
  if (!run) return std::nullopt;
  if (run->result.exit_code != 0)
    throw Error(ErrorKind::kRejected, "sshd -T failed", Location{target_.name(), main_file, 0})
        .with_detail(text::trim(run->result.err));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& line : text::lines(run->result.out)) {
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    out.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  return out;
}

}  // namespace sshdctl::config

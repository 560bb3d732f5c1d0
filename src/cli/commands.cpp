#include "commands.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>

#include "change.h"
#include "sshdctl/accounts/password.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/config/validate.h"
#include "sshdctl/host/accounts.h"
#include "sshdctl/service/service.h"

namespace sshdctl::cli {

namespace {

using config::Effective;
using config::Model;
using config::OptionKey;
using config::Plan;

std::string where(const config::Entry& e) { return Location{{}, e.file, e.directive->line}.str(); }

// The catalog entry for a keyword typed by the operator, or a helpful error.
const config::Keyword& keyword_or_fail(const std::string& name) {
  if (text::iequals(name, "Match"))
    throw Error(ErrorKind::kBadInput, "Match is not a setting: use --match \"User root\" to edit inside a Match block");
  const config::Keyword* kw = config::option_of(name);
  if (kw == nullptr) {
    std::string message = "unknown keyword '" + name + "'";
    if (auto guess = config::closest_keyword(name)) message += "; did you mean '" + std::string(*guess) + "'?";
    throw Error(ErrorKind::kBadInput, message);
  }
  return *kw;
}

OptionKey option_key(const std::string& name, const std::vector<std::string>& values) {
  const auto& kw = keyword_or_fail(name);
  OptionKey key{&kw, {}};
  if (kw.combine == config::Combine::kPerSubsystem) {
    if (values.empty()) throw Error(ErrorKind::kBadInput, "Subsystem needs the subsystem name, e.g. 'Subsystem sftp'");
    key.subsystem = values[0];
  }
  return key;
}

config::Connection to_connection(Context& ctx, const ConnectionArgs& args) {
  config::Connection conn;
  conn.user = args.user;
  conn.host = args.host;
  conn.addr = args.addr;
  conn.laddr = args.laddr;
  conn.lport = args.lport;
  conn.rdomain = args.rdomain;
  if (args.user) {
    if (auto account = host::find_account(*ctx.target, *args.user))
      conn.groups = host::groups_of(*ctx.target, *account);
    else
      conn.groups = std::vector<std::string>{};
  }
  return conn;
}

ShownOption describe(const Model& model, const OptionKey& key, const Effective& eff) {
  ShownOption shown;
  shown.keyword = std::string(key.keyword->name);
  if (!key.subsystem.empty()) shown.keyword += " " + key.subsystem;
  shown.values = eff.values;
  shown.is_default = eff.sources.empty();
  shown.from_match = eff.from_match;
  for (const auto* e : eff.sources) shown.sources.push_back(where(*e));
  for (const auto* e : eff.ignored)
    shown.ignored.push_back(where(*e) + ": " + e->directive->keyword + " " + text::join(e->directive->args, " "));
  for (const auto* e : eff.uncertain) {
    const auto& block = *model.contexts[static_cast<std::size_t>(e->context)].block;
    shown.overrides.push_back(where(*e) + ": Match " + block.condition_text() + ": " + e->directive->keyword + " " +
                              text::join(e->directive->args, " "));
  }
  return shown;
}

}  // namespace

ShowReport show(Context& ctx, const std::vector<std::string>& keys, const ConnectionArgs& args, bool compare) {
  ShowReport report;
  report.host = ctx.target->name();
  report.connection = args;
  config::ConfigTree tree(*ctx.target, ctx.lens_dir);
  tree.load();
  const Model& model = tree.model();
  report.main_file = model.main_file;
  report.files = model.files;

  // Which options: the ones asked for, or every option the files set.
  std::vector<OptionKey> options;
  if (keys.empty()) {
    for (const auto& entry : model.entries) {
      const config::Keyword* kw = config::option_of(entry.directive->keyword);
      if (kw == nullptr) {
        report.notes.push_back(where(entry) + ": unknown keyword '" + entry.directive->keyword + "'");
        continue;
      }
      OptionKey key{kw, {}};
      if (kw->combine == config::Combine::kPerSubsystem && !entry.directive->args.empty())
        key.subsystem = text::unquote(entry.directive->args[0]);
      const bool seen = std::any_of(options.begin(), options.end(), [&](const OptionKey& k) {
        return k.keyword == key.keyword && k.subsystem == key.subsystem;
      });
      if (!seen) options.push_back(key);
    }
  } else {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const auto& kw = keyword_or_fail(keys[i]);
      OptionKey key{&kw, {}};
      if (kw.combine == config::Combine::kPerSubsystem && i + 1 < keys.size()) key.subsystem = keys[++i];
      options.push_back(key);
    }
  }

  const bool for_connection = args.any();
  const config::Connection conn = to_connection(ctx, args);
  for (const auto& key : options) {
    const Effective eff = for_connection ? config::resolve_for(model, key, conn, config::Unknown::kIgnore)
                                         : config::resolve_global(model, key);
    report.options.push_back(describe(model, key, eff));
  }

  // sshd -T: for --compare, and for the value sshd uses where no file sets a keyword (its
  // default; asked only when one is shown).
  const bool any_default =
      std::any_of(report.options.begin(), report.options.end(), [](const ShownOption& o) { return o.is_default; });
  if (compare || any_default) {
    std::string spec;
    if (compare && for_connection && (!args.user || !args.addr))
      throw Error(ErrorKind::kBadInput,
                  "--compare with a connection needs at least --user and --addr "
                  "(sshd -T -C requires user, host and addr)");
    if (for_connection && args.user && args.addr) {
      spec = "user=" + *args.user + ",host=" + args.host.value_or(*args.addr) + ",addr=" + *args.addr;
      if (args.laddr) spec += ",laddr=" + *args.laddr;
      if (args.lport) spec += ",lport=" + *args.lport;
      if (args.rdomain) spec += ",rdomain=" + *args.rdomain;
    }
    config::SshdOracle oracle(*ctx.target, *ctx.controller);
    const auto truth = oracle.effective(tree.candidate(), model.main_file, spec);
    if (!truth) {
      report.notes.push_back(compare ? "cannot compare: no sshd to ask"
                                     : "sshd's defaults are not shown: no sshd to ask (sshd -T)");
    } else {
      const auto version = config::parse_openssh_version(ctx.target->openssh_version());
      for (auto& shown : report.options) {
        if (!compare && !shown.is_default) continue;
        const auto* kw = config::find_keyword(shown.keyword);
        const std::string name = kw != nullptr ? config::sshd_t_name(*kw, version) : text::lower(shown.keyword);
        std::vector<std::string> said;
        for (const auto& [k, v] : *truth) {
          if (k == name)
            said.push_back(v);
          else if (name.rfind("subsystem ", 0) == 0 && k == "subsystem" &&
                   text::lower(v).rfind(name.substr(10) + " ", 0) == 0)
            said.push_back(v.substr(name.size() - 9));
        }
        if (said.empty()) continue;
        shown.sshd = text::join(said, " ");
        if (!shown.is_default) {
          const std::string ours = text::lower(text::join(shown.values, " "));
          std::string theirs = text::lower(*shown.sshd);
          std::string ours_norm = ours;
          for (auto* s : {&theirs, &ours_norm})
            for (auto& c : *s)
              if (c == ',') c = ' ';
          if (ours_norm != theirs && !(ours == "without-password" && theirs == "prohibit-password"))
            ++report.mismatches;
        }
      }
    }
  }
  return report;
}

ChangeReport set(Context& ctx, const std::string& name, const std::vector<std::string>& values,
                 const std::optional<std::string>& match) {
  const OptionKey key = option_key(name, values);
  const auto& kw = *key.keyword;
  if (text::iequals(kw.name, "Include"))
    throw Error(ErrorKind::kBadInput, "sshdctl does not edit Include lines; edit the settings the included files hold");
  if (auto problem = config::check_value(kw, config::value_words(key, values)))
    throw Error(ErrorKind::kBadInput, *problem);
  std::vector<config::Criterion> criteria;
  if (match) {
    criteria = config::parse_criteria(*match);
    if (!kw.match_allowed)
      throw Error(ErrorKind::kBadInput, std::string(kw.name) + " is not allowed inside a Match block (sshd_config(5))");
  }
  return run_change(
      ctx, "set",
      [&](const Model& model) {
        return match ? config::plan_set_in_block(model, key, values, criteria) : config::plan_set(model, key, values);
      },
      [&](const Model& edited) {
        if (!match) config::require_set_effective(edited, key, values);
      });
}

ChangeReport unset(Context& ctx, const std::string& name, const std::vector<std::string>& names,
                   const std::optional<std::string>& match) {
  const OptionKey key = option_key(name, names);
  std::vector<config::Criterion> criteria;
  if (match) criteria = config::parse_criteria(*match);
  return run_change(
      ctx, "unset",
      [&](const Model& model) {
        return match ? config::plan_unset_in_block(model, key, criteria) : config::plan_unset(model, key);
      },
      [&](const Model& edited) {
        if (!match) config::require_unset_effective(edited, key);
      });
}

ChangeReport root_login(Context& ctx, bool enable, bool key_only, const std::optional<std::string>& new_password) {
  config::RootLoginRequest request;
  request.enable = enable;
  request.password = enable && !key_only;
  request.permit = enable ? (key_only ? "prohibit-password" : "yes") : "no";
  if (auto root = host::find_account(*ctx.target, "root")) request.root_groups = host::groups_of(*ctx.target, *root);

  std::vector<config::Note> password_notes;
  const MoreChanges more = [&](const Model&) {
    return new_password ? shadow_change(*ctx.target, ctx.lens_dir, {{"root", new_password}}, password_notes)
                        : std::vector<config::FileChange>{};
  };
  auto report = run_change(
      ctx, enable ? "root-login enable" : "root-login disable",
      [&](const Model& model) { return config::plan_root_login(model, request); },
      [&](const Model& edited) { config::require_root_login_effective(edited, request); }, more);
  report.notes.insert(report.notes.end(), password_notes.begin(), password_notes.end());
  if (request.password && !new_password) {
    const auto shadow = ctx.target->read_file("/etc/shadow");
    const auto field = shadow ? accounts::shadow_field(*shadow, "root") : std::nullopt;
    if (field && (field->empty() || field->front() == '!' || field->front() == '*'))
      report.notes.push_back(config::Note{{report.host, "/etc/shadow", 0},
                                          "root has no usable password (locked or empty), so a password logon "
                                          "cannot work yet: give one with --password-stdin (or --ask-password)"});
  }
  return report;
}

ServiceReport service(Context& ctx, const std::string& action) {
  if (ctx.target->offline())
    throw Error(ErrorKind::kUnsupported, "an offline root has no running service", Location{ctx.target->name(), {}, 0});
  ServiceReport report;
  report.host = ctx.target->name();
  report.action = action;
  auto manager = service::open_service_manager(*ctx.target, ctx.unit);
  service::UnitStatus status;
  if (action == "status") {
    status = manager->status();
    report.method = "status";
  } else {
    const auto r = action == "reload" ? manager->reload(kReloadTimeout) : manager->restart(kReloadTimeout);
    status = r.after;
    report.method = r.method;
    report.job_result = r.job_result;
    report.note = r.note;
    // Nothing to roll back here, but the operator must know at once when the way in is gone.
    if (const auto failure = run_probes(ctx))
      throw Error(ErrorKind::kInternal, "the " + action + " is done, but " + *failure, Location{report.host, {}, 0})
          .with_detail("keep this session open and check sshd (sshdctl show --compare, journalctl -u " + status.unit +
                       ")");
    for (const auto& probe : ctx.probes) report.probes.push_back("a fresh login as " + probe.what + " works");
  }
  report.unit = status.unit;
  report.active_state = status.active_state;
  report.sub_state = status.sub_state;
  report.main_pid = status.main_pid;
  if (!status.active_socket.empty() && status.active_socket != status.unit) report.socket = status.active_socket;
  return report;
}

}  // namespace sshdctl::cli

#include "change.h"

#include <spdlog/spdlog.h>

#include "sshdctl/accounts/password.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/config/validate.h"
#include "sshdctl/service/service.h"

namespace sshdctl::cli {

std::string describe(const service::ActionResult& r) {
  std::string out = r.action + " of " + r.after.unit + " through " + r.method + ": " + r.job_result;
  if (!r.note.empty()) return out + " (" + r.note + ")";
  out += ", now " + r.after.active_state + (r.after.sub_state.empty() ? "" : "/" + r.after.sub_state);
  if (r.after.main_pid != 0) out += ", main pid " + std::to_string(r.after.main_pid);
  return out + "; open sessions are kept";
}

namespace {

// Reloads sshd after a change: only on a live target, only when something changed. When the
// listening addresses changed under socket activation, the socket unit is moved instead.
std::string reload_after_change(Context& ctx, const std::optional<std::vector<std::string>>& new_streams) {
  if (ctx.target->offline()) return "offline root: no service to reload";
  if (!ctx.reload) return "NOT RELOADED (--no-reload): the running sshd still uses the old settings";
  auto manager = service::open_service_manager(*ctx.target, ctx.unit);
  if (new_streams)
    if (auto moved = manager->relisten(*new_streams, kReloadTimeout)) return describe(*moved);
  return describe(manager->reload(kReloadTimeout));
}

}  // namespace

std::optional<std::string> run_probes(const Context& ctx) {
  for (const auto& probe : ctx.probes)
    if (auto why = probe.run()) return "a fresh login as " + probe.what + " fails: " + *why;
  return std::nullopt;
}

ChangeReport run_change(Context& ctx, const std::string& verb,
                        const std::function<config::Plan(const config::Model&)>& make_plan,
                        const std::function<void(const config::Model&)>& check, const MoreChanges& more) {
  ChangeReport report;
  report.host = ctx.target->name();
  report.verb = verb;
  report.dry_run = ctx.dry_run;

  config::ConfigTree tree(*ctx.target, ctx.lens_dir);
  tree.load();
  const config::Plan plan = make_plan(tree.model());
  report.notes = plan.notes;
  for (auto& note : report.notes) note.where.host = report.host;
  tree.apply(plan);
  auto changes = tree.changes();
  const bool sshd_changed = !changes.empty();
  if (more) {
    auto extra = more(tree.model());
    changes.insert(changes.end(), extra.begin(), extra.end());
  }
  if (changes.empty()) return report;
  const config::Model edited = tree.edited_model();
  if (check) check(edited);

  std::optional<std::vector<std::string>> new_streams;
  if (auto after = config::listen_streams(edited); after != config::listen_streams(tree.model()))
    new_streams = std::move(after);

  if (sshd_changed) {
    config::SshdOracle oracle(*ctx.target, *ctx.controller);
    report.checks = oracle.validate(tree.candidate(), tree.model().main_file, tree.current());
  }

  for (const auto& change : changes) {
    spdlog::info("{}: writing {}", report.host, change.path);
    ctx.target->write_file_atomic(change.path, change.after, change.info);
    report.files.push_back(FileReport{change.path,
                                      change.masked.empty()
                                          ? text::unified_diff(change.before.value_or(""), change.after, change.path)
                                          : change.path + ": " + change.masked,
                                      !change.before.has_value()});
  }
  report.changed = true;
  if (ctx.dry_run) {
    report.service = "dry run: nothing was written, nothing reloaded";
    return report;
  }
  if (sshd_changed) {
    try {
      report.service = reload_after_change(ctx, new_streams);
    } catch (Error& e) {
      throw Error(e.kind(), "the files were changed and validated, but " + e.message(), e.where())
          .with_detail(e.detail());
    }
  } else {
    report.service = "sshd's configuration is unchanged: nothing to reload";
  }
  if (!ctx.reload || ctx.target->offline()) return report;

  // Safety invariant 4: the operator must still be able to log in; else the change goes.
  const auto failure = run_probes(ctx);
  if (!failure) {
    for (const auto& probe : ctx.probes)
      report.checks.push_back("login probe: a fresh login as " + probe.what + " works");
    return report;
  }
  spdlog::warn("{}: the login probe failed ({}); rolling the change back", report.host, *failure);
  std::size_t restored = 0;
  try {
    for (auto it = changes.rbegin(); it != changes.rend(); ++it, ++restored) {
      if (it->before)
        ctx.target->write_file_atomic(it->path, *it->before, it->info);
      else
        ctx.target->remove_file(it->path);
    }
  } catch (const Error& e) {
    std::vector<std::string> left;
    for (std::size_t k = 0; k + restored < changes.size(); ++k) left.push_back(changes[k].path);
    throw Error(ErrorKind::kInternal, *failure + "; THE ROLLBACK FAILED: " + e.message(), Location{report.host, {}, 0})
        .with_detail("still changed (each file whole, old or new): " + text::join(left, ", ") +
                     "; restore them by hand, from the console if need be");
  }
  std::string outcome;
  try {
    std::optional<std::vector<std::string>> old_streams;
    if (new_streams) old_streams = config::listen_streams(tree.model());
    if (sshd_changed) reload_after_change(ctx, old_streams);
    const auto again = run_probes(ctx);
    outcome = again ? "; the login STILL FAILS after the rollback: " + *again : "; the login works again";
  } catch (const Error& e) {
    outcome = "; the files are restored, but " + e.message();
  }
  throw Error(ErrorKind::kRolledBack, "rolled back: " + *failure + outcome, Location{report.host, {}, 0})
      .with_detail("the change would have locked the operator out; every file is back as it was");
}

std::vector<config::FileChange> shadow_change(host::Host& target, const std::string& lens_dir, const std::string& user,
                                              const std::optional<std::string>& password, bool unlock,
                                              std::vector<config::Note>& notes) {
  const std::string path = "/etc/shadow";
  const Location where{target.name(), path, 0};
  const auto shadow = target.read_file(path);
  if (!shadow) throw Error(ErrorKind::kNotFound, "no shadow file", where);
  accounts::ShadowFile file(*shadow, lens_dir, path);
  const auto current = file.entry(user);
  if (!current) throw Error(ErrorKind::kBadInput, "no user " + user + " in the shadow file", where);
  auto entry = *current;
  std::vector<std::string> what;
  if (password && !accounts::password_matches(*password, current->password)) {
    const auto method = accounts::hash_method(target.read_file("/etc/login.defs").value_or(""));
    if (!method.note.empty()) notes.push_back(config::Note{{target.name(), "/etc/login.defs", 0}, method.note});
    entry.password = accounts::hash_password(*password, method);
    entry.lastchange = std::to_string(accounts::days_since_epoch());
    what.push_back(user + "'s password hash changed (" + method.name + ", as login.defs says)");
    if (current->password.rfind('!', 0) == 0 || current->password == "*")
      what.emplace_back("the account was locked and is unlocked");
  }
  if (unlock) {
    std::string done;
    accounts::unlock(entry, user, accounts::days_since_epoch(), done);
    if (!done.empty()) what.push_back(done);
  }
  if (entry.password == current->password && entry.lastchange == current->lastchange && entry.expire == current->expire)
    return {};
  file.set(user, entry);
  config::FileChange change;
  change.path = path;
  change.before = shadow;
  change.after = file.text();
  change.info = target.stat(path);
  change.masked = text::join(what, "; ") + "\n" + accounts::masked_shadow_diff(*shadow, change.after, path);
  return {change};
}

}  // namespace sshdctl::cli

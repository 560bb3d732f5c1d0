#include "change.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <semaphore>
#include <thread>

#include "sshdctl/accounts/password.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/config/validate.h"
#include "sshdctl/service/service.h"
#include "sshdctl/txn/journal.h"
#include "sshdctl/txn/window.h"

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

void kill_point(const char* where) {
  // A test hook (SSHDCTL_TEST_KILL_AT=k): the k-th step that changes the target ends the
  // process with SIGKILL, as a crash there would; the kill-point test walks every k.
  static int step = 0;
  static const char* at = std::getenv("SSHDCTL_TEST_KILL_AT");
  if (at == nullptr) return;
  if (++step == std::atoi(at)) {
    std::fprintf(stderr, "sshdctl: test hook: killed at step %d (%s)\n", step, where);
    std::fflush(stderr);
    std::raise(SIGKILL);
  }
}

namespace {

// A few runs at a time parse and edit configurations (Augeas: a compiled lens and a tree of a
// few MB each, CPU-bound); the rest of a run is round trips. With -i, hundreds of hosts may be
// in flight: this keeps the memory bounded without slowing the CPU-bound part, which cannot
// go faster than the cores anyway.
class EngineSlot {
 public:
  EngineSlot() { slots().acquire(); }
  ~EngineSlot() { slots().release(); }
  EngineSlot(const EngineSlot&) = delete;
  EngineSlot& operator=(const EngineSlot&) = delete;

 private:
  static std::counting_semaphore<>& slots() {
    static std::counting_semaphore<> s(
        static_cast<std::ptrdiff_t>(std::max(4U, 2 * std::thread::hardware_concurrency())));
    return s;
  }
};

// Writes (or removes) one file of a change.
void apply_file(host::Host& target, const config::FileChange& change) {
  if (change.removes)
    target.remove_file(change.path);
  else
    target.write_file_atomic(change.path, change.after, change.info);
}

// Is `path` part of sshd's configuration (so that sshd -t must see it and sshd be reloaded)?
bool is_sshd_file(const config::Model& model, const std::string& path) {
  return std::find(model.files.begin(), model.files.end(), path) != model.files.end() ||
         path.rfind("/etc/ssh/", 0) == 0;
}

// The change set just made reverts itself on the target after ctx.window_s.
void start_window(Context& ctx, service::ServiceManager& manager, txn::Journal& journal, const txn::ChangeSet& set,
                  ChangeReport& report) {
  const std::string script = journal.write_script(set.id, "revert.sh", txn::revert_script(set, manager.unit()));
  const std::time_t ends = std::time(nullptr) + ctx.window_s;
  manager.schedule(txn::window_unit(set.id), std::chrono::seconds(ctx.window_s), {"/bin/sh", script},
                   "sshdctl: end of the window of change set " + set.id);
  journal.set_window(set.id,
                     "ends " + text::utc(ends, "%Y-%m-%dT%H:%M:%SZ") + " (" + txn::window_unit(set.id) + ".timer)");
  report.notes.push_back(config::Note{{report.host, {}, 0},
                                      "window: the target reverts this change at " +
                                          text::utc(ends, "%Y-%m-%dT%H:%M:%SZ") +
                                          " by itself, unless 'sshdctl confirm " + set.id + "' keeps it"});
}

// The same change again with a window: the newest change set of that verb that still has a
// window gets the new one instead.
void replace_window(Context& ctx, service::ServiceManager& manager, ChangeReport& report) {
  txn::Journal journal(*ctx.target);
  const auto sets = journal.list();
  for (auto it = sets.rbegin(); it != sets.rend(); ++it) {
    if (it->verb != report.verb || it->state != "done" || it->window.rfind("ends ", 0) != 0) continue;
    manager.cancel(txn::window_unit(it->id));
    start_window(ctx, manager, journal, *it, report);
    report.id = it->id;
    report.notes.push_back(
        config::Note{{report.host, {}, 0}, "the new window replaces the one change set " + it->id + " had"});
    return;
  }
}

}  // namespace

std::string recover_interrupted(Context& ctx) {
  txn::Journal journal(*ctx.target);
  std::vector<std::string> said;
  for (auto& set : journal.unfinished()) {
    std::vector<std::size_t> live;  // files at their after-image
    bool drift = false;
    for (std::size_t i = 0; i < set.files.size(); ++i) {
      const auto now = ctx.target->read_file(set.files[i].path);
      const auto sha = now ? std::optional<std::string>(txn::sha256_hex(*now)) : std::nullopt;
      if (sha == set.files[i].after_sha && sha != set.files[i].before_sha)
        live.push_back(i);
      else if (sha != set.files[i].before_sha)
        drift = true;
    }
    if (drift) {
      journal.set_state(set.id, "abandoned: interrupted, and a file changed since");
      said.push_back("change set " + set.id + " (" + set.verb +
                     ") was interrupted and a file has changed since: "
                     "left as it is (see: sshdctl show-change " +
                     set.id + ")");
      continue;
    }
    if (live.empty()) {
      journal.set_state(set.id, "abandoned: interrupted before any file changed");
      said.push_back("change set " + set.id + " (" + set.verb + ") was interrupted before any file changed");
      continue;
    }
    // The rule: an interrupted change is undone (its operator never saw it succeed).
    bool sshd_file = false;
    for (const auto i : live) {
      const auto& f = set.files[i];
      if (f.before_sha)
        ctx.target->write_file_atomic(f.path, journal.before_image(set, i).value_or(""), f.info);
      else
        ctx.target->remove_file(f.path);
      sshd_file = sshd_file || f.path.rfind("/etc/ssh/", 0) == 0;
    }
    std::string service;
    if (sshd_file && !ctx.target->offline() && ctx.reload) service = "; " + reload_after_change(ctx, std::nullopt);
    journal.set_state(set.id, "rolled-back: interrupted");
    said.push_back("change set " + set.id + " (" + set.verb + ") was interrupted: rolled back " +
                   std::to_string(live.size()) + " file(s)" + service);
  }
  return text::join(said, "\n");
}

ChangeReport run_change(Context& ctx, const std::string& verb,
                        const std::function<config::Plan(const config::Model&)>& make_plan,
                        const std::function<void(const config::Model&)>& check, const MoreChanges& more,
                        const std::string& reverts) {
  ChangeReport report;
  report.host = ctx.target->name();
  report.verb = verb;
  report.dry_run = ctx.dry_run;

  // A window that cannot be kept is refused before anything changes.
  std::unique_ptr<service::ServiceManager> windows;
  if (ctx.window_s > 0 && !ctx.dry_run) {
    if (ctx.target->offline())
      throw Error(ErrorKind::kUnsupported,
                  "an offline root has no timers: --for/--confirm-within need a running host "
                  "with systemd; nothing was changed",
                  Location{report.host, {}, 0});
    windows = service::open_service_manager(*ctx.target, ctx.unit);
    if (!windows->can_schedule())
      throw Error(ErrorKind::kUnsupported,
                  "maintenance windows need systemd (transient timers), which this host does not run; nothing was "
                  "changed",
                  Location{report.host, {}, 0});
  }

  // Safety invariant 3: one run at a time per target; an interrupted change is dealt with first.
  std::optional<txn::TargetLock> lock;
  if (!ctx.dry_run) {
    lock.emplace(*ctx.target, ctx.lock_timeout_s);
    kill_point("locked");
    if (const auto recovered = recover_interrupted(ctx); !recovered.empty())
      for (const auto& line : text::lines(recovered)) report.notes.push_back(config::Note{{report.host, {}, 0}, line});
  }

  // The engine's part (Augeas trees: memory and CPU) holds one of a few slots, so that a fleet
  // of hundreds of hosts keeps a bounded number of parsed trees; the tree is gone before the
  // round trips of validation, journal, writes, reload and probe.
  std::vector<config::FileChange> changes;
  std::map<std::string, std::string> candidate;
  std::map<std::string, std::string> current;
  std::string main_file;
  std::vector<std::string> old_streams_now;
  std::optional<std::vector<std::string>> new_streams;
  bool sshd_changed = false;
  {
    const EngineSlot slot;
    config::ConfigTree tree(*ctx.target, ctx.lens_dir);
    tree.load();
    const config::Plan plan = make_plan(tree.model());
    for (auto note : plan.notes) {
      note.where.host = report.host;
      report.notes.push_back(std::move(note));
    }
    tree.apply(plan);
    changes = tree.changes();
    sshd_changed = !changes.empty();
    candidate = tree.candidate();
    if (more) {
      for (auto& extra : more(tree.model())) {
        if (is_sshd_file(tree.model(), extra.path)) {
          sshd_changed = true;
          if (extra.removes)
            candidate.erase(extra.path);
          else
            candidate[extra.path] = extra.after;
        }
        changes.push_back(std::move(extra));
      }
    }
    if (changes.empty()) {
      if (windows) replace_window(ctx, *windows, report);
      return report;
    }
    // Models point into their tree: everything that reads one happens here.
    const config::Model edited = tree.edited_model();
    if (check) check(edited);
    main_file = tree.model().main_file;
    current = tree.current();
    old_streams_now = config::listen_streams(tree.model());
    if (auto after = config::listen_streams(edited); after != old_streams_now) new_streams = std::move(after);
  }

  if (sshd_changed) {
    config::SshdOracle oracle(*ctx.target, *ctx.controller);
    report.checks = oracle.validate(candidate, main_file, current);
  }

  // Safety invariant 3: the change set is on the target before any live file changes.
  txn::Journal journal(*ctx.target);
  txn::ChangeSet set;
  if (!ctx.dry_run) {
    set.id = txn::new_id(std::time(nullptr));
    set.verb = verb;
    set.who = ctx.who;
    set.when = text::utc(std::time(nullptr), "%Y-%m-%dT%H:%M:%SZ");
    set.reason = ctx.reason;
    set.reverts = reverts;
    set.rollout = ctx.rollout;
    set.service = !sshd_changed || ctx.target->offline() ? "none"
                  : !ctx.reload                          ? "none (--no-reload)"
                  : ctx.unit.empty()                     ? "reload"
                                                         : "reload " + ctx.unit;
    std::vector<std::optional<std::string>> befores, afters;
    for (const auto& change : changes) {
      txn::FileRecord f;
      f.path = change.path;
      f.info = change.info;
      if (change.before) f.before_sha = txn::sha256_hex(*change.before);
      if (!change.removes) f.after_sha = txn::sha256_hex(change.after);
      set.files.push_back(f);
      befores.push_back(change.before);
      afters.push_back(change.removes ? std::nullopt : std::optional<std::string>(change.after));
    }
    journal.record(set, befores, afters);
    report.id = set.id;
    kill_point("journal recorded");
  }

  for (const auto& change : changes) {
    spdlog::info("{}: {} {}", report.host, change.removes ? "removing" : "writing", change.path);
    apply_file(*ctx.target, change);
    kill_point(change.path.c_str());
    report.files.push_back(FileReport{
        change.path,
        !change.masked.empty()
            ? change.path + ": " + change.masked
            : text::unified_diff(change.before.value_or(""), change.removes ? "" : change.after, change.path),
        !change.before.has_value()});
  }
  report.changed = true;
  if (ctx.dry_run) {
    report.service = "dry run: nothing was written, nothing reloaded";
    return report;
  }
  journal.set_state(set.id, "applied");
  kill_point("applied");
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
  kill_point("reloaded");
  if (!ctx.reload || ctx.target->offline()) {
    journal.set_state(set.id, "done");
    return report;
  }
  const auto finish = [&] {
    journal.set_state(set.id, "done");
    if (windows) start_window(ctx, *windows, journal, set, report);
  };

  // Safety invariant 4: the operator must still be able to log in; else the change goes.
  const auto failure = run_probes(ctx);
  if (!failure) {
    for (const auto& probe : ctx.probes)
      report.checks.push_back("login probe: a fresh login as " + probe.what + " works");
    finish();
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
    journal.set_state(set.id, "rolled-back: the login probe failed");
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
    if (new_streams) old_streams = old_streams_now;
    if (sshd_changed) reload_after_change(ctx, old_streams);
    const auto again = run_probes(ctx);
    outcome = again ? "; the login STILL FAILS after the rollback: " + *again : "; the login works again";
  } catch (const Error& e) {
    outcome = "; the files are restored, but " + e.message();
  }
  throw Error(ErrorKind::kRolledBack, "rolled back: " + *failure + outcome, Location{report.host, {}, 0})
      .with_detail("the change would have locked the operator out; every file is back as it was");
}

std::vector<config::FileChange> shadow_change(host::Host& target, const std::string& lens_dir,
                                              const std::vector<ShadowRequest>& requests,
                                              std::vector<config::Note>& notes) {
  const std::string path = "/etc/shadow";
  const Location where{target.name(), path, 0};
  const auto shadow = target.read_file(path);
  if (!shadow) throw Error(ErrorKind::kNotFound, "no shadow file", where);
  accounts::ShadowFile file(*shadow, lens_dir, path);
  std::vector<std::string> what;
  std::optional<accounts::HashMethod> method;
  for (const auto& request : requests) {
    const std::string& user = request.user;
    const auto current = file.entry(user);
    if (!current) throw Error(ErrorKind::kBadInput, "no user " + user + " in the shadow file", where);
    auto entry = *current;
    const bool was_locked = current->password.rfind('!', 0) == 0 || current->password == "*";
    if (request.password && !accounts::password_matches(*request.password, current->password)) {
      if (!method) {
        method = accounts::hash_method(target.read_file("/etc/login.defs").value_or(""));
        if (!method->note.empty()) notes.push_back(config::Note{{target.name(), "/etc/login.defs", 0}, method->note});
      }
      entry.password = accounts::hash_password(*request.password, *method);
      entry.lastchange = std::to_string(accounts::days_since_epoch());
      what.push_back(user + "'s password hash changed (" + method->name + ", as login.defs says)");
      if (was_locked) what.emplace_back(user + "'s account was locked and is unlocked");
    }
    if (request.unlock) {
      std::string done;
      accounts::unlock(entry, user, accounts::days_since_epoch(), done);
      if (!done.empty()) what.push_back(done);
    }
    if (request.lock && entry.password.rfind('!', 0) != 0) {
      entry.password.insert(0, "!");
      what.push_back(user + "'s password is locked (!)");
    }
    if (entry.password == current->password && entry.lastchange == current->lastchange &&
        entry.expire == current->expire)
      continue;
    file.set(user, entry);
  }
  if (what.empty()) return {};
  config::FileChange change;
  change.path = path;
  change.before = shadow;
  change.after = file.text();
  change.info = target.stat(path);
  change.masked = text::join(what, "; ") + "\n" + accounts::masked_shadow_diff(*shadow, change.after, path);
  return {change};
}

}  // namespace sshdctl::cli

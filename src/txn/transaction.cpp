#include "sshdctl/txn/transaction.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <semaphore>
#include <thread>

#include "sshdctl/common/error.h"
#include "sshdctl/common/tar.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/config/validate.h"
#include "sshdctl/config/versions.h"
#include "sshdctl/host/accounts.h"
#include "sshdctl/service/service.h"
#include "sshdctl/txn/deadman.h"
#include "sshdctl/txn/journal.h"
#include "sshdctl/txn/window.h"

namespace sshdctl::txn {

namespace {

constexpr const char* kSshd = "/usr/sbin/sshd";
constexpr const char* kCheckPrefix = "/var/lib/sshdctl/check-";

void fault(const Context& ctx, const std::string& step) {
  if (ctx.faults != nullptr) ctx.faults->at(step);
}

// sshd's service manager: the one opened early, else one opened now.
std::shared_ptr<service::ServiceManager> service_manager(Context& ctx) {
  if (ctx.early_service != nullptr) return ctx.early_service->get();
  return service::open_service_manager(*ctx.target, ctx.unit);
}

// Reloads sshd after a change: only on a live target, only when something changed. When the
// listening addresses changed under socket activation, the socket unit is moved instead.
// Reloads sshd (or moves the socket to `streams`). `start_when_down`: a reload that leaves the
// unit down (sshd failed at start) or fails is followed by a restart, as after a rollback.
std::string reload_sshd(Context& ctx, const std::optional<std::vector<std::string>>& streams, bool start_when_down) {
  const auto manager = service_manager(ctx);
  if (streams)
    if (auto moved = manager->relisten(*streams, kReloadTimeout)) return describe(*moved);
  const std::string unit = manager->unit();
  const bool restartable = start_when_down && unit.size() > 8 && unit.compare(unit.size() - 8, 8, ".service") == 0;
  if (!restartable) return describe(manager->reload(kReloadTimeout));
  try {
    auto r = manager->reload(kReloadTimeout);
    if (r.after.active_state == "active" || r.after.active_state == "reloading") return describe(r);
  } catch (const Error& e) {
    spdlog::warn("{}: the reload failed ({}); starting {} again", ctx.target->name(), e.message(), unit);
  }
  return describe(manager->restart(kReloadTimeout));
}

std::string reload_after_change(Context& ctx, const std::optional<std::vector<std::string>>& new_streams) {
  if (ctx.target->offline()) return "offline root: no service to reload";
  if (!ctx.reload) return "NOT RELOADED (--no-reload): the running sshd still uses the old settings";
  return reload_sshd(ctx, new_streams, false);
}

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
    static std::counting_semaphore<> s(static_cast<std::ptrdiff_t>(std::max(2U, std::thread::hardware_concurrency())));
    return s;
  }
};

// Is `path` part of sshd's configuration (so that sshd -t must see it and sshd be reloaded)?
bool is_sshd_file(const config::Model& model, const std::string& path) {
  return std::find(model.files.begin(), model.files.end(), path) != model.files.end() ||
         path.rfind("/etc/ssh/", 0) == 0;
}

// The boot step of windows and dead-men (deadman.h) on a target whose commit does not carry it
// (a remote commit does): written when missing or different, so that a window survives a
// reboot there too.
void ensure_boot_step(host::Host& target) {
  if (target.runs_scripts() || target.offline()) return;
  const host::FileInfo script{false, true, false, 0755, 0, 0};
  const host::FileInfo unit{false, true, false, 0644, 0, 0};
  if (target.read_file(kBootScript) != boot_script()) target.write_file_atomic(kBootScript, boot_script(), script);
  if (target.read_file(kBootUnit) != boot_unit()) target.write_file_atomic(kBootUnit, boot_unit(), unit);
  if (!target.stat(kBootWants).exists) {
    const auto r = target.run({"/bin/ln", "-sf", kBootUnit, kBootWants});
    if (r.exit_code != 0)
      throw Error(ErrorKind::kInternal, "cannot enable sshdctl-boot.service: " + text::trim(r.err),
                  Location{target.name(), kBootWants, 0});
  }
}

// The change set just made reverts itself on the target after ctx.window_s.
void start_window(Context& ctx, service::ServiceManager& manager, Journal& journal, const ChangeSet& set,
                  ChangeReport& report) {
  ensure_boot_step(*ctx.target);
  const std::string script = journal.write_script(set.id, "revert.sh", revert_script(set, manager.unit()));
  const std::time_t ends = std::time(nullptr) + ctx.window_s;
  manager.schedule(window_unit(set.id), std::chrono::seconds(ctx.window_s), {"/bin/sh", script},
                   "sshdctl: end of the window of change set " + set.id);
  journal.set_window(set.id, "ends " + text::utc(ends, "%Y-%m-%dT%H:%M:%SZ") + " (" + window_unit(set.id) + ".timer)");
  report.notes.push_back(config::Note{{report.host, {}, 0},
                                      "window: the target reverts this change at " +
                                          text::utc(ends, "%Y-%m-%dT%H:%M:%SZ") +
                                          " by itself, unless 'sshdctl confirm " + set.id + "' keeps it"});
}

// The same change again with a window: the newest change set of that verb that still has a
// window gets the new one instead.
void replace_window(Context& ctx, service::ServiceManager& manager, ChangeReport& report) {
  Journal journal(*ctx.target);
  const auto sets = journal.list();
  for (auto it = sets.rbegin(); it != sets.rend(); ++it) {
    if (it->verb != report.verb || it->state != "done" || it->window.rfind("ends ", 0) != 0) continue;
    manager.cancel(window_unit(it->id));
    start_window(ctx, manager, journal, *it, report);
    report.id = it->id;
    report.notes.push_back(
        config::Note{{report.host, {}, 0}, "the new window replaces the one change set " + it->id + " had"});
    return;
  }
}

std::string relative(const std::string& path) { return path.substr(path.find_first_not_of('/')); }

// A file the plan read was changed by someone else before the commit: nothing is written.
Error changed_meanwhile(const std::string& host, const std::string& path) {
  return Error(ErrorKind::kBadInput,
               "changed on the target since sshdctl read it (someone else edited it meanwhile); nothing was "
               "changed: run again to plan against what is there now",
               Location{host, path, 0});
}

// The dead-man a remote commit arms (see deadman.h): its tokens, one per probe, and when it
// acts (by this machine's clock).
struct DeadMan {
  long timeout_s = 0;  // 0: none armed
  std::time_t deadline = 0;
  std::vector<std::string> tokens;
  std::string how;  // what the commit said: "systemd UNIT" or "process PID"
};

std::string at_time(std::time_t t) { return text::utc(t, "%H:%M:%SZ"); }

// "the target undoes change set ID by itself at T unless a fresh login confirmed it"
std::string deadman_words(const ChangeSet& set, const DeadMan& dm) {
  return "the target undoes change set " + set.id + " by itself at " + at_time(dm.deadline) +
         " unless a fresh login confirmed it (see: sshdctl history)";
}

std::string undo_path(const std::string& id) { return std::string(kJournalDir) + "/" + id + "/undo.sh"; }

// Adds what the dead-man needs to the commit's archive: the undo script, the tokens the probes
// must leave (each in a directory only the probing user can write), the deadline, and the
// boot unit that carries out, before sshd starts, what came due while the host was down.
void add_deadman(Context& ctx, tar::Writer& archive, const ChangeSet& set, const DeadMan& dm) {
  host::Host& target = *ctx.target;
  const std::string dir = relative(std::string(kJournalDir) + "/" + set.id);
  archive.add_file(dir + "/undo.sh", undo_script(set, ctx.unit, dm.timeout_s, dm.tokens), 0700, 0, 0);
  archive.add_file(dir + "/confirm", dm.tokens.empty() ? "" : text::join(dm.tokens, "\n") + "\n", 0600, 0, 0);
  archive.add_file(dir + "/deadline", std::to_string(dm.deadline) + " " + std::to_string(dm.timeout_s) + "\n", 0600, 0,
                   0);
  // The probing user must reach its token: /var/lib/sshdctl is traversable, the tokens'
  // directory only traversable (not listable), each token's writable by that user alone.
  archive.add_dir(relative(kConfirmDir).substr(0, relative(kConfirmDir).rfind('/')), 0755, 0, 0);
  archive.add_dir(relative(kConfirmDir), 0711, 0, 0);
  for (std::size_t i = 0; i < dm.tokens.size(); ++i) {
    const auto account = host::find_account(target, ctx.probes[i].user);
    if (!account)
      throw Error(ErrorKind::kNotFound, "the login probe's user " + ctx.probes[i].user + " is not in /etc/passwd",
                  Location{target.name(), "/etc/passwd", 0});
    archive.add_dir(relative(std::string(kConfirmDir) + "/" + dm.tokens[i]), 0700, account->uid, account->gid);
  }
  // The boot step (a reboot before the confirmation undoes the change before sshd starts):
  // systemd's unit, else an init script the commit enables with update-rc.d (kBootEnable in
  // the change set's directory asks for that) when it is new or not in insserv's boot order.
  const bool systemd = target.stat("/run/systemd/system").exists;
  if (!systemd && !target.stat("/etc/init.d").exists) return;
  if (target.read_file(kBootScript) != boot_script())
    archive.add_file(relative(kBootScript), boot_script(), 0755, 0, 0);
  if (systemd) {
    if (target.read_file(kBootUnit) != boot_unit()) {
      archive.add_file(relative(kBootUnit), boot_unit(), 0644, 0, 0);
      archive.add_symlink(relative(kBootWants), kBootUnit);
    }
    return;
  }
  const bool current = target.read_file(kBootInit) == boot_init_script();
  if (!current) archive.add_file(relative(kBootInit), boot_init_script(), 0755, 0, 0);
  if (!current || target.read_file(kInitDepends).value_or("").find("sshdctl-boot") == std::string::npos)
    archive.add_file(dir + "/" + kBootEnable, "", 0600, 0, 0);
}

// The commit step on a remote target: one request (see commit.cpp), which also arms `dm` when it
// has a timeout. Throws Error naming what the target refused; nothing live changed then.
std::vector<std::string> commit_remote(Context& ctx, const ChangeSet& set,
                                       const std::vector<config::FileChange>& changes,
                                       const std::vector<std::optional<std::string>>& befores,
                                       const std::vector<std::optional<std::string>>& afters,
                                       const std::map<std::string, std::string>& candidate,
                                       const std::string& main_file, bool sshd_changed,
                                       const std::vector<std::string>& more_checks, DeadMan& dm) {
  host::Host& target = *ctx.target;
  const Location where{target.name(), {}, 0};
  if (sshd_changed && !target.has_program(kSshd)) throw config::sshd_missing(target.name());
  const std::time_t now = std::time(nullptr);
  tar::Writer archive(now);
  archive.add_dir(relative(std::string(kJournalDir) + "/" + set.id), 0700, 0, 0);
  for (const auto& [path, content] : Journal::record_files(set, befores, afters))
    archive.add_file(relative(path), content, 0600, 0, 0);
  if (dm.timeout_s > 0) add_deadman(ctx, archive, set, dm);
  const std::string check = kCheckPrefix + set.id;
  if (sshd_changed) {
    archive.add_dir(relative(check), 0700, 0, 0);
    for (const auto& [path, content] : candidate)
      archive.add_file(relative(check + path), config::rewrite_includes(content, check), 0600, 0, 0);
  }
  std::vector<CommitFile> files;
  for (const auto& change : changes) {
    if (change.path.find('\n') != std::string::npos)
      throw Error(ErrorKind::kUnsupported, "a file name with a newline", Location{target.name(), change.path, 0});
    files.push_back(CommitFile{change.path, change.before ? std::optional(sha256_hex(*change.before)) : std::nullopt,
                               change.removes});
    if (!change.removes)
      archive.add_file(relative(change.path + ".sshdctl-new"), change.after, change.info.mode, change.info.uid,
                       change.info.gid);
    spdlog::info("{}: {} {}", target.name(), change.removes ? "removing" : "writing", change.path);
  }
  if (ctx.on_phase)
    ctx.on_phase(dm.timeout_s > 0 ? target.name() + ": if the commit got through, " + deadman_words(set, dm)
                                  : target.name() + ": if the commit got through, change set " + set.id +
                                        " is on the target (see: sshdctl history)");
  const auto r = target.run_script(
      commit_script(),
      commit_args(set.id, ctx.lock_timeout_s, now, sshd_changed ? main_file : "", dm.timeout_s, more_checks, files),
      archive.finish());
  if (!r) throw Error(ErrorKind::kInternal, "this target runs no scripts", where);
  const std::string said = text::trim(text::replace_all(r->out, check, ""));
  const auto lines = text::lines(said);
  // The script's last program releases the lock: once it said "committed", its status is rm's.
  const int status = !lines.empty() && lines.back() == "committed" ? 0 : r->exit_code;
  switch (status) {
    case 0: {
      std::vector<std::string> checks;
      if (sshd_changed) checks.push_back("validated with sshd -T (sshd of " + target.name() + ")");
      for (const auto& line : lines) {
        if (line.rfind("armed ", 0) == 0) dm.how = line.substr(6);
        if (line == "boot enabled")
          checks.push_back(std::string("boot step enabled (update-rc.d): ") + kBootInit +
                           " undoes an unconfirmed change at boot, before sshd starts");
        if (line == "boot failed")
          checks.push_back(std::string("boot step NOT enabled: update-rc.d could not enable ") + kBootInit +
                           "; a reboot before the confirmation keeps this change");
      }
      if (dm.timeout_s > 0)
        checks.push_back("dead-man armed on the target (" +
                         (dm.how.rfind("systemd ", 0) == 0 ? "systemd timer " + dm.how.substr(8) + ".timer"
                          : dm.how.rfind("process ", 0) == 0
                              ? "a detached sleep, pid " + dm.how.substr(8) + ": no systemd timer could be made"
                              : std::string("?")) +
                         "): it undoes the change at " + at_time(dm.deadline) + " unless a fresh login confirms it");
      return checks;
    }
    case 10: {
      std::vector<std::string> paths;
      for (const auto& line : lines)
        if (line.rfind("drift ", 0) == 0) paths.push_back(line.substr(6));
      throw changed_meanwhile(target.name(), paths.empty() ? std::string() : paths.front())
          .with_detail(paths.size() > 1 ? "also changed: " + text::join({paths.begin() + 1, paths.end()}, ", ")
                                        : std::string());
    }
    case 11: {
      // "rejected", sshd's words on the candidate, then "before-accepted" or "before-rejected"
      // and its words on the live tree.
      const std::string before = "\nbefore-rejected";
      const auto verdict = said.find("\nbefore-");
      if (verdict != std::string::npos && said.compare(verdict, before.size(), before) == 0) {
        const std::string words = text::trim(said.substr(verdict + before.size()));
        throw Error(ErrorKind::kRejected,
                    "sshd -T already rejects the current configuration, before this change; fix that first "
                    "(nothing was changed)",
                    config::sshd_complaint_location(target.name(), words, main_file))
            .with_detail(words);
      }
      const std::string words =
          text::trim(said.substr(std::string("rejected").size(), verdict - std::string("rejected").size()));
      throw Error(ErrorKind::kRejected, "sshd -T rejected the new configuration; nothing was changed",
                  config::sshd_complaint_location(target.name(), words, main_file))
          .with_detail(words);
    }
    case 12: {
      const auto w = text::split_words(lines.empty() ? "" : lines.front());
      const std::string owner = w.size() > 1 ? w[1] : "?";
      throw lock_held(target.name(), owner == "?" ? "" : owner, w.size() > 2 ? std::atol(w[2].c_str()) : 0,
                      ctx.lock_timeout_s);
    }
    case 14:
      throw Error(ErrorKind::kUnsupported,
                  "is a symbolic link; sshdctl replaces regular files only (nothing was changed)",
                  Location{target.name(), lines.empty() ? std::string() : lines.front().substr(8), 0});
    case 15: {
      // Some files are new, some old: the change set is recorded, so it is rolled back at once,
      // as the next run would.
      std::string undone;
      try {
        undone = recover_interrupted(ctx);
      } catch (const Error& e) {
        undone = "the rollback failed too (" + e.message() +
                 "): " + (dm.timeout_s > 0 ? deadman_words(set, dm) : "the next run rolls it back");
      }
      throw Error(ErrorKind::kInternal, "a rename failed halfway through the commit",
                  Location{target.name(), lines.empty() ? std::string() : lines.front().substr(8), 0})
          .with_detail(undone);
    }
    default:
      throw Error(ErrorKind::kInternal,
                  "the commit failed on the target; nothing live was changed (" +
                      text::trim(said + (said.empty() ? "" : "; ") + r->err) + ")",
                  where);
  }
}

}  // namespace

std::string describe(const service::ActionResult& r) {
  std::string out = r.action + " of " + r.after.unit + " through " + r.method + ": " + r.job_result;
  if (!r.note.empty()) return out + " (" + r.note + ")";
  out += ", now " + r.after.active_state + (r.after.sub_state.empty() ? "" : "/" + r.after.sub_state);
  if (r.after.main_pid != 0) out += ", main pid " + std::to_string(r.after.main_pid);
  return out + "; open sessions are kept";
}

std::optional<std::string> run_probes(const Context& ctx, const std::vector<std::string>& commands) {
  for (std::size_t i = 0; i < ctx.probes.size(); ++i)
    if (auto why = ctx.probes[i].run(i < commands.size() ? commands[i] : "true"))
      return "a fresh login as " + ctx.probes[i].what + " fails: " + *why;
  return std::nullopt;
}

host::SnapshotRequest snapshot_request(bool shadow) {
  host::SnapshotRequest r;
  r.sshd_roots = {"/etc/ssh/sshd_config", "/usr/etc/ssh/sshd_config"};
  r.files = {"/etc/passwd", "/etc/group", "/etc/login.defs", kBootUnit, kBootScript, kBootInit, kInitDepends};
  if (shadow) r.files.emplace_back("/etc/shadow");
  r.stats = {"/run/systemd/system", "/run/sshd", "/var/lib/sshdctl", "/etc/init.d"};
  r.globs = {std::string(kJournalDir) + "/*.open"};
  r.programs = {kSshd};
  return r;
}

SnapshotScope::SnapshotScope(Context& ctx, const host::SnapshotRequest& request, bool reloads)
    : ctx_(ctx), outer_(ctx.target) {
  host::Host& target = *ctx.target;
  if (reloads && ctx.reload && !ctx.dry_run && target.runs_scripts()) {
    const std::string unit = ctx.unit;
    service_ = std::async(std::launch::async, [&target, unit] {
                 return std::shared_ptr<service::ServiceManager>(service::open_service_manager(target, unit));
               }).share();
  }
  snap_ = std::make_unique<host::SnapshotHost>(target, target.snapshot(request));
  ctx_.target = snap_.get();
  if (service_.valid()) ctx_.early_service = &service_;
  fault(ctx_, "snapshot");
}

SnapshotScope::~SnapshotScope() {
  ctx_.early_service = nullptr;
  if (snap_->misses() > 0) spdlog::debug("{}: {} read(s) the snapshot did not have", snap_->name(), snap_->misses());
  ctx_.target = outer_;
}

namespace {

// Runs the change set's own undo script on the target (one request): "reverted N",
// "confirmed", "nothing: …"; nullopt when the change set has none (made by an in-process run).
std::optional<host::CommandResult> run_undo(Context& ctx, const ChangeSet& set, const std::string& mode,
                                            const std::string& why) {
  // Sourced by the root shell's own subshell: no process of its own.
  const auto r = ctx.target->run_script(
      "[ -f \"$1\" ] || exit 99\nu=$1\nshift\n. \"$u\"",
      {undo_path(set.id), mode, why, std::to_string(ctx.lock_timeout_s), std::to_string(std::time(nullptr))}, {});
  if (!r || r->exit_code == 99) return std::nullopt;
  return r;
}

std::string last_line(const std::string& out) {
  const auto lines = text::lines(text::trim(out));
  return lines.empty() ? std::string() : lines.back();
}

// What an undo script's answer means, for the operator; throws for a lock or a run in flight.
std::string undo_outcome(Context& ctx, const ChangeSet& set, const host::CommandResult& r, bool& reverted) {
  const std::string line = last_line(r.out);
  const std::string what = "change set " + set.id + " (" + set.verb + ")";
  reverted = false;
  switch (line == "confirmed" ? 0 : r.exit_code) {  // "confirmed": the status is the lock release's
    case 0:
      if (line == "confirmed") return what + " was confirmed by a fresh login before its run ended: it stays";
      if (line.rfind("reverted ", 0) == 0) {
        reverted = true;
        return what + " was interrupted: rolled back " + line.substr(9) + " file(s)";
      }
      if (line.rfind("nothing: ", 0) == 0 && line != "nothing: no file to revert")
        return what + " was finished by its own run meanwhile (" + line.substr(9) + ")";
      return what + " was interrupted before any file changed";
    case 10:
      return what + " was interrupted and a file has changed since (" + text::trim(line.substr(5)) +
             "): left as it is (see: sshdctl show-change " + set.id + ")";
    case 11:
      return what + " was interrupted, but sshd -T refuses the files as they were before: the change stays (" +
             text::trim(r.out) + ")";
    case 12: {
      const auto w = text::split_words(line);
      throw lock_held(ctx.target->name(), w.size() > 1 && w[1] != "?" ? w[1] : "",
                      w.size() > 2 ? std::atol(w[2].c_str()) : 0, ctx.lock_timeout_s);
    }
    case 20: {
      const auto w = text::split_words(line);
      std::string deadline;
      if (w.size() > 2) deadline = " (the target undoes it by itself at " + at_time(std::atol(w[2].c_str())) + ")";
      throw Error(ErrorKind::kPermission,
                  what + " by " + set.who + " is still being confirmed by its run, whose session (pid " +
                      (w.size() > 1 ? w[1] : "?") + " on the target) is open; waited " +
                      std::to_string(ctx.lock_timeout_s) + " s; nothing was done" + deadline,
                  Location{ctx.target->name(), {}, 0})
          .with_detail("run again when that run has ended; a run whose path was cut ends when sshd drops its session");
    }
    default:
      throw Error(ErrorKind::kInternal,
                  "the undo of " + what + " failed: " + text::trim(r.out + (r.err.empty() ? "" : "; " + r.err)),
                  Location{ctx.target->name(), {}, 0});
  }
}

// The probes passed: the change set is done. On a remote target its undo script checks, under
// the target's lock, that every fresh login left its token (the dead-man's timer, left to run
// out, then finds nothing to do).
void confirm_change(Context& ctx, Journal& journal, const ChangeSet& set, const DeadMan& dm) {
  if (dm.timeout_s == 0) {
    journal.set_state(set.id, "done");
    return;
  }
  const auto r = run_undo(ctx, set, "confirm", "");
  if (!r) throw Error(ErrorKind::kInternal, "the undo script of change set " + set.id + " is missing on the target");
  const std::string line = last_line(r->out);
  if (r->exit_code == 0 || line == "confirmed") return;  // then the status is the lock release's
  if (r->exit_code == 3 && line.rfind("nothing: ", 0) == 0)
    throw Error(ErrorKind::kRolledBack,
                "change set " + set.id + " was not confirmed in time: the target has undone it by itself (" +
                    line.substr(9) + ")",
                Location{ctx.target->name(), {}, 0})
        .with_detail("a longer --confirm-timeout gives slow logins more time");
  if (r->exit_code == 3)
    throw Error(ErrorKind::kInternal, "the fresh login did not leave its confirmation on the target",
                Location{ctx.target->name(), kConfirmDir, 0});
  bool reverted = false;
  (void)undo_outcome(ctx, set, *r, reverted);  // throws for the lock
  throw Error(ErrorKind::kInternal, "the confirmation failed: " + text::trim(r->out + " " + r->err),
              Location{ctx.target->name(), {}, 0});
}

// The change goes, at once, through this session: the target's undo script (one request), or
// the before-images written back here. Returns what the target had done by itself already (its
// dead-man ran out first, as when a fresh login takes longer than --confirm-timeout), or "".
std::string roll_back(Context& ctx, Journal& journal, const ChangeSet& set,
                      const std::vector<config::FileChange>& changes, const std::string& why) {
  if (ctx.target->runs_scripts()) {
    if (const auto r = run_undo(ctx, set, "rollback", why)) {
      bool reverted = false;
      const std::string said = undo_outcome(ctx, set, *r, reverted);
      if (r->exit_code != 0) throw Error(ErrorKind::kInternal, said, Location{ctx.target->name(), {}, 0});
      const std::string prefix = "nothing: rolled-back: ";  // the state the dead-man left
      const std::string line = last_line(r->out);
      if (line.rfind(prefix + "reverted by the target", 0) == 0)
        return "the target had undone change set " + set.id + " by itself already (" + line.substr(prefix.size()) + ")";
      return {};
    }
  }
  std::size_t restored = 0;
  try {
    for (auto it = changes.rbegin(); it != changes.rend(); ++it, ++restored) {
      if (it->before)
        ctx.target->write_file_atomic(it->path, *it->before, it->info);
      else
        ctx.target->remove_file(it->path);
    }
    journal.set_state(set.id, "rolled-back: " + why);
  } catch (const Error& e) {
    std::vector<std::string> left;
    for (std::size_t k = 0; k + restored < changes.size(); ++k) left.push_back(changes[k].path);
    throw Error(e.kind(), e.message() + " (still changed, each file whole, old or new: " + text::join(left, ", ") + ")",
                e.where());
  }
  return {};
}

}  // namespace

std::string recover_interrupted(Context& ctx) {
  Journal journal(*ctx.target);
  std::vector<std::string> said;
  bool reload = false;
  for (auto& set : journal.unfinished()) {
    // A remote target undoes it by itself, in one request, under its lock.
    if (const auto r = run_undo(ctx, set, "recover", "interrupted")) {
      std::vector<std::string> touched{std::string(kJournalDir) + "/" + set.id + ".open",
                                       std::string(kJournalDir) + "/" + set.id + "/state"};
      for (const auto& f : set.files) touched.push_back(f.path);
      ctx.target->forget(touched);
      bool reverted = false;
      said.push_back(undo_outcome(ctx, set, *r, reverted));
      if (reverted && set.service.rfind("reload", 0) == 0) reload = true;
      continue;
    }
    // Made by an in-process run: the steps here, under the lock (a remote caller holds none).
    std::optional<TargetLock> lock;
    if (ctx.target->runs_scripts()) lock.emplace(*ctx.target, ctx.lock_timeout_s);
    std::vector<std::size_t> live;  // files at their after-image
    bool drift = false;
    for (std::size_t i = 0; i < set.files.size(); ++i) {
      const auto now = ctx.target->read_file(set.files[i].path);
      const auto sha = now ? std::optional<std::string>(sha256_hex(*now)) : std::nullopt;
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
  if (reload && !ctx.target->offline() && ctx.reload) said.back() += "; " + reload_after_change(ctx, std::nullopt);
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
  // A remote target commits in one request, under a lock the target takes for that request
  // alone; elsewhere the steps run in-process under a lock held for the whole run.
  const bool one_request = !ctx.dry_run && ctx.target->runs_scripts();

  // A window that cannot be kept is refused before anything changes.
  std::shared_ptr<service::ServiceManager> windows;
  if (ctx.window_s > 0 && !ctx.dry_run) {
    if (ctx.target->offline())
      throw Error(ErrorKind::kUnsupported,
                  "an offline root has no timers: --for/--confirm-within need a running host "
                  "with systemd; nothing was changed",
                  Location{report.host, {}, 0});
    windows = service_manager(ctx);
    if (!windows->can_schedule())
      throw Error(ErrorKind::kUnsupported,
                  "maintenance windows need systemd (transient timers), which this host does not run; nothing was "
                  "changed",
                  Location{report.host, {}, 0});
  }

  // Safety invariant 3: one run at a time per target; an interrupted change is dealt with first.
  // A remote target's steps (the undo of an interrupted change, the commit) each take the
  // target's lock for their own request; elsewhere the lock is held for the whole run.
  std::optional<TargetLock> lock;
  if (!ctx.dry_run) {
    const bool interrupted = !Journal(*ctx.target).unfinished().empty();
    if (!one_request) lock.emplace(*ctx.target, ctx.lock_timeout_s);
    fault(ctx, "locked");
    if (interrupted)
      if (const auto recovered = recover_interrupted(ctx); !recovered.empty())
        for (const auto& line : text::lines(recovered))
          report.notes.push_back(config::Note{{report.host, {}, 0}, line});
  }
  if (ctx.on_phase) ctx.on_phase(report.host + ": before the commit: nothing was changed");

  // The engine's part (Augeas trees: memory and CPU) holds one of a few slots, so that a fleet
  // of hundreds of hosts keeps a bounded number of parsed trees; the tree is gone before the
  // round trips of the commit, reload and probe.
  std::vector<config::FileChange> changes;
  std::map<std::string, std::string> candidate;
  std::map<std::string, std::string> current;
  std::string main_file;
  std::vector<std::string> old_streams_now;
  std::optional<std::vector<std::string>> new_streams;
  std::vector<std::string> more_checks;  // the Match blocks' check connections (validate.h)
  bool sshd_changed = false;
  {
    const EngineSlot slot;
    config::ConfigTree tree(*ctx.target, ctx.lens_dir);
    try {
      tree.load();
    } catch (const Error& e) {
      // sshd may stop earlier in its reading than sshdctl's parser did (a value it refuses, a
      // keyword given twice): what sshd says comes first (one sshd run, only on this path).
      if (e.kind() == ErrorKind::kConfigParse) {
        try {
          config::SshdOracle(*ctx.target, *ctx.controller)
              .require_current_accepted(tree.files_as_sshd_reads(), tree.main_file());
        } catch (const Error& sshd_says) {
          // Where sshd stops at the same line, sshdctl's reason (which quotes it) stands, as it
          // does when there is no sshd to ask.
          if (sshd_says.kind() == ErrorKind::kRejected &&
              (sshd_says.where().file != e.where().file || sshd_says.where().line != e.where().line))
            throw;
        }
      }
      throw;
    }
    config::Plan plan;
    try {
      plan = make_plan(tree.model());
    } catch (const Error& e) {
      // A tree sshd refuses already is reported as that, before a reason of the plan's (one
      // sshd run, only here; a remote target's commit makes that check itself)
      if (e.kind() == ErrorKind::kUnsupported && !one_request)
        config::SshdOracle(*ctx.target, *ctx.controller)
            .require_current_accepted(tree.current(), tree.model().main_file);
      throw;
    }
    // Spelt as the target's sshd spells it; what that release refuses is refused here (the
    // release is asked only then: locally it costs a run of sshd -V).
    if (!plan.edits.empty())
      config::fit_to_version(plan, config::parse_openssh_version(ctx.target->openssh_version()), report.host);
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
    more_checks = config::block_check_connections(edited);
    main_file = tree.model().main_file;
    current = tree.current();
    old_streams_now = config::listen_streams(tree.model());
    if (auto after = config::listen_streams(edited); after != old_streams_now) new_streams = std::move(after);
  }
  fault(ctx, "planned");

  for (const auto& change : changes)
    report.files.push_back(FileReport{
        change.path,
        !change.masked.empty()
            ? change.path + ": " + change.masked
            : text::unified_diff(change.before.value_or(""), change.removes ? "" : change.after, change.path),
        !change.before.has_value()});
  report.changed = true;

  if (sshd_changed && !one_request) {
    config::SshdOracle oracle(*ctx.target, *ctx.controller);
    report.checks = oracle.validate(candidate, main_file, current, more_checks);
  }
  if (ctx.dry_run) {
    report.service = "dry run: nothing was written, nothing reloaded";
    return report;
  }

  // Safety invariant 3: the change set is on the target before any live file changes.
  Journal journal(*ctx.target);
  ChangeSet set;
  set.id = new_id(std::time(nullptr));
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
    FileRecord f;
    f.path = change.path;
    f.info = change.info;
    if (change.before) f.before_sha = sha256_hex(*change.before);
    if (!change.removes) f.after_sha = sha256_hex(change.after);
    set.files.push_back(f);
    befores.push_back(change.before);
    afters.push_back(change.removes ? std::nullopt : std::optional<std::string>(change.after));
  }
  report.id = set.id;

  DeadMan dm;
  if (one_request && ctx.reload && !ctx.target->offline()) {
    dm.timeout_s = ctx.confirm_timeout_s;
    dm.deadline = std::time(nullptr) + dm.timeout_s;
    for (std::size_t k = 0; k < ctx.probes.size(); ++k) dm.tokens.push_back(new_token());
  }
  if (one_request) {
    for (auto& line :
         commit_remote(ctx, set, changes, befores, afters, candidate, main_file, sshd_changed, more_checks, dm))
      report.checks.push_back(std::move(line));
  } else {
    // In-process: what the plan read must still be there (else someone edited it meanwhile).
    for (const auto& change : changes) {
      if (ctx.target->live().read_file(change.path) != change.before) throw changed_meanwhile(report.host, change.path);
    }
    journal.record(set, befores, afters);
    fault(ctx, "journal recorded");
    // A window's timer (and the boot step) is in place before any live file changes, as a
    // remote commit arms its dead-man before its renames: a window that cannot be set up
    // leaves nothing changed, and a change that is live has its way back.
    if (windows) {
      try {
        start_window(ctx, *windows, journal, set, report);
      } catch (const Error& e) {
        journal.set_state(set.id, "abandoned: the window could not be set up: " + e.message());
        throw Error(e.kind(), "the window could not be set up (" + e.message() + "); nothing was changed", e.where());
      }
    }
    for (const auto& change : changes) {
      spdlog::info("{}: {} {}", report.host, change.removes ? "removing" : "writing", change.path);
      if (change.removes)
        ctx.target->remove_file(change.path);
      else
        ctx.target->write_file_atomic(change.path, change.after, change.info);
      fault(ctx, change.path);
    }
    journal.set_state(set.id, "applied");
  }
  fault(ctx, one_request ? "committed" : "applied");
  if (!ctx.reload || ctx.target->offline()) {
    report.service =
        sshd_changed ? reload_after_change(ctx, new_streams) : "sshd's configuration is unchanged: nothing to reload";
    fault(ctx, "reloaded");
    journal.set_state(set.id, "done");
    return report;
  }
  const std::string armed = dm.timeout_s > 0 ? deadman_words(set, dm) : std::string();
  if (ctx.on_phase && !armed.empty()) ctx.on_phase(report.host + ": after the commit: " + armed);
  // From here on a failure leaves the change to the dead-man when this machine cannot undo it.
  const auto left_to_target = [&](const std::string& step, const Error& e) {
    return Error(e.kind(),
                 "the change was committed, but " + step + " failed: " + e.message() +
                     (armed.empty() ? "" : "; " + armed),
                 e.where())
        .with_detail(e.detail());
  };

  // Reload, then the fresh logins that confirm the change (safety invariant 4); any failure
  // rolls the change back at once through this session.
  std::optional<std::string> failure;
  std::string failed_step;
  try {
    report.service =
        sshd_changed ? reload_after_change(ctx, new_streams) : "sshd's configuration is unchanged: nothing to reload";
    fault(ctx, "reloaded");
    std::vector<std::string> commands;
    for (const auto& token : dm.tokens) commands.push_back(confirm_command(token));
    failure = run_probes(ctx, commands);
    fault(ctx, "probed");
  } catch (const Error& e) {
    failure = "the reload failed: " + e.message();
    failed_step = "the reload";
  }
  if (!failure) {
    for (const auto& probe : ctx.probes)
      report.checks.push_back("login probe: a fresh login as " + probe.what + " works");
    if (ctx.on_phase && !armed.empty())
      ctx.on_phase(report.host + ": change set " + set.id +
                   " was confirmed by a fresh login; the target keeps it (its dead-man finds the confirmation)");
    try {
      confirm_change(ctx, journal, set, dm);
    } catch (const Error& e) {
      throw left_to_target("its confirmation", e);
    }
    fault(ctx, "confirmed");
    if (dm.timeout_s > 0) {
      report.confirmation = dm.tokens.empty() ? "kept by this run (--no-probe)" : "confirmed by a fresh login";
      report.checks.push_back(
          dm.tokens.empty() ? "--no-probe: kept by this run itself, with no fresh login tried: the dead-man leaves it"
                            : "confirmed on the target by the fresh login: the dead-man leaves it");
    }
    if (windows && one_request) start_window(ctx, *windows, journal, set, report);
    return report;
  }
  spdlog::warn("{}: {}; rolling the change back", report.host, *failure);
  std::string by_target;
  try {
    by_target =
        roll_back(ctx, journal, set, changes, failed_step.empty() ? "the login probe failed" : failed_step + " failed");
  } catch (const Error& e) {
    throw Error(ErrorKind::kInternal, *failure + "; THE ROLLBACK FAILED: " + e.message(), Location{report.host, {}, 0})
        .with_detail(armed.empty()
                         ? "restore the files by hand, from the console if need be (see: sshdctl show-change " +
                               set.id + ")"
                         : armed);
  }
  std::string outcome;
  try {
    std::optional<std::vector<std::string>> old_streams;
    if (new_streams) old_streams = old_streams_now;
    if (sshd_changed) reload_sshd(ctx, old_streams, true);
    const auto again = run_probes(ctx);
    outcome = again ? "; the login STILL FAILS after the rollback: " + *again : "; the login works again";
  } catch (const Error& e) {
    outcome = "; the files are restored, but " + e.message();
  }
  const bool late = !by_target.empty();  // the fresh login came after the dead-man's deadline
  throw Error(ErrorKind::kRolledBack, "rolled back: " + *failure + (late ? "; " + by_target : "") + outcome,
              Location{report.host, {}, 0})
      .with_detail(late ? "every file is back as it was; a longer --confirm-timeout gives slow logins more time"
                        : "the change would have locked the operator out; every file is back as it was");
}

}  // namespace sshdctl::txn

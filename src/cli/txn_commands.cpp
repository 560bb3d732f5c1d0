// history, show-change and revert: the target's journal of change sets, read and undone.
#include "change.h"
#include "commands.h"
#include "sshdctl/accounts/password.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/service/service.h"
#include "sshdctl/txn/journal.h"
#include "sshdctl/txn/window.h"

namespace sshdctl::cli {

namespace {

// A diff that never shows a secret: shadow files are masked.
std::string safe_diff(const std::string& path, const std::optional<std::string>& before,
                      const std::optional<std::string>& after) {
  if (path == "/etc/shadow") return accounts::masked_shadow_diff(before.value_or(""), after.value_or(""), path);
  return text::unified_diff(before.value_or(""), after.value_or(""), path);
}

}  // namespace

HistoryReport history(Context& ctx) {
  HistoryReport report;
  report.host = ctx.target->name();
  report.sets = txn::Journal(*ctx.target).list();
  return report;
}

ShowChangeReport show_change(Context& ctx, const std::string& id) {
  txn::Journal journal(*ctx.target);
  ShowChangeReport report;
  report.host = ctx.target->name();
  report.set = journal.load(id);
  for (std::size_t i = 0; i < report.set.files.size(); ++i) {
    const auto& f = report.set.files[i];
    report.files.push_back(
        FileReport{f.path, safe_diff(f.path, journal.before_image(report.set, i), journal.after_image(report.set, i)),
                   !f.before_sha});
  }
  return report;
}

ChangeReport revert(Context& ctx, const std::optional<std::string>& id, bool force) {
  txn::Journal journal(*ctx.target);
  std::string target_id;
  if (id) {
    target_id = *id;
  } else {
    for (const auto& set : journal.list())
      if (set.state == "done") target_id = set.id;
    if (target_id.empty())
      throw Error(ErrorKind::kNotFound, "no change set to revert (see: sshdctl history)",
                  Location{ctx.target->name(), {}, 0});
  }
  const auto set = journal.load(target_id);
  if (set.state != "done" && !force)
    throw Error(ErrorKind::kBadInput,
                "change set " + set.id + " is '" + set.state +
                    "', not done: nothing to revert "
                    "(--force reverts it anyway)",
                Location{ctx.target->name(), {}, 0});

  // Each file must still be as the change left it; else somebody changed it since.
  std::vector<config::FileChange> changes;
  std::vector<std::string> drift;
  for (std::size_t i = 0; i < set.files.size(); ++i) {
    const auto& f = set.files[i];
    const auto now = ctx.target->read_file(f.path);
    const auto now_sha = now ? std::optional<std::string>(txn::sha256_hex(*now)) : std::nullopt;
    if (now_sha != f.after_sha) {
      drift.push_back(f.path + ": the change left it as\n" + safe_diff(f.path, journal.after_image(set, i), now) +
                      "(before the change it was as\n" + safe_diff(f.path, journal.before_image(set, i), now) + ")\n");
    }
    config::FileChange change;
    change.path = f.path;
    change.before = now;
    const auto info = ctx.target->stat(f.path);
    change.info = info.exists ? info : f.info;
    if (f.before_sha) {
      const auto image = journal.before_image(set, i);
      if (!image)
        throw Error(ErrorKind::kNotFound, "the journal lacks the before-image of " + f.path,
                    Location{ctx.target->name(), std::string(txn::kJournalDir) + "/" + set.id, 0});
      if (txn::sha256_hex(*image) != *f.before_sha)
        throw Error(ErrorKind::kInternal, "the journal's before-image of " + f.path + " is damaged (hash differs)",
                    Location{ctx.target->name(), std::string(txn::kJournalDir) + "/" + set.id, 0});
      change.after = *image;
    } else {
      change.removes = true;  // the change created it
    }
    if (f.path == "/etc/shadow")
      change.masked =
          "restored as before " + set.id + "\n" + accounts::masked_shadow_diff(now.value_or(""), change.after, f.path);
    if (change.before != (change.removes ? std::nullopt : std::optional<std::string>(change.after)))
      changes.push_back(std::move(change));
  }
  if (!drift.empty() && !force)
    throw Error(ErrorKind::kBadInput,
                "revert refused: " + std::to_string(drift.size()) + " file(s) changed since change set " + set.id +
                    " (--force restores them anyway)",
                Location{ctx.target->name(), {}, 0})
        .with_detail(text::join(drift, "\n"));

  auto report = run_change(
      ctx, "revert " + set.id, [](const config::Model&) { return config::Plan{}; }, nullptr,
      [&](const config::Model&) { return changes; }, set.id);
  if (report.changed && !ctx.dry_run) journal.set_state(set.id, "reverted by " + report.id);
  return report;
}

ChangeReport confirm(Context& ctx, const std::string& id) {
  txn::Journal journal(*ctx.target);
  const auto set = journal.load(id);
  ChangeReport report;
  report.host = ctx.target->name();
  report.verb = "confirm";
  report.id = id;
  if (set.window.rfind("ends ", 0) != 0)
    throw Error(ErrorKind::kBadInput,
                "change set " + id + " has no open window" + (set.window.empty() ? "" : " (" + set.window + ")"),
                Location{report.host, {}, 0});
  if (ctx.dry_run) {
    report.notes.push_back(config::Note{{report.host, {}, 0}, "dry run: the window stays open"});
    return report;
  }
  auto manager = service::open_service_manager(*ctx.target, ctx.unit);
  const bool stopped = manager->cancel(txn::window_unit(id));
  journal.set_window(id, "confirmed by " + ctx.who);
  report.changed = true;
  report.notes.push_back(
      config::Note{{report.host, {}, 0},
                   stopped ? "confirmed: the timer " + txn::window_unit(id) + ".timer is stopped; the change stays"
                           : "confirmed (no timer was left: see history for what happened)"});
  return report;
}

std::optional<std::string> rollout_change(Context& ctx, const std::string& rollout) {
  std::optional<std::string> found;
  for (const auto& set : txn::Journal(*ctx.target).list())
    if (set.rollout == rollout && set.state == "done") found = set.id;
  return found;
}

}  // namespace sshdctl::cli

// plan/apply of a policy, and the fleet runner every verb goes through with -i INVENTORY.
#include "fleet.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>

#include "change.h"
#include "output.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/host/dry_run_host.h"
#include "sshdctl/txn/journal.h"

namespace sshdctl::cli {

namespace {

using config::Model;
using config::Plan;

// Settings for one new Match block arrive as one kNewBlock edit each: one block holds them all.
void merge_new_blocks(Plan& plan) {
  std::vector<config::Edit> merged;
  for (auto& edit : plan.edits) {
    if (edit.kind == config::Edit::Kind::kNewBlock) {
      bool joined = false;
      for (auto& m : merged)
        if (m.kind == config::Edit::Kind::kNewBlock && m.file == edit.file && m.path == edit.path &&
            config::same_criteria(m.criteria, edit.criteria)) {
          m.settings.insert(m.settings.end(), edit.settings.begin(), edit.settings.end());
          joined = true;
          break;
        }
      if (joined) continue;
    }
    merged.push_back(std::move(edit));
  }
  plan.edits = std::move(merged);
}

std::string first_line(const std::string& text) {
  const auto end = text.find('\n');
  return end == std::string::npos ? text : text.substr(0, end);
}

// What a change touched, for reports: sshd keywords from the diffs of sshd's files, else
// "FILE" for other files (key files, /etc/shadow).
std::vector<std::string> changed_keys(const ChangeReport& report) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const auto& f : report.files) {
    const bool sshd_file = f.path.find("sshd_config") != std::string::npos;
    if (!sshd_file) {
      if (seen.insert(f.path).second) keys.push_back(f.path);
      continue;
    }
    for (const auto& line : text::lines(f.diff)) {
      if (line.size() < 2 || (line[0] != '+' && line[0] != '-') || line.rfind("+++", 0) == 0 ||
          line.rfind("---", 0) == 0)
        continue;
      const auto words = text::split_words(line.substr(1));
      if (words.empty() || words[0][0] == '#') continue;
      const auto* kw = config::option_of(words[0]);
      const std::string name = kw != nullptr ? std::string(kw->name) : words[0];
      if (seen.insert(name).second) keys.push_back(name);
    }
  }
  return keys;
}

std::string diff_summary(const ChangeReport& report) {
  int added = 0;
  int removed = 0;
  for (const auto& f : report.files)
    for (const auto& line : text::lines(f.diff)) {
      if (line.rfind("+++", 0) == 0 || line.rfind("---", 0) == 0) continue;
      if (!line.empty() && line[0] == '+') ++added;
      if (!line.empty() && line[0] == '-') ++removed;
    }
  return "+" + std::to_string(added) + " -" + std::to_string(removed) + " in " + std::to_string(report.files.size()) +
         " file" + (report.files.size() == 1 ? "" : "s");
}

std::int64_t millis(double seconds) { return static_cast<std::int64_t>(seconds * 1000.0 + 0.5); }

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fs", s);
  return buf;
}

const char* shown_status(const fleet::HostResult& r, bool dry_run) {
  if (dry_run && r.status == fleet::HostStatus::kChanged) return "would change";
  return fleet::status_name(r.status);
}

// Live progress: one line redrawn on a terminal; a line per finished host otherwise.
class StderrProgress : public fleet::Progress {
 public:
  StderrProgress(bool tty, bool dry_run) : tty_(tty), dry_run_(dry_run), start_(std::chrono::steady_clock::now()) {}

  void started(const std::string& /*host*/) override {
    std::lock_guard lock(mutex_);
    ++in_flight_;
  }

  void finished(const fleet::HostResult& r, const fleet::RolloutSummary& s, std::size_t total) override {
    std::lock_guard lock(mutex_);
    --in_flight_;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const long done = s.changed + s.unchanged + s.ok + s.failed;
    std::string line = r.host + ": " + shown_status(r, dry_run_);
    if (!r.summary.empty()) line += " (" + r.summary + ")";
    line += " " + seconds_text(r.seconds);
    if (!tty_) {
      std::cerr << line << "\n";
      return;
    }
    char rate[32];
    std::snprintf(rate, sizeof rate, "%.1f", elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0);
    if (r.status == fleet::HostStatus::kFailed) std::cerr << "\r\033[K" << line << "\n";
    std::cerr << "\r\033[K[" << done << "/" << total << "] " << s.changed
              << (dry_run_ ? " would change, " : " changed, ") << s.unchanged << " unchanged, " << s.failed
              << " failed, " << in_flight_ << " in flight, " << rate << " hosts/s" << std::flush;
    if (done == static_cast<long>(total)) std::cerr << "\n";
  }

  void end() {
    if (tty_) std::cerr << "\r\033[K" << std::flush;
  }

 private:
  bool tty_;
  bool dry_run_;
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  long in_flight_ = 0;
};

Json host_json(const fleet::HostResult& r, const std::string& rollout, bool dry_run) {
  Json j = Json::object();
  j["host"] = r.host;
  j["status"] = shown_status(r, dry_run);
  j["exit_code"] = r.exit_code;
  j["canary"] = r.canary;
  j["changed_keys"] = Json::strings(r.changed_keys);
  j["summary"] = r.summary;
  j["change_id"] = r.change_id;
  if (!r.confirmation.empty()) j["confirmation"] = r.confirmation;
  if (!rollout.empty()) j["rollout"] = rollout;
  j["connect_ms"] = millis(r.connect_s);
  j["total_ms"] = millis(r.seconds);
  if (!r.error.empty()) j["error"] = r.error;
  j["report"] = r.detail;
  return j;
}

}  // namespace

std::map<std::string, std::string> policy_passwords(const fleet::Policy& policy) {
  std::map<std::string, std::string> out;
  for (const auto& u : policy.users) {
    std::optional<std::string> value;
    if (u.password_env) {
      const char* v = std::getenv(u.password_env->c_str());
      if (v == nullptr || *v == '\0')
        throw Error(ErrorKind::kBadInput,
                    policy.at(u.line) + ": the password of " + u.name + " comes from $" + *u.password_env + ", unset");
      value = v;
    } else if (u.password_file) {
      std::ifstream in(*u.password_file);
      std::string line;
      if (!in || !std::getline(in, line) || line.empty())
        throw Error(ErrorKind::kBadInput,
                    policy.at(u.line) + ": cannot read the password of " + u.name + " from " + *u.password_file);
      value = line;
    }
    if (value) out[u.name] = std::move(*value);
  }
  return out;
}

ChangeReport apply_policy(Context& ctx, const fleet::Policy& policy,
                          const std::map<std::string, std::string>& passwords) {
  std::vector<std::pair<host::Account, const fleet::PolicyUser*>> accounts;
  for (const auto& u : policy.users) accounts.emplace_back(account_or_fail(*ctx.target, u.name), &u);
  std::vector<config::Note> notes;
  const auto slash = policy.source.rfind('/');
  const std::string name = slash == std::string::npos ? policy.source : policy.source.substr(slash + 1);
  std::string unknown_release;
  const auto global = policy.sshd_for(config::parse_openssh_version(ctx.target->openssh_version()), &unknown_release);
  if (!unknown_release.empty()) notes.push_back(config::Note{{ctx.target->name(), {}, 0}, unknown_release});
  auto report = run_change(
      ctx, "apply " + name,
      [&](const Model& model) {
        Plan plan;
        for (const auto& s : global) plan.append(config::plan_set(model, s.key, s.values));
        for (const auto& m : policy.matches) {
          const auto criteria = config::parse_criteria(m.condition);
          Plan block;
          for (const auto& s : m.settings) block.append(config::plan_set_in_block(model, s.key, s.values, criteria));
          merge_new_blocks(block);
          plan.append(std::move(block));
        }
        return plan;
      },
      [&](const Model& edited) {
        for (const auto& s : global) config::require_set_effective(edited, s.key, s.values, policy.at(s.line));
      },
      [&](const Model& model) {
        std::vector<config::FileChange> changes;
        std::vector<ShadowRequest> shadow;
        for (const auto& [account, user] : accounts) {
          std::vector<accounts::PublicKey> add;
          for (const auto& line : user->keys_present) add.push_back(accounts::parse_public_key(line));
          std::vector<KeySelector> remove;
          for (const auto& sel : user->keys_absent)
            remove.push_back(KeySelector{sel.blob, sel.fingerprint, sel.comment});
          if (!add.empty() || !remove.empty()) {
            auto keys = key_changes(ctx, model, account, add, remove, false, notes);
            changes.insert(changes.end(), keys.begin(), keys.end());
          }
          ShadowRequest request{user->name, std::nullopt, false, false};
          if (const auto pw = passwords.find(user->name); pw != passwords.end()) request.password = pw->second;
          if (user->locked) (*user->locked ? request.lock : request.unlock) = true;
          if (request.password || request.lock || request.unlock) shadow.push_back(std::move(request));
        }
        if (!shadow.empty()) {
          auto more = shadow_change(*ctx.target, ctx.lens_dir, shadow, notes);
          changes.insert(changes.end(), more.begin(), more.end());
        }
        return changes;
      });
  report.notes.insert(report.notes.end(), notes.begin(), notes.end());
  return report;
}

Remote connect_remote(const host::SshTarget& target, const std::optional<std::string>& new_root_password) {
  Remote remote;
  remote.host = std::make_unique<host::SshHost>(target);
  auto& ssh = *remote.host;
  spdlog::info("{}: logged in as {} with {}", ssh.name(), ssh.login_user(), host::auth_methods_text(ssh.auth_method()));
  // Safety invariant 4: after a reload, the way in that was used must still work.
  host::SshTarget again = target;
  again.methods = ssh.auth_method();
  remote.probes.push_back({ssh.login_user() + " with " + host::auth_methods_text(again.methods), ssh.login_user(),
                           [again](const std::string& command) { return host::probe_login(again, command); }});
  if (new_root_password) {
    // The credential the operator will need next: root with the new password.
    host::SshTarget as_root = target;
    const auto at = target.destination.rfind('@');
    as_root.destination = "root@" + (at == std::string::npos ? target.destination : target.destination.substr(at + 1));
    as_root.identity.clear();
    as_root.private_key.reset();
    as_root.password = new_root_password;
    as_root.methods = host::kAuthPassword | host::kAuthKbdInteractive;
    remote.probes.push_back({"root with the new password", "root",
                             [as_root](const std::string& command) { return host::probe_login(as_root, command); }});
  }
  return remote;
}

int run_fleet(const FleetArgs& args, const host::SshTarget& base, const Context& base_ctx,
              const std::optional<std::string>& new_root_password, const std::function<Outcome(Context&)>& verb) {
  const auto inventory = fleet::load_inventory(args.inventory);
  const auto hosts = fleet::select_hosts(inventory, args.limit);
  std::vector<std::string> names;
  names.reserve(hosts.size());
  for (const auto& h : hosts) names.push_back(h.name);
  const std::string rollout = args.mutating && !base_ctx.dry_run ? txn::new_id(std::time(nullptr)) : std::string();
  std::unique_ptr<std::ofstream> report;
  if (!args.report_file.empty()) {
    report = std::make_unique<std::ofstream>(args.report_file, std::ios::trunc);
    if (!*report) throw Error(ErrorKind::kBadInput, "cannot write the report " + args.report_file);
  }
  std::mutex report_mutex;
  std::vector<std::string> texts(hosts.size());  // read-only verbs: each host's report
  if (!rollout.empty())
    std::cerr << "rollout " << rollout << ": " << args.verb_name << " on " << hosts.size() << " host"
              << (hosts.size() == 1 ? "" : "s") << "\n";

  const auto job = [&](std::size_t i) {
    const auto& h = hosts[i];
    fleet::HostResult result;
    const auto start = std::chrono::steady_clock::now();
    const auto elapsed = [&start] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    try {
      host::SshTarget target = base;
      target.destination = (h.user.empty() ? std::string() : h.user + "@") + h.address;
      if (h.port) target.destination += ":" + std::to_string(*h.port);
      if (!h.identity.empty()) target.identity = h.identity;
      if (h.become == false && h.user != "root")
        throw Error(ErrorKind::kPermission,
                    "ansible_become is false and the login user is not root: sshdctl needs root (set "
                    "ansible_become=true, or ansible_user=root)",
                    Location{h.name, {}, 0});
      auto remote = connect_remote(target, new_root_password);
      result.connect_s = elapsed();
      std::optional<host::DryRunHost> dry;
      if (base_ctx.dry_run) dry.emplace(*remote.host);
      Context ctx = base_ctx;
      ctx.target = dry ? static_cast<host::Host*>(&*dry) : remote.host.get();
      if (args.probe) ctx.probes = std::move(remote.probes);
      ctx.who = base_ctx.who + " via ssh as " + remote.host->login_user();
      ctx.rollout = rollout;
      auto outcome = verb(ctx);
      result.exit_code = outcome.code;
      if (!args.mutating || base_ctx.dry_run) texts[i] = outcome.text;
      result.detail = std::move(outcome.json);
      if (outcome.change) {
        const auto& c = *outcome.change;
        result.status = c.changed ? fleet::HostStatus::kChanged : fleet::HostStatus::kUnchanged;
        result.change_id = c.id;
        result.confirmation = c.confirmation;
        result.changed_keys = changed_keys(c);
        result.summary = c.changed ? text::join(result.changed_keys, ", ") + "; " + diff_summary(c) : std::string();
        if (texts[i].empty())
          for (const auto& n : c.notes) result.notes.push_back(n.where.str() + ": " + n.text);
      } else {
        result.status = outcome.code == exit_code::kUnchanged ? fleet::HostStatus::kUnchanged
                        : outcome.code == exit_code::kChanged ? fleet::HostStatus::kOk
                                                              : fleet::HostStatus::kFailed;
        result.summary = first_line(outcome.text);
      }
    } catch (const Error& e) {
      result.status = fleet::HostStatus::kFailed;
      result.exit_code = exit_code_for(e.kind());
      result.error = render_text(e);
      result.summary = first_line(e.what());
      result.detail = to_json(e);
    }
    result.host = h.name;
    result.seconds = elapsed();
    if (report) {
      std::lock_guard lock(report_mutex);
      *report << host_json(result, rollout, base_ctx.dry_run).dump() << "\n" << std::flush;
    }
    return result;
  };

  StderrProgress progress(::isatty(STDERR_FILENO) != 0, base_ctx.dry_run);
  auto summary = fleet::run_rollout(names, args.rollout, job, &progress);
  progress.end();
  if (report) {
    for (const auto& r : summary.results)
      if (r.status == fleet::HostStatus::kSkipped) *report << host_json(r, rollout, base_ctx.dry_run).dump() << "\n";
  }

  const std::string counts = std::to_string(hosts.size()) + " hosts: " + std::to_string(summary.changed) +
                             (base_ctx.dry_run ? " would change, " : " changed, ") + std::to_string(summary.unchanged) +
                             " unchanged, " + (summary.ok > 0 ? std::to_string(summary.ok) + " ok, " : "") +
                             std::to_string(summary.failed) + " failed, " + std::to_string(summary.skipped) +
                             " not started, in " + seconds_text(summary.seconds);
  if (args.json) {
    Json j = Json::object();
    if (!rollout.empty()) j["rollout"] = rollout;
    Json list = Json::array();
    for (const auto& r : summary.results) list.push_back(host_json(r, rollout, base_ctx.dry_run));
    j["hosts"] = std::move(list);
    j["changed"] = static_cast<std::int64_t>(summary.changed);
    j["unchanged"] = static_cast<std::int64_t>(summary.unchanged);
    j["failed"] = static_cast<std::int64_t>(summary.failed);
    j["not_started"] = static_cast<std::int64_t>(summary.skipped);
    j["aborted"] = summary.aborted;
    if (summary.aborted) j["abort_reason"] = summary.abort_reason;
    j["total_ms"] = millis(summary.seconds);
    std::cout << j.dump() << "\n";
    return fleet::exit_code_of(summary);
  }
  // Read-only verbs and plans: each host's own report (diffs), in inventory order.
  for (std::size_t i = 0; i < hosts.size(); ++i)
    if (!texts[i].empty())
      std::cout << "== " << hosts[i].name << "\n" << texts[i] << (texts[i].back() == '\n' ? "" : "\n");
  std::size_t width = 4;
  for (const auto& r : summary.results) width = std::max(width, r.host.size());
  std::string table;
  table += "HOST" + std::string(width - 4 + 2, ' ') + "STATUS        TIME    WHAT\n";
  for (const auto& r : summary.results) {
    std::string status = shown_status(r, base_ctx.dry_run);
    status.resize(std::max<std::size_t>(status.size(), 12), ' ');
    std::string time = r.status == fleet::HostStatus::kSkipped ? "-" : seconds_text(r.seconds);
    time.resize(std::max<std::size_t>(time.size(), 6), ' ');
    std::string what = args.mutating || r.status == fleet::HostStatus::kFailed ? r.summary : std::string();
    if (r.status == fleet::HostStatus::kFailed) what = "exit " + std::to_string(r.exit_code) + ": " + what;
    if (!r.change_id.empty() && r.status == fleet::HostStatus::kChanged)
      what += " [" + r.change_id + (r.confirmation.empty() ? "" : ", " + r.confirmation) + "]";
    table += r.host + std::string(width - r.host.size() + 2, ' ') + status + "  " + time + "  " + what + "\n";
  }
  // A change's notes (its report is not printed): what was written otherwise than asked, …
  for (const auto& r : summary.results)
    for (const auto& n : r.notes) table += "note: " + n + "\n";
  std::cout << table << counts << (rollout.empty() ? "" : " (rollout " + rollout + ")") << "\n";
  if (summary.aborted) std::cout << "aborted: " << summary.abort_reason << "\n";
  for (const auto& r : summary.results)
    if (r.status == fleet::HostStatus::kFailed && !r.error.empty()) std::cerr << "\n" << r.host << ":\n" << r.error;
  return fleet::exit_code_of(summary);
}

}  // namespace sshdctl::cli

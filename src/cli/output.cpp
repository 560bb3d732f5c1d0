#include "output.h"

#include <ctime>

#include "sshdctl/common/text.h"

namespace sshdctl::cli {

namespace {

Json files_json(const std::vector<FileReport>& files) {
  Json out = Json::array();
  for (const auto& f : files) {
    Json fj = Json::object();
    fj["path"] = f.path;
    fj["created"] = f.created;
    fj["diff"] = f.diff;
    out.push_back(std::move(fj));
  }
  return out;
}

Json notes_json(const std::vector<config::Note>& notes) {
  Json out = Json::array();
  for (const auto& n : notes) {
    Json j = Json::object();
    j["where"] = n.where.str();
    j["text"] = n.text;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

std::string render_text(const ChangeReport& report) {
  std::string out;
  if (!report.changed) {
    out += report.host + ": unchanged: " + report.verb + " needs no edit\n";
  } else {
    for (const auto& f : report.files) {
      out += report.host + ": " + (report.dry_run ? "would change " : "changed ") + f.path +
             (f.created ? " (new file)" : "") + "\n";
      out += f.diff;
    }
  }
  for (const auto& n : report.notes) out += "note: " + n.where.str() + ": " + n.text + "\n";
  for (const auto& c : report.checks) out += "check: " + c + "\n";
  if (!report.service.empty()) out += "service: " + report.service + "\n";
  if (!report.id.empty()) out += "journal: change set " + report.id + " (sshdctl revert " + report.id + " undoes it)\n";
  return out;
}

Json to_json(const ChangeReport& report) {
  Json j = Json::object();
  j["host"] = report.host;
  j["verb"] = report.verb;
  j["status"] = report.changed ? "changed" : "unchanged";
  j["dry_run"] = report.dry_run;
  j["files"] = files_json(report.files);
  j["notes"] = notes_json(report.notes);
  j["checks"] = Json::strings(report.checks);
  j["service"] = report.service;
  j["id"] = report.id;
  return j;
}

std::string render_text(const ShowReport& report) {
  std::string out;
  out += "# " + report.host + ": " + report.main_file;
  if (report.files.size() > 1) out += " (+" + std::to_string(report.files.size() - 1) + " included)";
  if (report.connection.any()) {
    out += ", for";
    report.connection.each([&](const char* name, const std::string& v) { out += std::string(" ") + name + "=" + v; });
  }
  out += "\n";
  for (const auto& o : report.options) {
    // A keyword no file sets: the value sshd -T gives, marked as sshd's default.
    if (o.is_default)
      out += o.keyword + " " + (o.sshd ? *o.sshd + " (sshd's default)" : std::string("(sshd's default)"));
    else
      out += o.keyword + " " + text::join(o.values, " ");
    if (!o.sources.empty()) out += "    # " + text::join(o.sources, ", ") + (o.from_match ? " (Match)" : "");
    out += "\n";
    if (o.sshd && !o.is_default) out += "    sshd -T: " + *o.sshd + "\n";
    for (const auto& i : o.ignored) out += "    ignored " + i + "\n";
    for (const auto& m : o.overrides) out += "    may override: " + m + "\n";
  }
  for (const auto& n : report.notes) out += "note: " + n + "\n";
  if (report.mismatches > 0)
    out += "MISMATCH: sshd -T disagrees on " + std::to_string(report.mismatches) + " option(s)\n";
  return out;
}

Json to_json(const ShowReport& report) {
  Json j = Json::object();
  j["host"] = report.host;
  j["main_file"] = report.main_file;
  j["files"] = Json::strings(report.files);
  Json conn = Json::object();
  report.connection.each([&](const char* name, const std::string& v) { conn[name] = v; });
  j["connection"] = std::move(conn);
  Json options = Json::array();
  for (const auto& o : report.options) {
    Json oj = Json::object();
    oj["keyword"] = o.keyword;
    oj["values"] = Json::strings(o.values);
    oj["default"] = o.is_default;
    oj["from_match"] = o.from_match;
    oj["sources"] = Json::strings(o.sources);
    oj["ignored"] = Json::strings(o.ignored);
    oj["may_override"] = Json::strings(o.overrides);
    if (o.sshd) oj["sshd"] = *o.sshd;
    options.push_back(std::move(oj));
  }
  j["options"] = std::move(options);
  j["notes"] = Json::strings(report.notes);
  j["mismatches"] = report.mismatches;
  return j;
}

std::string render_text(const ServiceReport& r) {
  std::string out = r.host + ": " + r.unit + " " + r.active_state + (r.sub_state.empty() ? "" : "/" + r.sub_state);
  if (r.main_pid != 0) out += ", main pid " + std::to_string(r.main_pid);
  if (!r.socket.empty()) out += ", socket-activated through " + r.socket;
  out += "\n";
  if (r.action != "status") out += r.action + " through " + r.method + ": " + r.job_result + "\n";
  if (!r.note.empty()) out += "note: " + r.note + "\n";
  for (const auto& p : r.probes) out += "check: login probe: " + p + "\n";
  return out;
}

Json to_json(const ServiceReport& r) {
  Json j = Json::object();
  j["host"] = r.host;
  j["action"] = r.action;
  j["unit"] = r.unit;
  j["active_state"] = r.active_state;
  j["sub_state"] = r.sub_state;
  j["main_pid"] = static_cast<std::int64_t>(r.main_pid);
  if (!r.socket.empty()) j["socket"] = r.socket;
  j["method"] = r.method;
  j["job_result"] = r.job_result;
  j["note"] = r.note;
  j["probes"] = Json::strings(r.probes);
  return j;
}

std::string render_text(const KeyListReport& r) {
  std::string out = "# " + r.host + ": keys of " + r.user + " (AuthorizedKeysFile: " + text::join(r.files, " ") + ")\n";
  if (r.keys.empty()) out += "(no keys)\n";
  for (const auto& k : r.keys) {
    out += k.where + ": " + (k.options.empty() ? "" : k.options + " ") + k.type + " " + k.fingerprint +
           (k.comment.empty() ? "" : " " + k.comment);
    if (!k.expires.empty()) out += k.expired ? "  [EXPIRED " + k.expires + "]" : "  [expires " + k.expires + "]";
    if (!k.problem.empty()) out += "  [sshd will not use it: " + k.problem + "]";
    out += "\n";
  }
  for (const auto& n : r.notes) out += "note: " + n + "\n";
  return out;
}

Json to_json(const KeyListReport& r) {
  Json j = Json::object();
  j["host"] = r.host;
  j["user"] = r.user;
  j["files"] = Json::strings(r.files);
  Json keys = Json::array();
  for (const auto& k : r.keys) {
    Json kj = Json::object();
    kj["where"] = k.where;
    kj["type"] = k.type;
    kj["fingerprint"] = k.fingerprint;
    kj["comment"] = k.comment;
    kj["options"] = k.options;
    kj["expires"] = k.expires;
    kj["expired"] = k.expired;
    kj["problem"] = k.problem;
    keys.push_back(std::move(kj));
  }
  j["keys"] = std::move(keys);
  j["notes"] = Json::strings(r.notes);
  return j;
}

namespace {
Json change_set_json(const txn::ChangeSet& set) {
  Json j = Json::object();
  j["id"] = set.id;
  j["when"] = set.when;
  j["verb"] = set.verb;
  j["who"] = set.who;
  j["reason"] = set.reason;
  j["reverts"] = set.reverts;
  j["state"] = set.state;
  j["window"] = set.window;
  if (set.deadline != 0) j["deadman_deadline"] = text::utc(set.deadline, "%Y-%m-%dT%H:%M:%SZ");
  j["service"] = set.service;
  std::vector<std::string> paths;
  for (const auto& f : set.files) paths.push_back(f.path);
  j["files"] = Json::strings(paths);
  return j;
}
// An armed dead-man, in history and show-change.
std::string deadman_text(const txn::ChangeSet& set) {
  const bool passed = set.deadline <= std::time(nullptr);
  return "dead-man: the target undoes this change at " + text::utc(set.deadline, "%Y-%m-%dT%H:%M:%SZ") +
         " unless a fresh login confirmed it" +
         (passed ? " (that time has passed: the next sshdctl run or the next boot finishes it)" : "");
}
}  // namespace

std::string render_text(const HistoryReport& r) {
  std::string out = "# " + r.host + ": " + std::to_string(r.sets.size()) + " change set(s), oldest first\n";
  for (const auto& set : r.sets) {
    std::vector<std::string> paths;
    for (const auto& f : set.files) paths.push_back(f.path);
    out += set.id + "  " + set.state + "  " + set.verb + (set.reason.empty() ? "" : "  (" + set.reason + ")") + "\n";
    if (!paths.empty()) out += "    " + set.when + " by " + set.who + ": " + text::join(paths, " ") + "\n";
    if (!set.window.empty()) out += "    window: " + set.window + "\n";
    if (set.deadline != 0) out += "    " + deadman_text(set) + "\n";
  }
  return out;
}

Json to_json(const HistoryReport& r) {
  Json j = Json::object();
  j["host"] = r.host;
  Json sets = Json::array();
  for (const auto& set : r.sets) sets.push_back(change_set_json(set));
  j["change_sets"] = std::move(sets);
  return j;
}

std::string render_text(const ShowChangeReport& r) {
  std::string out = "# " + r.host + ": change set " + r.set.id + " (" + r.set.state + ")\n";
  out += "verb: " + r.set.verb + "\nwhen: " + r.set.when + "\nwho: " + r.set.who + "\n";
  if (!r.set.reason.empty()) out += "reason: " + r.set.reason + "\n";
  if (!r.set.reverts.empty()) out += "reverts: " + r.set.reverts + "\n";
  if (!r.set.service.empty()) out += "service: " + r.set.service + "\n";
  if (r.set.deadline != 0) out += deadman_text(r.set) + "\n";
  for (const auto& f : r.files) out += f.diff;
  return out;
}

Json to_json(const ShowChangeReport& r) {
  Json j = change_set_json(r.set);
  j["host"] = r.host;
  j["diffs"] = files_json(r.files);
  return j;
}

std::string render_text(const Error& error) {
  std::string out = "sshdctl: error: " + std::string(error.what()) + "\n";
  if (!error.detail().empty())
    for (const auto& line : text::lines(error.detail())) out += "  " + line + "\n";
  return out;
}

Json to_json(const Error& error) {
  Json j = Json::object();
  j["status"] = "error";
  j["kind"] = kind_name(error.kind());
  j["message"] = error.message();
  Json where = Json::object();
  where["host"] = error.where().host;
  where["file"] = error.where().file;
  where["line"] = error.where().line;
  j["where"] = std::move(where);
  j["detail"] = error.detail();
  return j;
}

std::string render_text(const doctor::AuditReport& report) {
  std::string out = report.host + ": audit against " + report.policy + ": " + std::to_string(report.checks) +
                    " checks, " + (report.compliant() ? "compliant" : std::to_string(report.drift.size()) + " drift") +
                    "\n";
  for (const auto& d : report.drift)
    out +=
        "  \u2717 " + d.what + ": want " + d.want + ", have " + d.have + " (" + d.where + "; policy " + d.rule + ")\n";
  for (const auto& n : report.notes) out += "  note: " + n + "\n";
  return out;
}

Json to_json(const doctor::AuditReport& report) {
  Json j = Json::object();
  j["host"] = report.host;
  j["policy"] = report.policy;
  j["checks"] = report.checks;
  j["compliant"] = report.compliant();
  Json drift = Json::array();
  for (const auto& d : report.drift) {
    Json item = Json::object();
    item["what"] = d.what;
    item["want"] = d.want;
    item["have"] = d.have;
    item["where"] = d.where;
    item["rule"] = d.rule;
    drift.push_back(std::move(item));
  }
  j["drift"] = std::move(drift);
  j["notes"] = Json::strings(report.notes);
  return j;
}

}  // namespace sshdctl::cli

// sshdctl doctor: runs the diagnosis of src/doctor on the target and renders it for people
// (grouped by section, ✓ ✗ ! per finding, the fix under each problem) or as JSON.
#include <iostream>

#include "commands.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/doctor/doctor.h"

namespace sshdctl::cli {

namespace {

const char* symbol(doctor::Status status) {
  switch (status) {
    case doctor::Status::kOk:
      return "\u2713";
    case doctor::Status::kWarn:
      return "!";
    case doctor::Status::kFail:
      return "\u2717";
    case doctor::Status::kSkip:
      return "-";
  }
  return "?";
}

std::string render_text(const doctor::Report& r) {
  std::string out = "doctor: can " + r.user + " log in to " + r.host + " from " + r.from + "? (" + r.from_note + ")\n";
  std::string section;
  int problems = 0;
  int warnings = 0;
  for (const auto& f : r.findings) {
    if (f.section != section) {
      section = f.section;
      out += "\n" + section + "\n";
    }
    out += std::string("  ") + symbol(f.status) + " " + f.check + ": " + f.message;
    if (!f.where.empty()) out += "  [" + f.where + "]";
    out += "\n";
    for (const auto& line : f.detail) out += "      | " + line + "\n";
    if (!f.fix.empty() && f.status != doctor::Status::kOk)
      out += std::string("      fix") + (f.fix_outside ? " (outside sshdctl)" : "") + ": " + f.fix + "\n";
    if (f.status == doctor::Status::kFail) ++problems;
    if (f.status == doctor::Status::kWarn) ++warnings;
  }
  out += "\n";
  if (problems > 0)
    out += "verdict: " + r.user + " cannot log in: " + std::to_string(problems) + " problem" +
           (problems == 1 ? "" : "s") + " (\u2717), fix them in the order shown\n";
  else
    out += "verdict: nothing keeps " + r.user + " from logging in from " + r.from +
           (warnings > 0 ? " (" + std::to_string(warnings) + " warning" + (warnings == 1 ? "" : "s") + ")" : "") + "\n";
  return out;
}

Json to_json(const doctor::Report& r) {
  Json j = Json::object();
  j["host"] = r.host;
  j["user"] = r.user;
  j["from"] = r.from;
  j["from_note"] = r.from_note;
  j["offline"] = r.offline;
  j["login"] = r.login_fails() ? "fails" : "works";
  Json findings = Json::array();
  for (const auto& f : r.findings) {
    Json item = Json::object();
    item["section"] = f.section;
    item["check"] = f.check;
    item["status"] = doctor::status_name(f.status);
    item["message"] = f.message;
    item["where"] = f.where;
    item["fix"] = f.fix;
    item["fix_outside_sshdctl"] = f.fix_outside;
    item["detail"] = Json::strings(f.detail);
    findings.push_back(std::move(item));
  }
  j["findings"] = std::move(findings);
  return j;
}

}  // namespace

int run_doctor(Context& ctx, const DoctorArgs& args, const std::string& target_args, bool json) {
  doctor::Options options;
  options.user = args.user;
  options.from = args.from;
  options.unit = ctx.unit;
  options.lens_dir = ctx.lens_dir;
  options.sshdctl = target_args.empty() ? "sshdctl" : "sshdctl " + target_args;
  // Shell fixes for an offline root run inside it.
  if (target_args.rfind("--root ", 0) == 0) options.shell_prefix = "chroot " + target_args.substr(7);
  const auto report = doctor::diagnose(*ctx.target, *ctx.controller, options);
  std::cout << (json ? to_json(report).dump() + "\n" : render_text(report));
  return report.login_fails() ? exit_code::kFailed : exit_code::kChanged;
}

}  // namespace sshdctl::cli

// Rendering reports for people (plain text) and programs (--json).
#pragma once

#include <string>

#include "commands.h"
#include "sshdctl/common/error.h"
#include "sshdctl/doctor/audit.h"

namespace sshdctl::cli {

std::string render_text(const ChangeReport& report);
Json to_json(const ChangeReport& report);
std::string render_text(const ShowReport& report);
Json to_json(const ShowReport& report);
std::string render_text(const ServiceReport& report);
Json to_json(const ServiceReport& report);
std::string render_text(const KeyListReport& report);
Json to_json(const KeyListReport& report);
std::string render_text(const HistoryReport& report);
Json to_json(const HistoryReport& report);
std::string render_text(const ShowChangeReport& report);
Json to_json(const ShowChangeReport& report);
std::string render_text(const doctor::AuditReport& report);
Json to_json(const doctor::AuditReport& report);
std::string render_text(const Error& error);
Json to_json(const Error& error);

}  // namespace sshdctl::cli

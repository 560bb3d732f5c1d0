// Small pure text helpers shared by the modules.
#pragma once

#include <cstddef>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sshdctl::text {

std::string lower(std::string_view s);
std::string trim(std::string_view s);
// Every occurrence of `from` in `s` replaced by `to` (nothing when `from` is empty).
std::string replace_all(std::string s, const std::string& from, const std::string& to);
bool iequals(std::string_view a, std::string_view b);

// Splits on runs of spaces/tabs; a "double quoted" token stays one token, quotes included.
std::vector<std::string> split_words(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);

// Removes one pair of surrounding double quotes, if present.
std::string unquote(std::string_view s);
// Quotes a word for sshd_config when it contains white space or a '#'.
std::string quote_if_needed(std::string_view s);

// A word quoted for POSIX sh ('…', with ' as '\''): safe in any script.
std::string shell_quote(std::string_view word);
// A file mode as four octal digits ("0644").
std::string octal_mode(unsigned mode);

// Lines without their terminators; a final line without '\n' is still a line.
std::vector<std::string> lines(std::string_view s);
// 1-based line number of a byte offset.
int line_of_offset(std::string_view s, std::size_t offset);

std::size_t edit_distance(std::string_view a, std::string_view b);

// A unified diff ("--- a/path", "+++ b/path", @@ hunks with 3 lines of context);
// empty when the texts are equal.
// `when` in UTC, formatted by strftime(3) `format` (e.g. "%Y-%m-%dT%H:%M:%SZ").
std::string utc(std::time_t when, const char* format);

std::string unified_diff(std::string_view before, std::string_view after, std::string_view path);

// "90", "90s", "30m", "2h", "1d" as a positive number of seconds; nullopt when malformed.
std::optional<long> parse_duration(std::string_view text);

}  // namespace sshdctl::text

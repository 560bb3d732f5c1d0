#include "sshdctl/common/text.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace sshdctl::text {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
           return std::tolower(x) == std::tolower(y);
         });
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    if (i >= s.size()) break;
    std::size_t j = i;
    if (s[i] == '"') {
      j = s.find('"', i + 1);
      j = (j == std::string_view::npos) ? s.size() : j + 1;
    } else {
      while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    }
    words.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return words;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto pos = s.find(sep, start);
    parts.emplace_back(s.substr(start, pos == std::string_view::npos ? s.npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

std::string unquote(std::string_view s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return std::string(s.substr(1, s.size() - 2));
  return std::string(s);
}

std::string quote_if_needed(std::string_view s) {
  if (s.empty() || s.find_first_of(" \t#") != std::string_view::npos) {
    if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return std::string(s);
    return "\"" + std::string(s) + "\"";
  }
  return std::string(s);
}

std::vector<std::string> lines(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < s.size()) {
    const auto nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      break;
    }
    out.emplace_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

int line_of_offset(std::string_view s, std::size_t offset) {
  offset = std::min(offset, s.size());
  return 1 + static_cast<int>(std::count(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost =
          (std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1])))
              ? 0
              : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

namespace {

struct DiffLine {
  char tag;  // ' ', '-', '+'
  std::string text;
};

// Line diff: common prefix and suffix are trimmed, the middle (small for an edit) is
// aligned with a longest-common-subsequence table.
std::vector<DiffLine> diff_lines(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::size_t prefix = 0;
  while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  std::size_t suffix = 0;
  while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
         a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix])
    ++suffix;
  const std::size_t n = a.size() - prefix - suffix;
  const std::size_t m = b.size() - prefix - suffix;
  std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;)
    for (std::size_t j = m; j-- > 0;)
      lcs[i][j] = a[prefix + i] == b[prefix + j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);

  std::vector<DiffLine> out;
  for (std::size_t i = 0; i < prefix; ++i) out.push_back({' ', a[i]});
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[prefix + i] == b[prefix + j]) {
      out.push_back({' ', a[prefix + i]});
      ++i;
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push_back({'-', a[prefix + i]});
      ++i;
    } else {
      out.push_back({'+', b[prefix + j]});
      ++j;
    }
  }
  for (std::size_t k = a.size() - suffix; k < a.size(); ++k) out.push_back({' ', a[k]});
  return out;
}

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, std::string_view path) {
  if (before == after) return {};
  const auto a = lines(before);
  const auto b = lines(after);
  const auto d = diff_lines(a, b);
  constexpr std::size_t kContext = 3;

  std::string out = "--- a" + std::string(path) + "\n+++ b" + std::string(path) + "\n";
  std::size_t k = 0;
  while (k < d.size()) {
    if (d[k].tag == ' ') {
      ++k;
      continue;
    }
    // Grow a hunk around this change, merging changes closer than 2*context.
    std::size_t start = k >= kContext ? k - kContext : 0;
    std::size_t end = k;
    while (true) {
      while (end < d.size() && d[end].tag != ' ') ++end;
      std::size_t next = end;
      while (next < d.size() && d[next].tag == ' ') ++next;
      if (next < d.size() && next - end <= 2 * kContext) {
        end = next;
        continue;
      }
      end = std::min(d.size(), end + kContext);
      break;
    }
    std::size_t old_line = 1;
    std::size_t new_line = 1;
    for (std::size_t x = 0; x < start; ++x) {
      if (d[x].tag != '+') ++old_line;
      if (d[x].tag != '-') ++new_line;
    }
    std::size_t old_count = 0;
    std::size_t new_count = 0;
    for (std::size_t x = start; x < end; ++x) {
      if (d[x].tag != '+') ++old_count;
      if (d[x].tag != '-') ++new_count;
    }
    out += "@@ -" + std::to_string(old_count ? old_line : old_line - 1) + "," + std::to_string(old_count) + " +" +
           std::to_string(new_count ? new_line : new_line - 1) + "," + std::to_string(new_count) + " @@\n";
    for (std::size_t x = start; x < end; ++x) out += std::string(1, d[x].tag) + d[x].text + "\n";
    k = end;
  }
  const bool before_nl = !before.empty() && before.back() != '\n';
  const bool after_nl = !after.empty() && after.back() != '\n';
  if (before_nl != after_nl) out += "\\ No newline at end of file (one side)\n";
  return out;
}

std::string utc(std::time_t when, const char* format) {
  std::tm tm{};
  gmtime_r(&when, &tm);
  char buf[64];
  return std::strftime(buf, sizeof buf, format, &tm) > 0 ? buf : "";
}

std::optional<long> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) ++digits;
  if (digits == 0 || digits > 9) return std::nullopt;
  const long value = std::stol(std::string(text.substr(0, digits)));
  const std::string_view unit = text.substr(digits);
  const long scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : 0;
  if (scale == 0 || value <= 0) return std::nullopt;
  return value * scale;
}

std::string shell_quote(std::string_view word) {
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string octal_mode(unsigned mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777U);
  return buf;
}

}  // namespace sshdctl::text

// What a remote target's root shell sends back (src/host/ssh_host.cpp), and what is parsed from
// the target's files: the end of an answer and its status (host::answer_end), the snapshot
// script's answer (host::parse_snapshot: the meta lines, `stat -L` lines, the data), a request's
// framing (host::frame_request), and /etc/passwd and /etc/group as read from the target
// (host::parse_passwd_entry, host::parse_groups_of).
//
// Input: the first byte picks the parser, the rest is the answer.
//
// Properties: parse_snapshot gives a snapshot or an Error (anything else escaping is a
// finding); a snapshot's glob matches are sorted and only regular files have content, all of it
// from the answer; answer_end finds the token's mark where it is and consumes through its
// line's end; a request frame says how many lines follow.
#include <algorithm>

#include "../fuzz_support.h"
#include "sshdctl/common/text.h"
#include "sshdctl/host/accounts.h"
#include "sshdctl/host/ssh_host.h"

namespace {

using namespace sshdctl;
using fuzz::check;

constexpr const char* kToken = "sshdctl-0123456789abcdef0123456789abcdef";

void snapshot(const std::string& answer) {
  host::Snapshot snap;
  if (fuzz::outcome("parse_snapshot", [&] { snap = host::parse_snapshot(answer); })) return;
  std::size_t content = 0;
  for (const auto& [path, file] : snap.files) {
    if (file.content) {
      check(file.info.exists && file.info.regular, "only a regular file has content: " + path);
      content += file.content->size();
    }
  }
  check(content <= answer.size(), "the contents come from the answer");
  for (const auto& [pattern, matches] : snap.globs)
    check(std::is_sorted(matches.begin(), matches.end()), "glob matches are sorted: " + pattern);
}

void answer(const std::string& stream) {
  int status = -1;
  std::size_t consumed = 0;
  const auto end = host::answer_end(stream, kToken, &status, &consumed);
  const std::string mark = std::string("\n") + kToken + " ";
  if (!end) {
    const auto at = stream.find(mark);
    check(at == std::string::npos || stream.find('\n', at + mark.size()) == std::string::npos,
          "a complete trailer is found");
    return;
  }
  check(*end < stream.size() && stream.compare(*end, mark.size(), mark) == 0, "the end is at the token's mark");
  check(consumed > *end + mark.size() - 1 && consumed <= stream.size() && stream[consumed - 1] == '\n',
        "the answer is consumed through the trailer's line");
  check(stream.find(mark) == *end, "the first mark ends the answer");
}

void frame(const std::string& program) {
  const std::string request = host::frame_request(program, program.size(), kToken);
  const auto eol = request.find('\n');
  check(eol != std::string::npos, "a request starts with a header line");
  const auto words = text::split_words(request.substr(0, eol));
  check(words.size() == 3 && words[2] == kToken, "the header is LINES INPUT TOKEN");
  const std::string body = request.substr(eol + 1);
  check(words[0] == std::to_string(std::count(body.begin(), body.end(), '\n')), "the header counts the lines");
  check(body.empty() || body.back() == '\n', "the program ends with a newline");
}

void accounts_files(const std::string& text) {
  const auto lines = text::lines(text);
  const std::string user = lines.empty() ? "root" : lines[0].substr(0, lines[0].find(':'));
  std::optional<host::Account> account;
  if (fuzz::outcome("parse_passwd_entry", [&] { account = host::parse_passwd_entry(text, user); })) return;
  if (account) check(account->name == user, "the entry found is the user's");
  (void)fuzz::outcome("parse_groups_of", [&] { (void)host::parse_groups_of(text, user, account ? account->gid : 0); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string rest = fuzz::bytes(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      snapshot(rest);
      break;
    case 1:
      answer(rest);
      break;
    case 2:
      frame(rest);
      break;
    default:
      accounts_files(rest);
      break;
  }
  return 0;
}

#include "sshdctl/txn/journal.h"

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"

namespace sshdctl::txn {

namespace {

constexpr int kVersion = 1;
constexpr const char* kLockPath = "/var/lib/sshdctl/lock";
const host::FileInfo kPrivate{false, true, false, 0600, 0, 0};

// %-escapes what would break a "key value" line: %, newlines, and (for paths, one word of a
// file record) blanks and '"', which would open a quoted word there (text::split_words).
std::string escape(const std::string& s, bool blanks) {
  std::string out;
  for (const char c : s) {
    if (c == '%' || c == '\n' || c == '\r' || (blanks && (c == ' ' || c == '\t' || c == '"'))) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() + 0 && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string sha_or_dash(const std::optional<std::string>& sha) { return sha ? *sha : "-"; }

// mkdir -p: missing parents 0755 (a real system has them), `path` itself 0700.
void make_dirs(host::Host& target, const std::string& path) {
  std::string at;
  const auto parts = text::split(path.substr(1), '/');
  for (std::size_t i = 0; i < parts.size(); ++i) {
    at += "/" + parts[i];
    if (i + 1 < parts.size() && target.stat(at).exists) continue;
    target.make_dir(at, i + 1 < parts.size() ? 0755 : 0700);
  }
}

}  // namespace

std::string sha256_hex(const std::string& data) {
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string out;
  for (const unsigned char b : hash) {
    char buf[3];
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

std::string new_id(std::time_t now) {
  const std::string stamp = text::utc(now, "%Y%m%dT%H%M%S");
  // Microseconds keep the IDs of one second in the order they were made.
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() %
      1000000;
  char fraction[16];
  std::snprintf(fraction, sizeof fraction, "%06lldZ", static_cast<long long>(micros));
  if (sodium_init() < 0) throw Error(ErrorKind::kInternal, "libsodium cannot start");
  char random[8];
  std::snprintf(random, sizeof random, "%06x", randombytes_uniform(0x1000000));
  return stamp + fraction + "-" + random;
}

std::string render_manifest(const ChangeSet& set) {
  std::string out = "sshdctl-change " + std::to_string(kVersion) + "\n";
  out += "id " + set.id + "\n";
  out += "verb " + escape(set.verb, false) + "\n";
  out += "who " + escape(set.who, false) + "\n";
  out += "when " + set.when + "\n";
  if (!set.reason.empty()) out += "reason " + escape(set.reason, false) + "\n";
  if (!set.reverts.empty()) out += "reverts " + set.reverts + "\n";
  if (!set.rollout.empty()) out += "rollout " + set.rollout + "\n";
  if (!set.service.empty()) out += "service " + escape(set.service, false) + "\n";
  for (std::size_t i = 0; i < set.files.size(); ++i) {
    const auto& f = set.files[i];
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(f.info.mode & 07777));
    out += "file " + std::to_string(i) + " " + escape(f.path, true) + " " + mode + " " + std::to_string(f.info.uid) +
           " " + std::to_string(f.info.gid) + " " + sha_or_dash(f.before_sha) + " " + sha_or_dash(f.after_sha) + "\n";
  }
  return out;
}

ChangeSet parse_manifest(const std::string& text) {
  ChangeSet set;
  const auto lines = text::lines(text);
  const auto fail = [](int line, const std::string& why) {
    return Error(ErrorKind::kBadInput, "journal manifest line " + std::to_string(line) + ": " + why);
  };
  if (lines.empty() || text::split_words(lines[0]).size() != 2 || text::split_words(lines[0])[0] != "sshdctl-change")
    throw fail(1, "not an sshdctl change set");
  const std::string version = text::split_words(lines[0])[1];
  if (version != std::to_string(kVersion)) throw fail(1, "format version " + version + " is newer than this sshdctl");
  for (std::size_t n = 1; n < lines.size(); ++n) {
    const std::string& line = lines[n];
    if (line.empty()) continue;
    const auto space = line.find(' ');
    const std::string key = line.substr(0, space);
    const std::string value = space == std::string::npos ? "" : line.substr(space + 1);
    if (key == "id") {
      set.id = value;
    } else if (key == "verb") {
      set.verb = unescape(value);
    } else if (key == "who") {
      set.who = unescape(value);
    } else if (key == "when") {
      set.when = value;
    } else if (key == "reason") {
      set.reason = unescape(value);
    } else if (key == "reverts") {
      set.reverts = value;
    } else if (key == "rollout") {
      set.rollout = value;
    } else if (key == "service") {
      set.service = unescape(value);
    } else if (key == "file") {
      const auto w = text::split_words(value);
      if (w.size() != 7 || w[0] != std::to_string(set.files.size()))
        throw fail(static_cast<int>(n) + 1, "malformed file record");
      FileRecord f;
      f.path = unescape(w[1]);
      f.info.exists = true;
      f.info.regular = true;
      f.info.mode = static_cast<mode_t>(std::strtoul(w[2].c_str(), nullptr, 8));
      f.info.uid = static_cast<uid_t>(std::strtoul(w[3].c_str(), nullptr, 10));
      f.info.gid = static_cast<gid_t>(std::strtoul(w[4].c_str(), nullptr, 10));
      if (w[5] != "-") f.before_sha = w[5];
      if (w[6] != "-") f.after_sha = w[6];
      set.files.push_back(std::move(f));
    }
    // Unknown keys: written by a later version; ignored.
  }
  if (set.id.empty()) throw fail(1, "no id");
  return set;
}

std::vector<std::pair<std::string, std::string>> Journal::record_files(
    const ChangeSet& set, const std::vector<std::optional<std::string>>& before,
    const std::vector<std::optional<std::string>>& after) {
  // In this order: the images and the manifest, the state, and last the marker that makes the
  // next run look at this change set (one glob finds them all).
  const std::string d = std::string(kJournalDir) + "/" + set.id;
  std::vector<std::pair<std::string, std::string>> files;
  for (std::size_t i = 0; i < set.files.size(); ++i) {
    if (before[i]) files.emplace_back(d + "/before." + std::to_string(i), *before[i]);
    if (after[i]) files.emplace_back(d + "/after." + std::to_string(i), *after[i]);
  }
  files.emplace_back(d + "/manifest", render_manifest(set));
  files.emplace_back(d + "/state", "prepared\n");
  files.emplace_back(d + ".open", "");
  return files;
}

void Journal::record(ChangeSet& set, const std::vector<std::optional<std::string>>& before,
                     const std::vector<std::optional<std::string>>& after) {
  make_dirs(target_, dir(set.id));
  target_.write_files_atomic(record_files(set, before, after), kPrivate);
  set.state = "prepared";
}

void Journal::set_state(const std::string& id, const std::string& state) {
  const bool finished = state != "prepared" && state != "applied";
  // A remote target: one request. The state file is rewritten in place there: a torn write
  // leaves a state no reader mistakes for a finished one, and what a change set did is told by
  // its files' hashes, not by this word.
  if (const auto r =
          target_.run_script("printf '%s\\n' \"$2\" >\"$1/state\" || exit 1; [ \"$3\" = 0 ] || rm -f -- \"$1.open\"",
                             {dir(id), state, finished ? "1" : "0"}, {})) {
    if (r->exit_code != 0)
      throw Error(ErrorKind::kInternal, "cannot record the state of change set " + id + ": " + text::trim(r->err),
                  Location{target_.name(), dir(id), 0});
    return;
  }
  target_.write_file_atomic(dir(id) + "/state", state + "\n", kPrivate);
  if (finished) target_.remove_file(dir(id) + ".open");
}

void Journal::set_window(const std::string& id, const std::string& text) {
  target_.write_file_atomic(dir(id) + "/window", text + "\n", kPrivate);
}

std::string Journal::write_script(const std::string& id, const std::string& name, const std::string& body) {
  const std::string path = dir(id) + "/" + name;
  target_.write_file_atomic(path, body, host::FileInfo{false, true, false, 0700, 0, 0});
  return path;
}

std::vector<ChangeSet> Journal::unfinished() {
  std::vector<ChangeSet> out;
  for (const auto& marker : target_.glob(std::string(kJournalDir) + "/*.open")) {
    const std::string id =
        marker.substr(std::string(kJournalDir).size() + 1, marker.size() - std::string(kJournalDir).size() - 6);
    out.push_back(load(id));
  }
  return out;
}

ChangeSet Journal::load(const std::string& id) {
  if (id.empty() || id.find('/') != std::string::npos || id[0] == '.')
    throw Error(ErrorKind::kBadInput, "'" + id + "' is not a change set ID");
  const auto manifest = target_.read_file(dir(id) + "/manifest");
  if (!manifest)
    throw Error(ErrorKind::kNotFound, "no change set " + id + " (see: sshdctl history)",
                Location{target_.name(), {}, 0});
  auto set = parse_manifest(*manifest);
  set.state = text::trim(target_.read_file(dir(id) + "/state").value_or("unknown"));
  set.window = text::trim(target_.read_file(dir(id) + "/window").value_or(""));
  if (set.state == "prepared" || set.state == "applied")
    if (const auto d = target_.read_file(dir(id) + "/deadline")) set.deadline = std::atol(d->c_str());
  return set;
}

std::vector<ChangeSet> Journal::list() {
  std::vector<ChangeSet> out;
  for (const auto& manifest : target_.glob(std::string(kJournalDir) + "/*/manifest")) {
    const std::string id =
        manifest.substr(std::string(kJournalDir).size() + 1, manifest.size() - std::string(kJournalDir).size() - 10);
    try {
      out.push_back(load(id));
    } catch (const Error& e) {
      ChangeSet broken;
      broken.id = id;
      broken.state = "damaged: " + e.message();
      out.push_back(broken);
    }
  }
  std::sort(out.begin(), out.end(), [](const ChangeSet& a, const ChangeSet& b) { return a.id < b.id; });
  return out;
}

std::optional<std::string> Journal::before_image(const ChangeSet& set, std::size_t index) {
  if (!set.files.at(index).before_sha) return std::nullopt;
  return target_.read_file(dir(set.id) + "/before." + std::to_string(index));
}

std::optional<std::string> Journal::after_image(const ChangeSet& set, std::size_t index) {
  if (!set.files.at(index).after_sha) return std::nullopt;
  return target_.read_file(dir(set.id) + "/after." + std::to_string(index));
}

Error lock_held(const std::string& host, const std::string& owner, long since, int waited_s) {
  const std::string pid = owner.empty() ? std::string("?") : owner;
  return Error(ErrorKind::kPermission,
               "another sshdctl run (pid " + pid + " on the target" +
                   (since > 0 ? ", since " + text::utc(since, "%Y-%m-%dT%H:%M:%SZ") : std::string()) + ") holds " +
                   kLockPath + "; waited " + std::to_string(waited_s) +
                   " s; nothing was done (--lock-timeout waits longer)",
               Location{host, kLockPath, 0})
      .with_detail(
          "a remote change holds the lock only while its commit runs on the target, a local run for its "
          "whole run: a holder that stays is stuck there (end it on the target: kill " +
          (owner.empty() ? std::string("PID") : owner) + ")");
}

// The lock is a file, "PID TIME BOOT_ID", created with O_EXCL (the scripts on a remote target
// take it with the shell's noclobber: no process). An older sshdctl's lock, a directory with
// a pid file, is read too. Taken over: a lock whose owner is dead or of another boot, and one
// left empty for 5 s (its taker died between the create and the write).
TargetLock::TargetLock(host::Host& target, int timeout_s) : target_(target) {
  const long me = target_.run_pid();
  const std::string boot = text::trim(target_.read_file("/proc/sys/kernel/random/boot_id").value_or(""));
  make_dirs(target_, "/var/lib/sshdctl");
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  Clock::time_point empty_since{};  // when the lock was first seen empty; epoch: not seen so
  while (true) {
    const std::string mine = std::to_string(me) + " " + std::to_string(std::time(nullptr)) + " " + boot + "\n";
    if (target_.create_file(kLockPath, mine, 0600)) break;
    const auto info = target_.stat(kLockPath);
    const bool old_style = info.exists && !info.regular && !info.symlink;
    const auto held =
        text::split_words(target_.read_file(old_style ? std::string(kLockPath) + "/pid" : kLockPath).value_or(""));
    const std::string owner = held.empty() ? "" : held[0];
    const long pid = std::atol(owner.c_str());
    if (pid == me && (held.size() < 3 || held[2] == boot)) break;
    const bool other_boot = held.size() > 2 && !boot.empty() && held[2] != boot;
    const auto now = Clock::now();
    if (!held.empty())
      empty_since = {};
    else if (empty_since == Clock::time_point{})
      empty_since = now;
    if ((pid > 0 && (other_boot || !target_.pid_alive(pid))) ||
        (held.empty() && now - empty_since > std::chrono::seconds(5))) {
      // Left by a run that died: taken over (its change set, if any, is dealt with next).
      remove_lock(old_style);
      empty_since = {};
      continue;
    }
    if (now > deadline)
      throw lock_held(target_.name(), owner, held.size() > 1 ? std::atol(held[1].c_str()) : 0, timeout_s);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  held_ = true;
}

void TargetLock::remove_lock(bool old_style) {
  if (!old_style) {
    target_.remove_file(kLockPath);
    return;
  }
  target_.remove_file(std::string(kLockPath) + "/pid");
  target_.remove_dir(kLockPath);
}

TargetLock::~TargetLock() {
  if (!held_) return;
  try {
    remove_lock(false);
  } catch (const Error&) {
    // The connection is gone; the next run finds the owner gone and takes the lock over.
  }
}

}  // namespace sshdctl::txn

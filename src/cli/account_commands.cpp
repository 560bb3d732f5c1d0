// The account verbs: key add/remove/list/prune, tempkey, passwd. Keys go where sshd looks for
// them (the effective AuthorizedKeysFile for that user), through the authorized_keys lens;
// every write takes the same path as an sshd change (atomic, probed, rolled back remotely).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "change.h"
#include "commands.h"
#include "sshdctl/accounts/authorized_keys.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"
#include "sshdctl/config/catalog.h"
#include "sshdctl/config/engine.h"
#include "sshdctl/config/resolve.h"
#include "sshdctl/host/accounts.h"

namespace sshdctl::cli {

namespace {

using accounts::PublicKey;
using config::FileChange;
using config::Model;
using config::Note;

}  // namespace

host::Account account_or_fail(host::Host& target, const std::string& user) {
  auto account = host::find_account(target, user);
  if (!account)
    throw Error(ErrorKind::kBadInput, "no user '" + user + "' in /etc/passwd", Location{target.name(), {}, 0});
  return *account;
}

namespace {

// The key files sshd reads for `account` (Match blocks for that user applied); an error when
// AuthorizedKeysFile is "none" for it.
std::vector<std::string> key_files(host::Host& target, const Model& model, const host::Account& account) {
  config::Connection conn;
  conn.user = account.name;
  conn.groups = host::groups_of(target, account);
  auto found = accounts::effective_key_files(model, conn, account);
  if (found.files.empty())
    throw Error(ErrorKind::kBadInput,
                "AuthorizedKeysFile is 'none' for " + account.name +
                    (found.decided_by.empty() ? "" : " (" + found.decided_by + ")") +
                    ": sshd reads no key file for this user",
                Location{target.name(), {}, 0});
  return std::move(found.files);
}

std::string octal(mode_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode));
  return buf;
}

// StrictModes: sshd ignores keys when the file, its directory or the home directory is owned
// by someone other than the user or root, or can be written by group or others. Fixes that
// with `fix` (chmod go-w, or the mode given; owner set to the user), else refuses, saying why.
void check_strict_modes(Context& ctx, const host::Account& a, const std::string& path, mode_t fixed_mode, bool fix,
                        std::vector<Note>& notes) {
  const auto info = ctx.target->stat(path);
  if (!info.exists) return;
  const Location where{ctx.target->name(), path, 0};
  if (info.symlink)
    throw Error(ErrorKind::kUnsupported,
                "is a symbolic link: sshdctl does not follow it (sshd's StrictModes checks what it points to)", where);
  const auto problem = accounts::strict_modes_problem(info, a);
  if (!problem) return;
  const std::string& why = *problem;
  const bool owner_ok = info.uid == a.uid || info.uid == 0;
  if (!fix)
    throw Error(ErrorKind::kPermission, why + ": sshd (StrictModes) would ignore the keys; --fix-perms repairs it",
                where);
  const mode_t mode = fixed_mode != 0 ? fixed_mode : static_cast<mode_t>(info.mode & ~022U);
  const uid_t uid = owner_ok ? info.uid : a.uid;
  const gid_t gid = owner_ok ? info.gid : a.gid;
  if (ctx.dry_run) {
    notes.push_back(Note{where, "would fix: " + why});
    return;
  }
  ctx.target->set_mode_owner(path, mode, uid, gid);
  notes.push_back(
      Note{where, "fixed: " + why + "; now " + octal(mode) + " " + std::to_string(uid) + ":" + std::to_string(gid)});
}

// The file sshdctl writes keys to (the first AuthorizedKeysFile), checked and made ready: the
// home directory and the key file's directory pass StrictModes, ~/.ssh is created 0700.
std::string prepare_key_file(Context& ctx, const host::Account& a, const std::string& file, bool fix,
                             std::vector<Note>& notes) {
  const Location where{ctx.target->name(), file, 0};
  if (!ctx.target->stat(a.home).exists)
    throw Error(ErrorKind::kNotFound, "the home directory " + a.home + " of " + a.name + " does not exist", where);
  check_strict_modes(ctx, a, a.home, 0, fix, notes);
  const std::string dir = file.substr(0, file.rfind('/'));
  const bool under_home = dir.rfind(a.home + "/", 0) == 0 || dir == a.home;
  if (!ctx.target->stat(dir).exists) {
    if (!under_home || dir.find('/', a.home.size() + 1) != std::string::npos)
      throw Error(ErrorKind::kNotFound, "the directory " + dir + " does not exist (sshdctl creates only ~/.ssh)",
                  where);
    if (ctx.dry_run) {
      notes.push_back(Note{where, "would create " + dir + " (0700, owned by " + a.name + ")"});
    } else {
      ctx.target->make_dir(dir, 0700);
      ctx.target->set_mode_owner(dir, 0700, a.uid, a.gid);
      notes.push_back(Note{where, "created " + dir + " (0700, owned by " + a.name + ")"});
    }
  } else if (dir != a.home) {
    check_strict_modes(ctx, a, dir, under_home ? 0700 : 0, fix, notes);
  }
  const auto info = ctx.target->stat(file);
  if (info.exists && !info.symlink && !info.regular)
    throw Error(ErrorKind::kUnsupported, "is not a regular file", where);
  check_strict_modes(ctx, a, file, 0600, fix, notes);
  return file;
}

// The change of one key file: `edit` applied to its keys (through the lens).
template <typename Edit>
std::optional<FileChange> edit_key_file(Context& ctx, const host::Account& a, const std::string& file, Edit edit) {
  const auto info = ctx.target->stat(file);
  const auto before = info.exists ? ctx.target->read_file(file) : std::nullopt;
  accounts::AuthorizedKeys keys(before.value_or(""), ctx.lens_dir, file);
  if (!edit(keys)) return std::nullopt;
  FileChange change;
  change.path = file;
  change.before = before;
  change.after = keys.text();
  change.info = info.exists ? info : host::FileInfo{false, true, false, 0600, a.uid, a.gid};
  return change;
}

// Runs a key change for `user`; `edits` makes the file changes from the model and account.
ChangeReport key_change(
    Context& ctx, const std::string& verb, const std::string& user,
    const std::function<std::vector<FileChange>(const Model&, const host::Account&, std::vector<Note>&)>& edits) {
  const host::Account account = account_or_fail(*ctx.target, user);
  std::vector<Note> notes;
  auto report = run_change(
      ctx, verb, [](const Model&) { return config::Plan{}; }, nullptr,
      [&](const Model& model) { return edits(model, account, notes); });
  for (auto& note : notes) report.notes.push_back(note);
  return report;
}

std::string describe_key(const PublicKey& k) {
  return k.type + " " + accounts::key_fingerprint(k) + (k.comment.empty() ? "" : " (" + k.comment + ")");
}

}  // namespace

bool KeySelector::matches(const PublicKey& key) const {
  if (blob && key.blob == *blob) return true;
  if (fingerprint && accounts::key_fingerprint(key) == *fingerprint) return true;
  if (comment && key.comment == *comment) return true;
  return false;
}

std::vector<FileChange> key_changes(Context& ctx, const Model& model, const host::Account& a,
                                    const std::vector<PublicKey>& add, const std::vector<KeySelector>& remove,
                                    bool fix_perms, std::vector<Note>& notes) {
  for (const auto& key : add)
    if (auto problem = accounts::key_problem(key)) throw Error(ErrorKind::kBadInput, *problem);
  const auto files = key_files(*ctx.target, model, a);
  // Checked first: a key in a file sshd ignores is not "already there".
  const std::string first = add.empty() ? std::string() : prepare_key_file(ctx, a, files[0], fix_perms, notes);
  // A key already exactly so in another file sshd reads needs nothing (the first file is the
  // editor's to judge).
  std::vector<PublicKey> missing;
  for (const auto& key : add) {
    bool elsewhere = false;
    for (std::size_t i = 1; i < files.size() && !elsewhere; ++i) {
      const auto info = ctx.target->stat(files[i]);
      if (!info.exists || info.symlink) continue;
      accounts::AuthorizedKeys present(ctx.target->read_file(files[i]).value_or(""), ctx.lens_dir, files[i]);
      for (const auto& k : present.keys())
        elsewhere = elsewhere || (k.blob == key.blob && k.options == key.options && k.type == key.type);
    }
    if (!elsewhere) missing.push_back(key);
  }
  const auto unwanted = [&](const PublicKey& k) {
    for (const auto& which : remove)
      if (which.matches(k)) return true;
    return false;
  };
  std::vector<FileChange> changes;
  for (const auto& file : files) {
    const bool adds = file == first && !missing.empty();
    const auto info = ctx.target->stat(file);
    if (!adds && (remove.empty() || !info.exists)) continue;
    if (info.symlink)
      throw Error(ErrorKind::kUnsupported, "is a symbolic link; not followed", Location{ctx.target->name(), file, 0});
    auto change = edit_key_file(ctx, a, file, [&](accounts::AuthorizedKeys& keys) {
      bool edited = false;
      for (const auto& k : keys.keys())
        if (unwanted(k)) notes.push_back(Note{{ctx.target->name(), file, k.line}, "removed " + describe_key(k)});
      edited = keys.remove_if(unwanted) > 0;
      if (adds)
        for (const auto& key : missing)
          if (keys.add(key)) {
            edited = true;
            notes.push_back(Note{{ctx.target->name(), file, 0},
                                 "added " + describe_key(key) +
                                     (key.options.empty() ? "" : " with " + accounts::render_options(key.options))});
          }
      return edited;
    });
    if (change) changes.push_back(*change);
  }
  return changes;
}

ChangeReport key_add(Context& ctx, const std::string& user, const PublicKey& key, bool fix_perms) {
  if (auto problem = accounts::key_problem(key)) throw Error(ErrorKind::kBadInput, *problem);
  return key_change(ctx, "key add", user, [&](const Model& model, const host::Account& a, std::vector<Note>& notes) {
    return key_changes(ctx, model, a, {key}, {}, fix_perms, notes);
  });
}

ChangeReport key_remove(Context& ctx, const std::string& user, const KeySelector& which) {
  return key_change(ctx, "key remove", user, [&](const Model& model, const host::Account& a, std::vector<Note>& notes) {
    auto changes = key_changes(ctx, model, a, {}, {which}, false, notes);
    if (changes.empty()) notes.push_back(Note{{ctx.target->name(), {}, 0}, "no key matched"});
    return changes;
  });
}

ChangeReport key_prune(Context& ctx, const std::string& user) {
  const std::time_t now = std::time(nullptr);
  const auto expired = [now](const PublicKey& k) {
    const auto when = accounts::key_expiry(k);
    return when && *when <= now;
  };
  return key_change(ctx, "key prune", user, [&](const Model& model, const host::Account& a, std::vector<Note>& notes) {
    std::vector<FileChange> changes;
    for (const auto& file : key_files(*ctx.target, model, a)) {
      const auto info = ctx.target->stat(file);
      if (!info.exists || info.symlink) continue;
      auto change = edit_key_file(ctx, a, file, [&](accounts::AuthorizedKeys& keys) {
        for (const auto& k : keys.keys())
          if (expired(k))
            notes.push_back(Note{{ctx.target->name(), file, k.line}, "removed expired " + describe_key(k)});
        return keys.remove_if(expired) > 0;
      });
      if (change) changes.push_back(*change);
    }
    return changes;
  });
}

KeyListReport key_list(Context& ctx, const std::string& user) {
  const host::Account account = account_or_fail(*ctx.target, user);
  config::ConfigTree tree(*ctx.target, ctx.lens_dir);
  tree.load();
  KeyListReport report;
  report.host = ctx.target->name();
  report.user = user;
  report.files = key_files(*ctx.target, tree.model(), account);
  const std::time_t now = std::time(nullptr);
  for (const auto& file : report.files) {
    const auto info = ctx.target->stat(file);
    if (!info.exists) continue;
    if (info.symlink) {
      report.notes.push_back(file + " is a symbolic link: not read");
      continue;
    }
    accounts::AuthorizedKeys keys(ctx.target->read_file(file).value_or(""), ctx.lens_dir, file);
    for (const auto& k : keys.keys()) {
      ListedKey item;
      item.where = Location{{}, file, k.line}.str();
      item.type = k.type;
      item.fingerprint = accounts::key_fingerprint(k);
      item.comment = k.comment;
      item.options = accounts::render_options(k.options);
      if (const auto when = accounts::key_expiry(k)) {
        item.expires = accounts::expiry_value(*when);
        item.expired = *when <= now;
      }
      if (auto problem = accounts::key_problem(k)) item.problem = *problem;
      report.keys.push_back(item);
    }
  }
  return report;
}

namespace {

// OpenSSH before 8.7 reads expiry-time in sshd's time zone and knows no Z suffix (a "…Z" value
// makes it refuse the key): there the time is written as the target's local time, its offset
// asked of the target (`date +%z`, one program run, on those releases only). An unknown
// release is treated the same way, since the local form is read alike by every release.
std::optional<long> sshd_local_offset(host::Host& target) {
  const auto version = config::parse_openssh_version(target.openssh_version());
  if (version.known() && !(version < config::OpenSshVersion{8, 7})) return std::nullopt;
  const auto r = target.run({"/bin/date", "+%z"});
  const auto offset = r.exit_code == 0 ? accounts::parse_utc_offset(r.out) : std::nullopt;
  if (!offset)
    throw Error(ErrorKind::kInternal,
                "cannot read the target's time zone (date +%z: " + text::trim(r.err + r.out) + "), which OpenSSH " +
                    (version.known() ? config::to_string(version) : std::string("of an unknown release")) +
                    " reads expiry-time in",
                Location{target.name(), {}, 0});
  return offset;
}

}  // namespace

TempKey tempkey(Context& ctx, const std::string& user, long ttl_seconds) {
  if (ttl_seconds <= 0) throw Error(ErrorKind::kBadInput, "--ttl must be positive");
  const std::time_t expires = std::time(nullptr) + ttl_seconds;
  TempKey out;
  out.expires = accounts::expiry_value(expires, sshd_local_offset(*ctx.target));
  auto pair = accounts::generate_ed25519("sshdctl-tempkey " + user + " until " + out.expires);
  pair.public_key.options.push_back(accounts::KeyOption{"expiry-time", out.expires});
  out.change = key_add(ctx, user, pair.public_key, false);
  out.change.verb = "tempkey";
  out.private_key = std::move(pair.private_key);
  out.fingerprint = accounts::key_fingerprint(pair.public_key);
  return out;
}

ChangeReport passwd(Context& ctx, const std::string& user, const std::optional<std::string>& password, bool unlock) {
  if (!password && !unlock) throw Error(ErrorKind::kBadInput, "nothing to do: give a new password, or --unlock");
  (void)account_or_fail(*ctx.target, user);
  std::vector<Note> notes;
  auto report = run_change(
      ctx, "passwd", [](const Model&) { return config::Plan{}; }, nullptr,
      [&](const Model&) {
        return shadow_change(*ctx.target, ctx.lens_dir, {{user, password, unlock}}, notes);
      });
  for (auto& note : notes) report.notes.push_back(note);
  return report;
}

}  // namespace sshdctl::cli

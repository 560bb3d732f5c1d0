#include "change.h"

#include "sshdctl/accounts/password.h"
#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"

namespace sshdctl::cli {

std::vector<config::FileChange> shadow_change(host::Host& target, const std::string& lens_dir,
                                              const std::vector<ShadowRequest>& requests,
                                              std::vector<config::Note>& notes) {
  const std::string path = "/etc/shadow";
  const Location where{target.name(), path, 0};
  const auto shadow = target.read_file(path);
  if (!shadow) throw Error(ErrorKind::kNotFound, "no shadow file", where);
  accounts::ShadowFile file(*shadow, lens_dir, path);
  std::vector<std::string> what;
  std::optional<accounts::HashMethod> method;
  for (const auto& request : requests) {
    const std::string& user = request.user;
    const auto current = file.entry(user);
    if (!current) throw Error(ErrorKind::kBadInput, "no user " + user + " in the shadow file", where);
    auto entry = *current;
    const bool was_locked = current->password.rfind('!', 0) == 0 || current->password == "*";
    if (request.password && !accounts::password_matches(*request.password, current->password)) {
      if (!method) {
        method = accounts::hash_method(target.read_file("/etc/login.defs").value_or(""));
        if (!method->note.empty()) notes.push_back(config::Note{{target.name(), "/etc/login.defs", 0}, method->note});
      }
      entry.password = accounts::hash_password(*request.password, *method);
      entry.lastchange = std::to_string(accounts::days_since_epoch());
      what.push_back(user + "'s password hash changed (" + method->name + ", as login.defs says)");
      if (was_locked) what.emplace_back(user + "'s account was locked and is unlocked");
    }
    if (request.unlock) {
      std::string done;
      accounts::unlock(entry, user, accounts::days_since_epoch(), done);
      if (!done.empty()) what.push_back(done);
    }
    if (request.lock && entry.password.rfind('!', 0) != 0) {
      entry.password.insert(0, "!");
      what.push_back(user + "'s password is locked (!)");
    }
    if (entry.password == current->password && entry.lastchange == current->lastchange &&
        entry.expire == current->expire)
      continue;
    file.set(user, entry);
  }
  if (what.empty()) return {};
  config::FileChange change;
  change.path = path;
  change.before = shadow;
  change.after = file.text();
  change.info = target.stat(path);
  change.masked = text::join(what, "; ") + "\n" + accounts::masked_shadow_diff(*shadow, change.after, path);
  return {change};
}

}  // namespace sshdctl::cli

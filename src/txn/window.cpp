#include "sshdctl/txn/window.h"

#include "sshdctl/common/text.h"
#include "sshdctl/txn/deadman.h"

namespace sshdctl::txn {

namespace {

std::string q(const std::string& word) { return text::shell_quote(word); }
std::string octal(mode_t mode) { return text::octal_mode(mode); }

}  // namespace

std::string window_unit(const std::string& id) { return "sshdctl-window-" + id; }

std::string revert_script(const ChangeSet& set, const std::string& reload_unit) {
  const std::string dir = std::string(kJournalDir) + "/" + set.id;
  std::string s =
      "#!/bin/sh\n"
      "# Written by sshdctl: the automatic revert of change set " +
      set.id +
      " when its window ends.\n"
      "# Needs sh, coreutils, sshd and systemctl only. Same guarantees as sshdctl revert: files still\n"
      "# as the change left them, atomic replacement (temp + rename), sshd -T before sshd is reloaded\n"
      "# (the old files come back when it refuses), and a change set of its own in the journal.\n"
      "set -u\n"
      "umask 077\n"
      // The target's lock, as every sshdctl step takes it; an sshdctl run in progress is waited
      // for, up to ten minutes. At boot (`revert.sh boot`, before sshd starts) sshd is not
      // reloaded.
      "L=/var/lib/sshdctl/lock now=$(date +%s)\n" +
      script_functions() +
      "take_lock 600 || { echo 'the target lock stays taken: not reverted'; exit 1; }\n"
      "trap 'rm -rf $L' EXIT\n"
      "old=" +
      q(dir) +
      "\n"
      "state=$(cat \"$old/state\" 2>/dev/null)\n"
      // "applied": a local run that died after its writes (the window's timer was set up before
      // them); its lock, taken above, is then a dead one's.
      "case $state in done | applied) ;; *) echo \"change set " +
      set.id +
      " is '$state': nothing to revert\"; exit 0 ;; esac\n"
      "sha() { if [ -e \"$1\" ]; then sha256sum < \"$1\" | cut -d' ' -f1; else echo -; fi; }\n"
      "note() { echo \"$1\"; printf 'done (window: %s)\\n' \"$1\" > \"$old/state.tmp\" && mv \"$old/state.tmp\" "
      "\"$old/state\"; ended; }\n"
      // The window file says the window is over, so that a boot does not end it again.
      "ended() { printf 'ended %s\\n' \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\" > \"$old/window\"; }\n";
  // 1. Every file must still be as the change left it.
  for (const auto& f : set.files)
    s += "[ \"$(sha " + q(f.path) + ")\" = " + q(f.after_sha.value_or("-")) + " ] || { note " +
         q("not reverted: " + f.path + " changed since the change") + "; exit 1; }\n";
  // 2. The automatic revert is a change set of its own.
  s += "new=" + q(std::string(kJournalDir) + "/") +
       "$(date -u +%Y%m%dT%H%M%S%6NZ)-window\n"
       "mkdir -m 700 \"$new\" || exit 1\n";
  for (std::size_t i = 0; i < set.files.size(); ++i) {
    const std::string n = std::to_string(i);
    if (set.files[i].after_sha) s += "cp \"$old/after." + n + "\" \"$new/before." + n + "\"\n";
    if (set.files[i].before_sha) s += "cp \"$old/before." + n + "\" \"$new/after." + n + "\"\n";
  }
  s += "cat > \"$new/manifest\" <<EOF\nsshdctl-change 1\nid ${new##*/}\nverb window%20revert%20of%20" + set.id +
       "\nwho systemd timer " + window_unit(set.id) + ".timer\nwhen $(date -u +%Y-%m-%dT%H:%M:%SZ)\nreverts " + set.id +
       "\n";
  for (std::size_t i = 0; i < set.files.size(); ++i) {
    const auto& f = set.files[i];
    std::string path;
    for (const char c : f.path)
      path += c == ' ' ? std::string("%20") : c == '%' ? std::string("%25") : std::string(1, c);
    s += "file " + std::to_string(i) + " " + path + " " + octal(f.info.mode) + " " + std::to_string(f.info.uid) + " " +
         std::to_string(f.info.gid) + " " + f.after_sha.value_or("-") + " " + f.before_sha.value_or("-") + "\n";
  }
  s += "EOF\n"
       "echo prepared > \"$new/state\"\n"
       ": > \"$new.open\"\n";
  // 3. Stage each before-image next to its file, then rename it into place.
  const auto put_back = [&](const std::string& image_dir, const char* image, bool use_before) {
    std::string out;
    for (std::size_t i = 0; i < set.files.size(); ++i) {
      const auto& f = set.files[i];
      const bool exists = use_before ? f.before_sha.has_value() : f.after_sha.has_value();
      const std::string n = std::to_string(i);
      if (!exists) {
        out += "rm -f -- " + q(f.path) + "\n";
        continue;
      }
      out += "t=" + q(f.path + ".sshdctl-window") + "; cp \"" + image_dir + "/" + image + "." + n +
             "\" \"$t\" && chmod " + octal(f.info.mode) + " \"$t\" && chown " + std::to_string(f.info.uid) + ":" +
             std::to_string(f.info.gid) + " \"$t\" && sync \"$t\" && mv -f \"$t\" " + q(f.path) + " || ok=no\n";
    }
    return out;
  };
  s += "ok=yes\n" + put_back("$old", "before", true) + "sync\n";
  // 4. sshd must accept the result, or the change comes back.
  s += "if [ $ok != yes ] || ! sshd_t; then\n"
       "  ok=yes\n" +
       put_back("$old", "after", false) +
       "  echo 'rolled-back: sshd -T refused the reverted files' > \"$new/state\"; rm -f \"$new.open\"\n"
       "  printf '%s\\n' \"${said:-}\"\n"
       "  note 'not reverted: sshd -T refused the reverted files'; exit 1\n"
       "fi\n";
  // 5. Reload, and record.
  if (!reload_unit.empty())
    s += "[ \"${1:-}\" = boot ] || reload_sshd " + q(reload_unit) + " || echo 'the reload of " + reload_unit +
         " failed'\n";
  s += "echo done > \"$new/state\"; rm -f \"$new.open\"\n"
       "echo \"reverted by ${new##*/} (window)\" > \"$old/state.tmp\" && mv \"$old/state.tmp\" \"$old/state\"; ended\n"
       "echo \"change set " +
       set.id + " reverted by ${new##*/}\"\n";
  return s;
}

}  // namespace sshdctl::txn

// The dead-man's undo script (deadman.h), run with this machine's real /bin/sh on a journal in a
// temporary directory: what the target does by itself when no fresh login confirms a change.
#include "sshdctl/txn/deadman.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "sshdctl/txn/journal.h"
#include "temp_dir.h"

namespace sshdctl {
namespace {

struct ShRun {
  int status = -1;
  std::string out;
};

ShRun sh(const std::string& command) {
  ShRun r;
  FILE* p = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string last_line(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

// A change set ID that changed `conf` (before → after) and created `added`, as the commit leaves
// it on the target: journal images, state "applied", the .open marker, the undo script, and a
// token directory per probe.
class DeadMan : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir.file("changes/ID"));
    std::filesystem::create_directories(dir.file("etc"));
    conf = dir.file("etc/x.conf");
    added = dir.file("etc/added.conf");
    txn::ChangeSet set;
    set.id = "ID";
    txn::FileRecord f;
    f.path = conf;
    f.info = host::FileInfo{true, true, false, 0640, ::getuid(), ::getgid()};
    f.before_sha = txn::sha256_hex("old\n");
    f.after_sha = txn::sha256_hex("new\n");
    set.files.push_back(f);
    txn::FileRecord g = f;
    g.path = added;
    g.before_sha.reset();
    g.after_sha = txn::sha256_hex("added\n");
    set.files.push_back(g);
    (void)dir.write("changes/ID/before.0", "old\n");
    (void)dir.write("changes/ID/after.0", "new\n");
    (void)dir.write("changes/ID/after.1", "added\n");
    (void)dir.write("changes/ID/state", "applied\n");
    (void)dir.write("changes/ID.open", "");
    (void)dir.write("changes/ID/confirm", "tok1\ntok2\n");
    std::filesystem::create_directories(dir.file("confirm/tok1"));
    std::filesystem::create_directories(dir.file("confirm/tok2"));
    (void)dir.write("etc/x.conf", "new\n");
    ::chmod(conf.c_str(), 0600);  // the mode the undo must not keep
    (void)dir.write("etc/added.conf", "added\n");
    script = dir.write("changes/ID/undo.sh", txn::undo_script(set, "", 120, {"tok1", "tok2"}, dir.path()));
  }

  ShRun undo(const std::string& args) { return sh("sh " + script + " " + args); }
  std::string state() { return last_line(dir.read("changes/ID/state")); }
  void confirm_all() {
    (void)dir.write("confirm/tok1/ok", "ok\n");
    (void)dir.write("confirm/tok2/ok", "ok\n");
  }

  const testing::TempDir dir{"deadman"};
  std::string conf, added, script;
};

TEST_F(DeadMan, ScriptsParseAsSh) {
  EXPECT_EQ(sh("sh -n " + script).status, 0);
  EXPECT_EQ(sh("sh -n " + dir.write("boot.sh", txn::boot_script())).status, 0);
  EXPECT_EQ(sh("sh -n " + dir.write("sshdctl-boot", txn::boot_init_script())).status, 0);
}

// Without systemd the boot step is an init script: insserv orders it by its LSB header (before
// Debian's ssh and others' sshd, after the local file systems), and it does nothing but start.
TEST_F(DeadMan, TheBootInitScriptRunsBeforeSshdAndOnlyStarts) {
  const std::string init = txn::boot_init_script();
  EXPECT_NE(init.find("\n# Provides:          sshdctl-boot\n"), std::string::npos) << init;
  EXPECT_NE(init.find("\n# Required-Start:    $local_fs\n"), std::string::npos) << init;
  EXPECT_NE(init.find("\n# X-Start-Before:    ssh sshd\n"), std::string::npos) << init;
  EXPECT_NE(init.find("\n# Default-Start:     2 3 4 5\n"), std::string::npos) << init;
  EXPECT_NE(init.find(std::string("/bin/sh ") + txn::kBootScript), std::string::npos) << init;
  const std::string path = dir.write("sshdctl-boot", init);
  EXPECT_EQ(sh("sh " + path + " stop").status, 0);
  const auto bad = sh("(sh " + path + " frobnicate 2>&1)");
  EXPECT_EQ(bad.status, 3);
  EXPECT_NE(bad.out.find("Usage:"), std::string::npos) << bad.out;
}

TEST_F(DeadMan, AtTheDeadlineAnUnconfirmedChangeGoesBackWithItsModeAndOwner) {
  const auto r = undo("deadline");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(last_line(r.out), "reverted 2");
  EXPECT_EQ(dir.read("etc/x.conf"), "old\n");
  EXPECT_EQ(mode_of(conf), 0640U);
  EXPECT_FALSE(std::filesystem::exists(added));
  EXPECT_EQ(state(), "rolled-back: reverted by the target: not confirmed within 120 s");
  EXPECT_FALSE(std::filesystem::exists(dir.file("changes/ID.open")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("lock")));
}

TEST_F(DeadMan, OneTokenOfTwoIsNotAConfirmation) {
  (void)dir.write("confirm/tok1/ok", "ok\n");
  const auto r = undo("confirm");
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(last_line(r.out), "unconfirmed");
  EXPECT_EQ(state(), "applied");
  EXPECT_EQ(dir.read("etc/x.conf"), "new\n");
  EXPECT_EQ(last_line(undo("deadline").out), "reverted 2");
}

TEST_F(DeadMan, EveryTokenConfirmsAndTheChangeStays) {
  confirm_all();
  const auto r = undo("confirm");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(last_line(r.out), "confirmed");
  EXPECT_EQ(state(), "done");
  EXPECT_EQ(dir.read("etc/x.conf"), "new\n");
  EXPECT_FALSE(std::filesystem::exists(dir.file("changes/ID.open")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("confirm/tok1")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("lock"))) << "the confirmation releases the target's lock";
  // The timer firing later finds nothing to do.
  const auto later = undo("deadline");
  EXPECT_EQ(later.status, 0);
  EXPECT_EQ(last_line(later.out), "nothing: done");
  EXPECT_EQ(dir.read("etc/x.conf"), "new\n");
}

TEST_F(DeadMan, ATokenLeftBeforeTheRunDiedStillConfirmsAtTheDeadlineAndAtBoot) {
  confirm_all();
  EXPECT_EQ(last_line(undo("boot").out), "confirmed");
  EXPECT_EQ(state(), "done");
}

TEST_F(DeadMan, AtBootAnUnconfirmedChangeGoesBack) {
  EXPECT_EQ(last_line(undo("boot").out), "reverted 2");
  EXPECT_EQ(state(), "rolled-back: reverted by the target at boot: the host restarted before the change was confirmed");
}

TEST_F(DeadMan, AFileChangedSinceIsLeftAloneAndNamed) {
  (void)dir.write("etc/x.conf", "someone else's edit\n");
  const auto r = undo("deadline");
  EXPECT_EQ(r.status, 10);
  EXPECT_EQ(last_line(r.out), "drift " + conf);
  EXPECT_EQ(dir.read("etc/x.conf"), "someone else's edit\n");
  EXPECT_TRUE(std::filesystem::exists(added));
  EXPECT_EQ(state().rfind("abandoned: changed since the change: " + conf, 0), 0U) << state();
}

TEST_F(DeadMan, AFileAlreadyBackAsItWasIsLeftAndTheOthersGoBack) {
  (void)dir.write("etc/x.conf", "old\n");
  EXPECT_EQ(last_line(undo("rollback 'the login probe failed'").out), "reverted 1");
  EXPECT_FALSE(std::filesystem::exists(added));
  EXPECT_EQ(state(), "rolled-back: the login probe failed");
}

TEST_F(DeadMan, ConfirmingAChangeTheTargetUndidAlreadySaysSo) {
  ASSERT_EQ(undo("deadline").status, 0);
  const auto r = undo("confirm");
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(last_line(r.out), "nothing: rolled-back: reverted by the target: not confirmed within 120 s");
}

// The run's own rollback after the deadline (its fresh login came too late): the files are the
// target's business already; the line is what sshdctl reports (transaction.cpp roll_back).
TEST_F(DeadMan, ARollbackAfterTheDeadlineLeavesTheTargetsUndoAndSaysSo) {
  ASSERT_EQ(undo("deadline").status, 0);
  const auto r = undo("rollback 'the login probe failed'");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(last_line(r.out), "nothing: rolled-back: reverted by the target: not confirmed within 120 s");
  EXPECT_EQ(state(), "rolled-back: reverted by the target: not confirmed within 120 s");
  EXPECT_EQ(dir.read("etc/x.conf"), "old\n");
  EXPECT_FALSE(std::filesystem::exists(dir.file("lock")));
}

TEST_F(DeadMan, TheNextRunWaitsForARunStillConfirmingThenSaysItIsInFlight) {
  std::string boot = last_line(sh("cat /proc/sys/kernel/random/boot_id").out);
  const pid_t owner = ::fork();
  if (owner == 0) {
    ::sleep(30);
    ::_exit(0);
  }
  (void)dir.write("changes/ID/owner", std::to_string(owner) + " " + boot + "\n");
  (void)dir.write("changes/ID/deadline", "1700000000 120\n");
  const auto r = undo("recover interrupted 1");
  ::kill(owner, SIGKILL);
  ::waitpid(owner, nullptr, 0);
  EXPECT_EQ(r.status, 20);
  EXPECT_EQ(last_line(r.out), "inflight " + std::to_string(owner) + " 1700000000");
  EXPECT_EQ(dir.read("etc/x.conf"), "new\n");
  // Its owner gone, the next run undoes it at once.
  const auto again = undo("recover interrupted 1");
  EXPECT_EQ(last_line(again.out), "reverted 2");
  EXPECT_EQ(state(), "rolled-back: interrupted");
}

TEST_F(DeadMan, AnOlderSshdctlsLockWhoseOwnerIsDeadIsTakenOver) {
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  std::filesystem::create_directories(dir.file("lock"));
  (void)dir.write("lock/pid",
                  std::to_string(dead) + " 0 " + last_line(sh("cat /proc/sys/kernel/random/boot_id").out) + "\n");
  EXPECT_EQ(last_line(undo("deadline").out), "reverted 2");
  EXPECT_FALSE(std::filesystem::exists(dir.file("lock")));
}

TEST_F(DeadMan, ALockFromAnotherBootIsTakenOver) {
  std::filesystem::create_directories(dir.file("lock"));
  (void)dir.write("lock/pid", std::to_string(::getpid()) + " 0 another-boot\n");
  EXPECT_EQ(last_line(undo("deadline").out), "reverted 2");
}

// take_lock, the lock every script on the target takes (commit, undo, windows), sourced alone.
class TakeLock : public ::testing::Test {
 protected:
  ShRun take(int wait) {
    const std::string fns = dir.write("fns.sh", txn::script_functions());
    return sh("L=" + dir.file("lock") + " now=77; . " + fns + "; take_lock " + std::to_string(wait) +
              "; r=$?; echo \"status $r $$\"; exit $r");
  }
  static std::string boot() { return last_line(sh("cat /proc/sys/kernel/random/boot_id").out); }
  static pid_t dead_pid() {
    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ::waitpid(dead, nullptr, 0);
    return dead;
  }
  const testing::TempDir dir{"takelock"};
};

TEST_F(TakeLock, IsAFileNamingThePidTheTimeAndTheBoot) {
  const auto r = take(0);
  EXPECT_EQ(r.status, 0) << r.out;
  const auto words = last_line(r.out);  // "status 0 PID"
  const std::string pid = words.substr(words.rfind(' ') + 1);
  EXPECT_EQ(dir.read("lock"), pid + " 77 " + boot() + "\n");
  EXPECT_EQ(mode_of(dir.file("lock")) & 0022, 0U);
}

TEST_F(TakeLock, ALiveOwnersLockIsWaitedForThenRefused) {
  (void)dir.write("lock", std::to_string(::getpid()) + " 5 " + boot() + "\n");
  const auto r = take(1);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_EQ(dir.read("lock"), std::to_string(::getpid()) + " 5 " + boot() + "\n") << "left to its owner";
}

TEST_F(TakeLock, ADeadOwnersLockOrOneOfAnotherBootIsTakenOver) {
  (void)dir.write("lock", std::to_string(dead_pid()) + " 5 " + boot() + "\n");
  EXPECT_EQ(take(0).status, 0);
  EXPECT_NE(dir.read("lock").find(" 77 "), std::string::npos);
  (void)dir.write("lock", std::to_string(::getpid()) + " 5 another-boot\n");
  EXPECT_EQ(take(0).status, 0);
  EXPECT_NE(dir.read("lock").find(" 77 "), std::string::npos);
}

TEST_F(TakeLock, AnOlderSshdctlsLockDirectoryIsReadThroughItsPidFile) {
  std::filesystem::create_directories(dir.file("lock"));
  (void)dir.write("lock/pid", std::to_string(::getpid()) + " 5 " + boot() + "\n");
  EXPECT_EQ(take(1).status, 1) << "a live owner: waited for";
  (void)dir.write("lock/pid", std::to_string(dead_pid()) + " 5 " + boot() + "\n");
  EXPECT_EQ(take(0).status, 0) << "a dead one: taken over";
  EXPECT_TRUE(std::filesystem::is_regular_file(dir.file("lock")));
}

TEST_F(TakeLock, WhereNothingCanBeCreatedItSaysUnwritableAtOnce) {
  const std::string fns = dir.write("fns.sh", txn::script_functions());
  const auto r = sh("L=" + dir.file("missing/lock") + " now=1; . " + fns + "; take_lock 30; echo \"status $?\"");
  EXPECT_EQ(last_line(r.out), "status 2");
}

TEST(DeadManConfirm, TheProbesCommandLeavesItsTokenAndRunsNoProgram) {
  EXPECT_EQ(txn::confirm_command("abc"), "echo ok >/var/lib/sshdctl/confirm/abc/ok");
  const auto a = txn::new_token();
  EXPECT_EQ(a.size(), 32U);
  EXPECT_NE(a, txn::new_token());
}

}  // namespace
}  // namespace sshdctl

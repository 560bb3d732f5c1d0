// The journal on an offline root: every change is a change set; history, show-change and
// revert work on it; a change killed at any step leaves sshd_config old or new, and the next
// run finishes the journal.
#include "sshdctl/txn/journal.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <regex>

#include "support.h"

namespace sshdctl::testing {
namespace {

class Journal : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path / "debian12-cloud";
    copy_fixture("debian12-cloud", root_);
    write(root_ / "etc/shadow", "root:*:19000:0:99999:7:::\n");
    ::chmod((root_ / "etc/shadow").c_str(), 0640);
  }
  CommandRun in_root(const std::string& args) { return sshdctl("--root " + quote(root_.string()) + " " + args); }
  std::string config() { return read(root_ / "etc/ssh/sshd_config"); }
  // The change set ID an output names ("journal: change set ID").
  static std::string id_in(const std::string& out) {
    std::smatch m;
    return std::regex_search(out, m, std::regex("change set (\\d{8}T\\d{12}Z-[0-9a-f]{6})")) ? m[1].str() : "";
  }

  TempDir tmp_;
  fs::path root_;
};

TEST_F(Journal, EveryChangeIsRecordedBeforeAndAfterRootOnly) {
  const auto r = in_root("--reason 'ticket 42' set X11Forwarding no");
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string id = id_in(r.out);
  ASSERT_FALSE(id.empty()) << r.out;
  const fs::path dir = root_ / "var/lib/sshdctl/changes" / id;
  EXPECT_EQ(fs::status(dir).permissions() & fs::perms::all, fs::perms::owner_all);
  for (const char* f : {"manifest", "state", "before.0", "after.0"})
    EXPECT_EQ(fs::status(dir / f).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write) << f;
  EXPECT_EQ(read(dir / "after.0"), config());
  EXPECT_EQ(read(dir / "state"), "done\n");
  EXPECT_FALSE(fs::exists(root_ / "var/lib/sshdctl/changes" / (id + ".open")));
  const auto history = in_root("history");
  EXPECT_NE(history.out.find(id + "  done  set  (ticket 42)"), std::string::npos) << history.out;
  const auto shown = in_root("show-change " + id);
  EXPECT_NE(shown.out.find("+X11Forwarding no"), std::string::npos) << shown.out;
  EXPECT_FALSE(fs::exists(root_ / "var/lib/sshdctl/lock")) << "the lock is released";
}

TEST_F(Journal, ShowChangeMasksPasswordHashes) {
  write(tmp_.path / "pw", "Journal-pw-1\n");
  const auto r = in_root("root-login enable --password-file " + quote((tmp_.path / "pw").string()));
  ASSERT_EQ(r.code, 0) << r.out;
  const auto shown = in_root("show-change " + id_in(r.out));
  EXPECT_NE(shown.out.find("+root:<hash changed>:"), std::string::npos) << shown.out;
  EXPECT_EQ(shown.out.find("$6$"), std::string::npos) << shown.out;
  EXPECT_EQ(shown.out.find("$y$"), std::string::npos) << shown.out;
}

TEST_F(Journal, RevertRestoresRefusesOnDriftAndCanItselfBeReverted) {
  const auto original = config();
  const auto change = in_root("root-login enable");
  ASSERT_EQ(change.code, 0) << change.out;
  const auto changed = config();
  const std::string id = id_in(change.out);

  write(root_ / "etc/ssh/sshd_config", changed + "# a hand edit\n");
  const auto refused = in_root("revert " + id);
  EXPECT_EQ(refused.code, 2) << refused.out;
  EXPECT_NE(refused.out.find("revert refused: 1 file(s) changed since change set " + id), std::string::npos)
      << refused.out;
  EXPECT_NE(refused.out.find("+# a hand edit"), std::string::npos) << "the three-way picture shows the edit";
  EXPECT_EQ(config(), changed + "# a hand edit\n") << "nothing was written";

  write(root_ / "etc/ssh/sshd_config", changed);
  const auto reverted = in_root("revert " + id);
  ASSERT_EQ(reverted.code, 0) << reverted.out;
  EXPECT_EQ(config(), original);
  EXPECT_NE(in_root("history").out.find(id + "  reverted by " + id_in(reverted.out)), std::string::npos);

  const auto again = in_root("revert --last");
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(config(), changed) << "a revert of the revert restores the change";

  write(root_ / "etc/ssh/sshd_config", changed + "# drift\n");
  const auto forced = in_root("revert --force " + id_in(again.out));
  ASSERT_EQ(forced.code, 0) << forced.out;
  EXPECT_EQ(config(), original) << "--force restores over the drift";
}

TEST_F(Journal, AChangeKilledAtAnyStepLeavesOldOrNewAndTheNextRunFinishesTheJournal) {
  int exercised = 0;
  for (int k = 1; k < 30; ++k) {
    const auto before = config();
    const std::string value = before.find("\nX11Forwarding no\n") != std::string::npos ? "yes" : "no";
    const auto killed = run("SSHDCTL_TEST_KILL_AT=" + std::to_string(k) + " SSHDCTL_LENS_DIR=" + SSHDCTL_LENSES + " " +
                            SSHDCTL_BINARY + " --root " + quote(root_.string()) + " set X11Forwarding " + value);
    if (killed.out.find("test hook: killed at step") == std::string::npos) {
      EXPECT_EQ(killed.code, 0) << "beyond the last step the change completes: " << killed.out;
      break;
    }
    ++exercised;
    const auto now = config();
    EXPECT_TRUE(now == before || now.find("\nX11Forwarding " + value + "\n") != std::string::npos)
        << "step " << k << ": neither old nor new";
    const auto next = in_root("history");
    EXPECT_EQ(next.code, 0);
    const auto repair = in_root("set UseDNS no");  // any change: it deals with the interrupted one first
    EXPECT_TRUE(repair.code == 0 || repair.code == 3) << repair.out;
    EXPECT_EQ(in_root("history").out.find("  prepared  "), std::string::npos) << "step " << k;
    EXPECT_EQ(in_root("history").out.find("  applied  "), std::string::npos) << "step " << k;
    if (now != before) {
      EXPECT_NE(repair.out.find("was interrupted: rolled back 1 file(s)"), std::string::npos) << repair.out;
    }
    const std::string wanted = "\nX11Forwarding " + value + "\n";
    EXPECT_EQ(config().find(wanted) == std::string::npos, before.find(wanted) == std::string::npos)
        << "step " << k << ": the interrupted change was undone";
    in_root("unset UseDNS");
  }
  EXPECT_GE(exercised, 4) << "lock, journal, file, applied, reloaded";
  std::cout << "kill points exercised: " << exercised << "\n";
}

TEST_F(Journal, AFileEditedAfterItWasReadIsRefusedNamingItAndNothingIsWritten) {
  const fs::path file = root_ / "etc/ssh/sshd_config";
  const auto before = config();
  // Between the plan and the commit, someone edits the file by hand.
  const std::string edit = "planned:echo '# edited meanwhile' >> " + quote(file.string());
  const auto r = run("SSHDCTL_TEST_RUN_AT=" + quote(edit) + " SSHDCTL_LENS_DIR=" + SSHDCTL_LENSES + " " +
                     SSHDCTL_BINARY + " --root " + quote(root_.string()) + " set X11Forwarding no");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("/etc/ssh/sshd_config: changed on the target since sshdctl read it"), std::string::npos)
      << r.out;
  EXPECT_EQ(config(), before + "# edited meanwhile\n") << "the hand edit stays, and nothing else was written";
  EXPECT_EQ(in_root("history").out.find("  set"), std::string::npos) << "no change set was recorded";
  EXPECT_FALSE(fs::exists(root_ / "var/lib/sshdctl/lock")) << "the lock is released";
  const auto again = in_root("set X11Forwarding no");
  EXPECT_EQ(again.code, 0) << "a new run plans against what is there now: " << again.out;
  EXPECT_NE(config().find("# edited meanwhile\n"), std::string::npos);
}

TEST_F(Journal, TheLockIsAFileItsLiveOwnerKeepsAndADeadOnesIsTakenOver) {
  const std::string boot = read("/proc/sys/kernel/random/boot_id");
  const fs::path lock = root_ / "var/lib/sshdctl/lock";
  fs::create_directories(lock.parent_path());
  write(lock, std::to_string(::getpid()) + " 5 " + boot);
  const std::string before = config();
  auto r = in_root("--lock-timeout 1 set X11Forwarding no");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("another sshdctl run (pid " + std::to_string(::getpid())), std::string::npos) << r.out;
  EXPECT_EQ(config(), before) << "nothing was changed";
  EXPECT_EQ(read(lock), std::to_string(::getpid()) + " 5 " + boot) << "left to its owner";

  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  write(lock, std::to_string(dead) + " 5 " + boot);
  r = in_root("--lock-timeout 1 set X11Forwarding no");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(lock)) << "taken over, then released";

  // An older sshdctl's lock, a directory with a pid file, is read too.
  fs::create_directories(lock);
  write(lock / "pid", std::to_string(::getpid()) + " 5\n");
  r = in_root("--lock-timeout 1 set X11Forwarding yes");
  EXPECT_EQ(r.code, 1) << r.out;
  write(lock / "pid", std::to_string(dead) + " 5\n");
  r = in_root("--lock-timeout 1 set X11Forwarding yes");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(fs::exists(lock));
}

TEST_F(Journal, AWindowIsRefusedWhereNoTimerCanKeepItAndNothingChanges) {
  const auto before = config();
  const auto r = in_root("--for 2h root-login enable");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("an offline root has no timers"), std::string::npos) << r.out;
  EXPECT_EQ(config(), before);
  EXPECT_EQ(in_root("--for 2h --confirm-within 1h set UseDNS no").code, 2);
  EXPECT_EQ(in_root("--for soon set UseDNS no").code, 2);
  EXPECT_EQ(in_root("confirm 20261125T014700123456Z-3fa9c1").code, 2) << "no such change set";
}

}  // namespace
}  // namespace sshdctl::testing

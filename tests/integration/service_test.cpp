// Error paths of the systemd service manager against a private D-Bus daemon (the main path
// runs against the real systemd of lab hosts: tests/e2e/service_reload.sh).
#include "sshdctl/service/service.h"

#include <gtest/gtest.h>

#include <csignal>

#include "sshdctl/common/error.h"
#include "sshdctl/host/fs_host.h"
#include "support.h"

namespace sshdctl::testing {
namespace {

TEST(SystemdManager, UnreachableBusIsAClearError) {
  host::FsHost here("/");
  try {
    (void)service::systemd_manager("unix:path=/nonexistent/bus", here);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("cannot talk to systemd over D-Bus at unix:path=/nonexistent/bus"),
              std::string::npos)
        << e.what();
  }
}

TEST(SystemdManager, ABusWithoutSystemdIsAClearError) {
  TempDir dir;
  const auto daemon = run("dbus-daemon --session --fork --print-address=1 --print-pid=1 --address=unix:path=" +
                          (dir.path / "bus").string());
  ASSERT_EQ(daemon.code, 0) << daemon.out;
  std::istringstream lines(daemon.out);
  std::string address, pid;
  std::getline(lines, address);
  std::getline(lines, pid);
  host::FsHost here("/");
  try {
    (void)service::systemd_manager(address, here);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("org.freedesktop.systemd1"), std::string::npos) << e.what();
  }
  ::kill(std::stoi(pid), SIGTERM);
}

TEST(OpenServiceManager, WithoutSystemdFallsBackToSighupAndSaysSo) {
  TempDir root;
  fs::create_directories(root.path / "run");
  host::FsHost offline(root.path.string());
  auto manager = service::open_service_manager(offline);
  try {
    (void)manager->reload(std::chrono::milliseconds(100));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "no running sshd in /run/sshd.pid and no /etc/init.d/ssh to start it (systemd is not running here)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW((void)manager->restart(std::chrono::milliseconds(100)), Error);
}

}  // namespace
}  // namespace sshdctl::testing

// Reloading and restarting sshd. The systemd implementation talks to org.freedesktop.systemd1
// over D-Bus (sdbus-c++, included only in src/service); it is given a bus address, so the same
// code can later run over a channel to a remote host. Without systemd, a documented fallback
// sends SIGHUP to the sshd listener named in its pid file, and says so.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sshdctl/host/host.h"

namespace sshdctl::service {

struct UnitStatus {
  std::string unit;             // ssh.service, sshd.service, or ssh.socket under socket activation
  std::string load_state;       // loaded, not-found, …
  std::string active_state;     // active, reloading, failed, …
  std::string sub_state;        // running, listening, …
  std::string unit_file_state;  // enabled, disabled, static, … (whether it starts at boot)
  std::uint32_t main_pid = 0;
  std::string kill_mode;  // a service's KillMode (process: a restart ends no session)
  bool socket_activated = false;
  std::string active_socket;  // ssh.socket (or sshd.socket) when active: it holds ports of its own
};

struct ActionResult {
  std::string action;      // reload | restart
  std::string method;      // "systemd (D-Bus)" or "SIGHUP to the pid in /run/sshd.pid"
  std::string job_result;  // done, failed, timeout, … (systemd)
  UnitStatus before;
  UnitStatus after;
  std::string note;  // e.g. socket activation: nothing to reload
};

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  virtual UnitStatus status() = 0;
  // Waits until the job is finished (JobRemoved) and the unit settled; throws Error naming the
  // unit, the job result and the unit's last journal lines when it failed.
  virtual ActionResult reload(std::chrono::milliseconds timeout) = 0;
  virtual ActionResult restart(std::chrono::milliseconds timeout) = 0;
  // Under socket activation the socket unit, not sshd, owns the listening sockets and hands
  // them to the service: points it at `streams` (ListenStream= values) with a drop-in, reloads
  // systemd, stops the service (open sessions stay: Debian's ssh.service has KillMode=process)
  // and restarts the socket. Nothing when no socket unit is active.
  virtual std::optional<ActionResult> relisten(const std::vector<std::string>& streams,
                                               std::chrono::milliseconds timeout) = 0;

  // Timers (maintenance windows): systemd only.
  [[nodiscard]] virtual bool can_schedule() const = 0;
  // Starts the transient NAME.timer that runs `argv` once, as NAME.service, `after` from now.
  virtual void schedule(const std::string& name, std::chrono::seconds after, const std::vector<std::string>& argv,
                        const std::string& description) = 0;
  // Stops NAME.timer; false when there was none.
  virtual bool cancel(const std::string& name) = 0;
  // The unit that runs sshd (what a reload reloads).
  [[nodiscard]] virtual std::string unit() const = 0;
};

// systemd over the bus at `address`; `host` runs journalctl for failure reports. `unit`
// names the unit to manage; empty: detect it (ssh.service, sshd.service, ssh.socket).
std::unique_ptr<ServiceManager> systemd_manager(const std::string& address, host::Host& host,
                                                const std::string& unit = {});
// The same over a bus endpoint the manager keeps alive (e.g. a relay over SSH).
std::unique_ptr<ServiceManager> systemd_manager(std::unique_ptr<host::BusEndpoint> bus, host::Host& host,
                                                const std::string& unit = {});
// SIGHUP to the pid in /run/sshd.pid, through `host`.
std::unique_ptr<ServiceManager> sighup_manager(host::Host& host, std::string why);
// The manager for a live host: systemd when the host offers its system bus and it answers,
// else the SIGHUP fallback (with the reason in its results).
std::unique_ptr<ServiceManager> open_service_manager(host::Host& host, const std::string& unit = {});

}  // namespace sshdctl::service

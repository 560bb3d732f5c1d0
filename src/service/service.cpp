#include "sshdctl/service/service.h"

#include <poll.h>
#include <sdbus-c++/sdbus-c++.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "sshdctl/common/error.h"
#include "sshdctl/common/text.h"

namespace sshdctl::service {

namespace {

constexpr const char* kDestination = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnit = "org.freedesktop.systemd1.Unit";
constexpr const char* kService = "org.freedesktop.systemd1.Service";
// Ubuntu's generator of ssh.socket's addresses (22.10 and later, all merged-/usr).
constexpr const char* kSocketGenerator = "/usr/lib/systemd/system-generators/sshd-socket-generator";

std::uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000U + static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
}

// For a unix:path= address: does something accept connections there? (sdbus-c++ 1.2 leaks
// its bus object when it cannot connect, so an unreachable bus is detected first.)
std::optional<std::string> unreachable(const std::string& address) {
  const std::string prefix = "unix:path=";
  if (address.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string path = address.substr(prefix.size(), address.find(',') - prefix.size());
  sockaddr_un sa{};
  if (path.size() >= sizeof sa.sun_path) return "socket path too long: " + path;
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return path + ": " + std::strerror(err);
  return std::nullopt;
}

// Turns a D-Bus error into one that says what it means for the operator.
[[noreturn]] void rethrow(const sdbus::Error& e, const std::string& what, const std::string& host) {
  const std::string& name = e.getName();
  if (name == "org.freedesktop.systemd1.NoSuchUnit" || name == "org.freedesktop.DBus.Error.UnknownObject")
    throw Error(ErrorKind::kNotFound, what + ": unit not found (" + e.getMessage() + ")", Location{host, {}, 0});
  if (name == "org.freedesktop.DBus.Error.AccessDenied" ||
      name == "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired")
    throw Error(ErrorKind::kPermission, what + ": permission denied by systemd (run as root or through sudo)",
                Location{host, {}, 0});
  throw Error(ErrorKind::kInternal, what + ": " + name + ": " + e.getMessage(), Location{host, {}, 0});
}

class SystemdManager : public ServiceManager {
 public:
  SystemdManager(std::unique_ptr<host::BusEndpoint> bus, host::Host& host, const std::string& unit)
      : bus_(std::move(bus)), host_(host) {
    const std::string address = bus_->address();
    if (auto why = unreachable(address))
      throw Error(ErrorKind::kUnsupported, "cannot talk to systemd over D-Bus at " + address + ": " + *why,
                  Location{host_.name(), {}, 0});
    try {
      connection_ = sdbus::createSessionBusConnectionWithAddress(address);
      manager_ = sdbus::createProxy(*connection_, kDestination, kManagerPath);
      manager_->uponSignal("JobRemoved")
          .onInterface(kManager)
          .call([this](std::uint32_t, const sdbus::ObjectPath& job, const std::string&, const std::string& result) {
            finished_[job] = result;
          });
      manager_->finishRegistration();
      // Subscribe's reply is not waited for: the bus keeps this connection's messages in order,
      // so systemd is subscribed before it sees any later call of ours.
      subscribed_ =
          manager_->callMethodAsync("Subscribe").onInterface(kManager).uponReplyInvoke([](const sdbus::Error*) {});
      unit_ = unit.empty() ? detect() : checked(unit);
    } catch (const sdbus::Error& e) {
      if (e.getName().find("NoSuchUnit") != std::string::npos || e.getName().find("AccessDenied") != std::string::npos)
        rethrow(e, "systemd", host_.name());
      throw Error(ErrorKind::kUnsupported, "cannot talk to systemd over D-Bus at " + address + ": " + e.getMessage(),
                  Location{host_.name(), {}, 0});
    }
  }

  UnitStatus status() override {
    try {
      return read_status(unit_);
    } catch (const sdbus::Error& e) {
      rethrow(e, unit_, host_.name());
    }
  }

  ActionResult reload(std::chrono::milliseconds timeout) override {
    // sshd that took its listening socket from ssh.socket (Accept=no: Debian 12 and 13) cannot
    // be reloaded: on SIGHUP it re-executes, has lost the socket, tries to bind the port the
    // socket holds and exits ("Cannot bind any address"), leaving the unit failed. It is
    // restarted instead, with its start limit flushed first (a burst of changes and rollbacks
    // would otherwise hit StartLimitBurst, and the socket would fail with it). Only where a
    // restart ends no session (KillMode=process, as every Debian and Ubuntu unit has).
    if (!active_socket_.empty() && unit_ == service_of(active_socket_)) {
      UnitStatus before;
      try {
        before = known_ && known_->unit == unit_ ? *known_ : read_status(unit_);
      } catch (const sdbus::Error& e) {
        rethrow(e, unit_, host_.name());
      }
      if (before.kill_mode == "process" && (before.active_state == "active" || before.active_state == "reloading")) {
        known_ = before;
        ActionResult r = restart(timeout);
        r.note = "sshd runs with " + active_socket_ +
                 "'s socket, and a SIGHUP would make it exit: restarted instead, now " + r.after.active_state + "/" +
                 r.after.sub_state + ", main pid " + std::to_string(r.after.main_pid) +
                 "; open sessions are kept (KillMode=process)";
        return r;
      }
    }
    return run_job(unit_, "reload", "ReloadUnit", timeout);
  }

  ActionResult restart(std::chrono::milliseconds timeout) override {
    reset_failed(unit_);
    return run_job(unit_, "restart", "RestartUnit", timeout);
  }

  std::optional<ActionResult> relisten(const std::vector<std::string>& streams,
                                       std::chrono::milliseconds timeout) override {
    if (active_socket_.empty()) return std::nullopt;
    const std::string path = "/etc/systemd/system/" + active_socket_ + ".d/50-sshdctl-listen.conf";
    // Ubuntu's sshd-socket-generator derives the socket's addresses from sshd_config at every
    // daemon-reload, in a drop-in (addresses.conf) that sorts after ours and resets
    // ListenStream=: where it runs, it moves the socket, and a drop-in of ours would only be
    // overridden (so an old one of ours is removed).
    const bool generator = host_.stat(kSocketGenerator).exists;
    if (generator) {
      if (host_.stat(path).exists) host_.remove_file(path);
    } else {
      std::string dropin =
          "# Written by sshdctl: the addresses that sshd_config's Port and ListenAddress name.\n"
          "[Socket]\nListenStream=\n";
      for (const auto& s : streams) dropin += "ListenStream=" + s + "\n";
      host_.write_file_atomic(path, dropin, host::FileInfo{false, true, false, 0644, 0, 0});
    }
    try {
      manager_->callMethod("Reload").onInterface(kManager);  // daemon-reload; replies when done
    } catch (const sdbus::Error& e) {
      rethrow(e, "daemon-reload", host_.name());
    }
    const std::string service = service_of(active_socket_);
    try {
      const auto state = read_status(service).active_state;
      if (state == "active" || state == "reloading") run_job(service, "stop", "StopUnit", timeout);
    } catch (const sdbus::Error& e) {
      rethrow(e, "stop of " + service, host_.name());
    }
    reset_failed(active_socket_);
    ActionResult r = run_job(active_socket_, "restart", "RestartUnit", timeout);
    const auto listening = socket_listen(active_socket_);
    const auto port_of = [](const std::string& stream) {
      const auto colon = stream.rfind(':');
      return colon == std::string::npos ? stream : stream.substr(colon + 1);
    };
    std::set<std::string> want, have;
    for (const auto& s : streams) want.insert(port_of(s));
    for (const auto& s : listening) have.insert(port_of(s));
    if (want != have)
      throw Error(ErrorKind::kInternal,
                  active_socket_ + " listens on " + text::join(listening, " ") + ", not on " +
                      text::join(streams, " ") + " as sshd_config's Port and ListenAddress say" +
                      (generator ? " (sshd-socket-generator wrote its addresses)" : " (" + path + ")"),
                  Location{host_.name(), {}, 0});
    r.note = active_socket_ + " now listens on " + text::join(listening, " ") + " (" +
             (generator ? std::string("written by sshd-socket-generator from sshd_config") : path) + "); " + service +
             " starts on the next connection";
    return r;
  }

  [[nodiscard]] bool can_schedule() const override { return true; }

  void schedule(const std::string& name, std::chrono::seconds after, const std::vector<std::string>& argv,
                const std::string& description) override {
    using Property = sdbus::Struct<std::string, sdbus::Variant>;
    using Exec = sdbus::Struct<std::string, std::vector<std::string>, bool>;
    const std::vector<Property> timer{
        sdbus::make_struct(std::string("Description"), sdbus::Variant(description)),
        sdbus::make_struct(std::string("OnActiveSec"),
                           sdbus::Variant(static_cast<std::uint64_t>(after.count()) * 1000000U)),
        sdbus::make_struct(std::string("AccuracyUSec"), sdbus::Variant(static_cast<std::uint64_t>(1000000U))),
        sdbus::make_struct(std::string("RemainAfterElapse"), sdbus::Variant(false))};
    const std::vector<Property> service{
        sdbus::make_struct(std::string("Description"), sdbus::Variant(description)),
        sdbus::make_struct(std::string("Type"), sdbus::Variant(std::string("oneshot"))),
        sdbus::make_struct(std::string("ExecStart"),
                           sdbus::Variant(std::vector<Exec>{sdbus::make_struct(argv.at(0), argv, false)}))};
    const std::vector<sdbus::Struct<std::string, std::vector<Property>>> aux{
        sdbus::make_struct(name + ".service", service)};
    try {
      sdbus::ObjectPath job;
      manager_->callMethod("StartTransientUnit")
          .onInterface(kManager)
          .withArguments(name + ".timer", std::string("fail"), timer, aux)
          .storeResultsTo(job);
    } catch (const sdbus::Error& e) {
      rethrow(e, "starting the timer " + name + ".timer", host_.name());
    }
  }

  bool cancel(const std::string& name) override {
    try {
      if (read_status(name + ".timer").load_state != "loaded") return false;
      run_job(name + ".timer", "stop", "StopUnit", std::chrono::seconds(30));
      return true;
    } catch (const sdbus::Error& e) {
      rethrow(e, "stopping the timer " + name + ".timer", host_.name());
    }
  }

  [[nodiscard]] std::string unit() const override { return unit_; }

 private:
  // A unit's object path, as systemd spells it (every byte but [A-Za-z0-9] as _XX): asking it
  // directly saves the LoadUnit round trip, and systemd loads the unit when it is asked.
  static std::string unit_path(const std::string& unit) {
    std::string path = "/org/freedesktop/systemd1/unit/";
    for (const char c : unit) {
      if (std::isalnum(static_cast<unsigned char>(c)) != 0 && !(path.back() == '/' && std::isdigit(c) != 0)) {
        path += c;
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "_%02x", static_cast<unsigned char>(c));
        path += hex;
      }
    }
    return path;
  }

  // ssh.socket's service: ssh.service.
  static std::string service_of(const std::string& socket) { return socket.substr(0, socket.rfind('.')) + ".service"; }

  // Flushes a unit's failed state and its start limiter (as `systemctl reset-failed` does):
  // sshdctl's own restarts are deliberate and each one is checked, so they must not use up
  // the StartLimitBurst that guards against a crash loop. Not waited for: the bus keeps this
  // connection's calls in order, so systemd has done it before the job that follows.
  void reset_failed(const std::string& unit) {
    reset_calls_.push_back(manager_->callMethodAsync("ResetFailedUnit")
                               .onInterface(kManager)
                               .withArguments(unit)
                               .uponReplyInvoke([](const sdbus::Error*) {}));
  }

  // One unit's answers: every property asked for, or the first error.
  struct Pending {
    std::size_t asked = 0, answered = 0;
    std::optional<sdbus::Error> error;
    std::map<std::string, sdbus::Variant> values;
    [[nodiscard]] bool done() const { return answered == asked; }
  };

  // The state of several units, asked all at once (one round trip over a relayed bus). Each
  // property is asked with its own Get (the calls go out in one write): GetAll would return
  // some 300 properties per service, each a message to parse and keep.
  std::vector<UnitStatus> read_statuses(const std::vector<std::string>& units) {
    std::vector<std::unique_ptr<sdbus::IProxy>> proxies;
    std::vector<std::pair<std::shared_ptr<Pending>, std::shared_ptr<Pending>>> answers;
    const auto ask = [&](sdbus::IProxy& proxy, const char* interface, std::initializer_list<const char*> names) {
      auto pending = std::make_shared<Pending>();
      for (const char* name : names) {
        ++pending->asked;
        proxy.callMethodAsync("Get")
            .onInterface("org.freedesktop.DBus.Properties")
            .withArguments(std::string(interface), std::string(name))
            .uponReplyInvoke([pending, key = std::string(name)](const sdbus::Error* e, sdbus::Variant value) {
              ++pending->answered;
              if (e != nullptr) {
                if (!pending->error) pending->error = *e;
                return;
              }
              pending->values.emplace(key, std::move(value));
            });
      }
      return pending;
    };
    for (const auto& unit : units) {
      proxies.push_back(sdbus::createProxy(*connection_, kDestination, unit_path(unit)));
      const bool service = unit.size() > 8 && unit.compare(unit.size() - 8, 8, ".service") == 0;
      answers.emplace_back(ask(*proxies.back(), kUnit, {"LoadState", "ActiveState", "SubState", "UnitFileState"}),
                           service ? ask(*proxies.back(), kService, {"MainPID", "KillMode"}) : nullptr);
    }
    const bool all = wait_until(
        [&] {
          return std::all_of(answers.begin(), answers.end(),
                             [](const auto& a) { return a.first->done() && (!a.second || a.second->done()); });
        },
        std::chrono::seconds(30));
    if (!all) throw sdbus::Error("org.freedesktop.DBus.Error.Timeout", "no answer from systemd within 30 s");
    std::vector<UnitStatus> out;
    for (std::size_t i = 0; i < units.size(); ++i) {
      const auto& unit_props = *answers[i].first;
      if (unit_props.error) throw *unit_props.error;
      const auto text = [&](const char* name) {
        const auto it = unit_props.values.find(name);
        return it == unit_props.values.end() ? std::string() : it->second.get<std::string>();
      };
      UnitStatus st;
      st.unit = units[i];
      st.load_state = text("LoadState");
      st.active_state = text("ActiveState");
      st.sub_state = text("SubState");
      st.unit_file_state = text("UnitFileState");
      st.socket_activated = text::lower(units[i]).find(".socket") != std::string::npos;
      if (answers[i].second && !answers[i].second->error && st.load_state == "loaded")
        if (const auto it = answers[i].second->values.find("MainPID"); it != answers[i].second->values.end())
          st.main_pid = it->second.get<std::uint32_t>();
      if (answers[i].second && !answers[i].second->error)
        if (const auto it = answers[i].second->values.find("KillMode"); it != answers[i].second->values.end())
          st.kill_mode = it->second.get<std::string>();
      st.active_socket = active_socket_;
      out.push_back(std::move(st));
    }
    return out;
  }

  UnitStatus read_status(const std::string& unit) { return read_statuses({unit}).front(); }

  // A socket unit's listening addresses (its Listen property: "0.0.0.0:22", "[::]:22", …).
  std::vector<std::string> socket_listen(const std::string& unit) {
    auto proxy = sdbus::createProxy(*connection_, kDestination, unit_path(unit));
    sdbus::Variant value;
    try {
      proxy->callMethod("Get")
          .onInterface("org.freedesktop.DBus.Properties")
          .withArguments(std::string("org.freedesktop.systemd1.Socket"), std::string("Listen"))
          .storeResultsTo(value);
    } catch (const sdbus::Error& e) {
      rethrow(e, "the addresses of " + unit, host_.name());
    }
    std::vector<std::string> out;
    for (const auto& item : value.get<std::vector<sdbus::Struct<std::string, std::string>>>())
      out.push_back(std::get<1>(item));
    return out;
  }

  std::string checked(const std::string& unit) {
    if (read_status(unit).load_state != "loaded")
      throw Error(ErrorKind::kNotFound, "unit " + unit + " not found", Location{host_.name(), {}, 0});
    return unit;
  }

  // The unit that runs sshd here: an active ssh.service or sshd.service; else an active
  // ssh.socket (socket activation); else, with none running, the first one that starts at boot
  // (where ssh.socket is enabled and ssh.service not, the socket is how sshd comes up), else
  // the first one that exists.
  std::string detect() {
    const std::vector<std::string> candidates{"ssh.socket", "sshd.socket", "ssh.service", "sshd.service"};
    const auto states = read_statuses(candidates);
    for (const auto& st : states)
      if (st.socket_activated && st.active_state == "active") active_socket_ = st.unit;
    std::optional<std::string> loaded, enabled;
    for (const char* unit : {"ssh.service", "sshd.service", "ssh.socket", "sshd.socket"}) {
      const auto& st = *std::find_if(states.begin(), states.end(), [&](const UnitStatus& x) { return x.unit == unit; });
      if (st.load_state != "loaded") continue;
      if (st.active_state == "active" || st.active_state == "reloading") {
        known_ = st;
        known_->active_socket = active_socket_;
        return unit;
      }
      if (!loaded) loaded = unit;
      if (!enabled && st.unit_file_state == "enabled") enabled = unit;
    }
    if (enabled) return *enabled;
    if (!loaded)
      throw Error(ErrorKind::kNotFound,
                  "no sshd unit: none of ssh.service, sshd.service, ssh.socket is known to systemd",
                  Location{host_.name(), {}, 0});
    return *loaded;
  }

  // Dispatches bus messages until `done` or the deadline.
  template <typename Done>
  bool wait_until(Done done, std::chrono::milliseconds timeout) {
    const std::uint64_t deadline = monotonic_usec() + static_cast<std::uint64_t>(timeout.count()) * 1000U;
    while (!done()) {
      while (connection_->processPendingRequest()) {
        if (done()) return true;
      }
      const std::uint64_t now = monotonic_usec();
      if (now >= deadline) return done();
      auto poll_data = connection_->getEventLoopPollData();
      pollfd fd{poll_data.fd, poll_data.events, 0};
      const std::uint64_t wait_usec = std::min<std::uint64_t>(deadline - now, 100000U);
      ::poll(&fd, 1, static_cast<int>(wait_usec / 1000U) + 1);
    }
    return true;
  }

  std::string journal_tail(const std::string& unit) {
    const auto r = host_.run({"/usr/bin/journalctl", "-u", unit, "-n", "8", "--no-pager", "-o", "short-monotonic"});
    return r.exit_code == 0 ? text::trim(r.out) : "(no journal: " + text::trim(r.err) + ")";
  }

  ActionResult run_job(const std::string& unit, const std::string& action, const char* method,
                       std::chrono::milliseconds timeout) {
    ActionResult result;
    result.action = action;
    result.method = "systemd (D-Bus)";
    try {
      // The state detect() just read is as good as a fresh one for the first job.
      if (known_ && known_->unit == unit)
        result.before = *std::exchange(known_, std::nullopt);
      else
        result.before = read_status(unit);
      if (result.before.socket_activated && action == "reload") {
        // Each connection starts a fresh sshd that reads the configuration: nothing to reload.
        result.note =
            unit + " is socket-activated and no sshd runs: the next connection starts one with the new configuration";
        result.after = result.before;
        result.job_result = "skipped";
        return result;
      }
      sdbus::ObjectPath job;
      manager_->callMethod(method)
          .onInterface(kManager)
          .withArguments(unit, std::string("replace"))
          .storeResultsTo(job);
      const bool ended = wait_until([&] { return finished_.count(job) != 0; }, timeout);
      result.job_result = ended ? finished_[job] : "timeout";
      result.after = read_status(unit);
    } catch (const sdbus::Error& e) {
      rethrow(e, action + " of " + unit, host_.name());
    }
    if (result.job_result != "done") {
      throw Error(ErrorKind::kInternal,
                  action + " of " + unit + " failed: job " + result.job_result + ", unit " + result.after.active_state +
                      "/" + result.after.sub_state,
                  Location{host_.name(), {}, 0})
          .with_detail(journal_tail(unit));
    }
    return result;
  }

  std::unique_ptr<host::BusEndpoint> bus_;  // outlives the connection (declared first)
  host::Host& host_;
  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<sdbus::IProxy> manager_;
  std::map<sdbus::ObjectPath, std::string> finished_;
  std::string unit_;
  std::string active_socket_;
  std::optional<UnitStatus> known_;
  sdbus::PendingAsyncCall subscribed_;
  std::vector<sdbus::PendingAsyncCall> reset_calls_;
};

class SighupManager : public ServiceManager {
 public:
  SighupManager(host::Host& host, std::string why) : host_(host), why_(std::move(why)) {}

  UnitStatus status() override {
    UnitStatus s;
    s.unit = "sshd (pid file)";
    const auto pid = read_pid();
    s.main_pid = pid.value_or(0);
    s.active_state = pid && host_.stat("/proc/" + std::to_string(*pid)).exists ? "active" : "inactive";
    return s;
  }

  ActionResult reload(std::chrono::milliseconds) override {
    ActionResult r;
    r.action = "reload";
    r.method = "SIGHUP to the pid in /run/sshd.pid (" + why_ + ")";
    r.before = status();
    if (r.before.active_state != "active") return start(r);
    const auto kill = host_.run({"/bin/kill", "-HUP", std::to_string(r.before.main_pid)});
    if (kill.exit_code != 0)
      throw Error(ErrorKind::kPermission, "cannot signal sshd: " + text::trim(kill.err), Location{host_.name(), {}, 0});
    r.job_result = "signalled";
    // sshd re-executes itself under the same pid; reading the pid file now could race that.
    r.after = r.before;
    return r;
  }

  std::optional<ActionResult> relisten(const std::vector<std::string>&, std::chrono::milliseconds) override {
    return std::nullopt;  // without systemd there is no socket unit
  }

  [[nodiscard]] bool can_schedule() const override { return false; }
  void schedule(const std::string&, std::chrono::seconds, const std::vector<std::string>&,
                const std::string&) override {
    throw Error(ErrorKind::kUnsupported, "maintenance windows need systemd timers (" + why_ + ")",
                Location{host_.name(), {}, 0});
  }
  bool cancel(const std::string&) override { return false; }
  [[nodiscard]] std::string unit() const override { return {}; }

  ActionResult restart(std::chrono::milliseconds) override {
    throw Error(ErrorKind::kUnsupported,
                "restart needs systemd; without it (" + why_ +
                    ") only a reload by SIGHUP is "
                    "possible",
                Location{host_.name(), {}, 0});
  }

 private:
  // No sshd runs (the files made it exit at its SIGHUP, or it was stopped): its init script
  // starts it with the files now in place, as the administrator would.
  ActionResult start(ActionResult r) {
    for (const char* script : {"/etc/init.d/ssh", "/etc/init.d/sshd"}) {
      if (!host_.stat(script).exists) continue;
      r.action = "start";
      r.method = std::string(script) + " start (no running sshd in /run/sshd.pid; " + why_ + ")";
      const auto run = host_.run({script, "start"});
      if (run.exit_code != 0)
        throw Error(ErrorKind::kInternal, std::string("cannot start sshd: ") + script + " start failed",
                    Location{host_.name(), script, 0})
            .with_detail(text::trim(run.out + run.err));
      r.job_result = "started";
      r.after = status();
      return r;
    }
    throw Error(
        ErrorKind::kNotFound,
        "cannot reload sshd: no running sshd in /run/sshd.pid and no /etc/init.d/ssh to start it (" + why_ + ")",
        Location{host_.name(), "/run/sshd.pid", 0});
  }

  std::optional<std::uint32_t> read_pid() {
    const auto text = host_.read_file("/run/sshd.pid");
    if (!text) return std::nullopt;
    const std::string t = text::trim(*text);
    if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return static_cast<std::uint32_t>(std::stoul(t));
  }

  host::Host& host_;
  std::string why_;
};

}  // namespace

std::unique_ptr<ServiceManager> systemd_manager(std::unique_ptr<host::BusEndpoint> bus, host::Host& host,
                                                const std::string& unit) {
  return std::make_unique<SystemdManager>(std::move(bus), host, unit);
}

std::unique_ptr<ServiceManager> systemd_manager(const std::string& address, host::Host& host, const std::string& unit) {
  class FixedAddress : public host::BusEndpoint {
   public:
    explicit FixedAddress(std::string address) : address_(std::move(address)) {}
    [[nodiscard]] std::string address() const override { return address_; }

   private:
    std::string address_;
  };
  return systemd_manager(std::make_unique<FixedAddress>(address), host, unit);
}

std::unique_ptr<ServiceManager> sighup_manager(host::Host& host, std::string why) {
  return std::make_unique<SighupManager>(host, std::move(why));
}

std::unique_ptr<ServiceManager> open_service_manager(host::Host& host, const std::string& unit) {
  auto bus = host.system_bus();
  if (!bus) return sighup_manager(host, "systemd is not running here");
  try {
    return systemd_manager(std::move(bus), host, unit);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUnsupported) throw;
    return sighup_manager(host, e.message());
  }
}

}  // namespace sshdctl::service

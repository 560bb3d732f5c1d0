#include "test_seam.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace sshdctl::cli {

namespace {

class EnvFaultHook : public txn::FaultHook {
 public:
  EnvFaultHook(int kill_at, std::string kill_step, std::string signal_step, int signal, std::string run_step,
               std::string run_command)
      : kill_at_(kill_at),
        kill_step_(std::move(kill_step)),
        signal_step_(std::move(signal_step)),
        signal_(signal),
        run_step_(std::move(run_step)),
        run_command_(std::move(run_command)) {}

  void at(const std::string& step) override {
    const std::lock_guard<std::mutex> hold(mutex_);
    if (!run_step_.empty() && step == run_step_) {
      std::fprintf(stderr, "sshdctl: test hook: running a command at %s\n", step.c_str());
      if (std::system(run_command_.c_str()) != 0) std::fprintf(stderr, "sshdctl: test hook: the command failed\n");
    }
    if (!signal_step_.empty() && step == signal_step_) {
      std::fprintf(stderr, "sshdctl: test hook: signal %d at %s\n", signal_, step.c_str());
      std::fflush(stderr);
      std::raise(signal_);
    }
    ++reached_;
    if ((kill_at_ > 0 && reached_ == kill_at_) || step == kill_step_) {
      std::fprintf(stderr, "sshdctl: test hook: killed at step %d (%s)\n", reached_, step.c_str());
      std::fflush(stderr);
      std::raise(SIGKILL);
    }
  }

 private:
  std::mutex mutex_;
  int kill_at_;
  std::string kill_step_;
  std::string signal_step_;
  int signal_;
  int reached_ = 0;
  std::string run_step_, run_command_;
};

}  // namespace

std::unique_ptr<txn::FaultHook> test_fault_hook() {
  const char* kill_at = std::getenv("SSHDCTL_TEST_KILL_AT");
  const char* signal_at = std::getenv("SSHDCTL_TEST_SIGNAL_AT");
  const char* run_at = std::getenv("SSHDCTL_TEST_RUN_AT");
  if (kill_at == nullptr && run_at == nullptr && signal_at == nullptr) return nullptr;
  const auto split = [](const char* spec, std::string& step, std::string& rest) {
    if (spec == nullptr) return;
    const std::string s = spec;
    const auto colon = s.find(':');
    step = s.substr(0, colon);
    if (colon != std::string::npos) rest = s.substr(colon + 1);
  };
  std::string step, command, signal_step, signal_name;
  split(run_at, step, command);
  split(signal_at, signal_step, signal_name);
  const std::string kill = kill_at != nullptr ? kill_at : "";
  const bool numeric = !kill.empty() && kill.find_first_not_of("0123456789") == std::string::npos;
  return std::make_unique<EnvFaultHook>(numeric ? std::atoi(kill.c_str()) : 0, numeric ? std::string() : kill,
                                        signal_step, signal_name == "TERM" ? SIGTERM : SIGINT, step, command);
}

}  // namespace sshdctl::cli

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
  EnvFaultHook(int kill_at, std::string run_step, std::string run_command)
      : kill_at_(kill_at), run_step_(std::move(run_step)), run_command_(std::move(run_command)) {}

  void at(const std::string& step) override {
    const std::lock_guard<std::mutex> hold(mutex_);
    if (!run_step_.empty() && step == run_step_) {
      std::fprintf(stderr, "sshdctl: test hook: running a command at %s\n", step.c_str());
      if (std::system(run_command_.c_str()) != 0) std::fprintf(stderr, "sshdctl: test hook: the command failed\n");
    }
    if (kill_at_ > 0 && ++reached_ == kill_at_) {
      std::fprintf(stderr, "sshdctl: test hook: killed at step %d (%s)\n", reached_, step.c_str());
      std::fflush(stderr);
      std::raise(SIGKILL);
    }
  }

 private:
  std::mutex mutex_;
  int kill_at_;
  int reached_ = 0;
  std::string run_step_, run_command_;
};

}  // namespace

std::unique_ptr<txn::FaultHook> test_fault_hook() {
  const char* kill_at = std::getenv("SSHDCTL_TEST_KILL_AT");
  const char* run_at = std::getenv("SSHDCTL_TEST_RUN_AT");
  if (kill_at == nullptr && run_at == nullptr) return nullptr;
  std::string step, command;
  if (run_at != nullptr) {
    const std::string spec = run_at;
    const auto colon = spec.find(':');
    step = spec.substr(0, colon);
    if (colon != std::string::npos) command = spec.substr(colon + 1);
  }
  return std::make_unique<EnvFaultHook>(kill_at != nullptr ? std::atoi(kill_at) : 0, step, command);
}

}  // namespace sshdctl::cli

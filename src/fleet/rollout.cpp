#include "sshdctl/fleet/rollout.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "sshdctl/common/error.h"

namespace sshdctl::fleet {

long Amount::of(long total) const {
  if (!percent) return value;
  const long n = (value * total + 99) / 100;
  return value > 0 && n == 0 ? 1 : n;
}

Amount Amount::parse(const std::string& text, const std::string& option) {
  Amount a;
  std::string digits = text;
  if (!digits.empty() && digits.back() == '%') {
    a.percent = true;
    digits.pop_back();
  }
  const bool numeric =
      !digits.empty() && digits.size() < 10 && digits.find_first_not_of("0123456789") == std::string::npos;
  if (!numeric || (a.percent && std::stol(digits) > 100))
    throw Error(ErrorKind::kBadInput, option + " takes a number of hosts or a percentage (5, 10%), not '" + text + "'");
  a.value = std::stol(digits);
  return a;
}

const char* status_name(HostStatus status) {
  switch (status) {
    case HostStatus::kChanged:
      return "changed";
    case HostStatus::kUnchanged:
      return "unchanged";
    case HostStatus::kOk:
      return "ok";
    case HostStatus::kFailed:
      return "failed";
    case HostStatus::kSkipped:
      return "skipped";
  }
  return "?";
}

int exit_code_of(const RolloutSummary& summary) {
  if (summary.aborted) return fleet_exit::kAborted;
  if (summary.failed > 0) return fleet_exit::kSomeFailed;
  if (summary.changed == 0 && summary.ok == 0 && summary.unchanged > 0) return fleet_exit::kAllUnchanged;
  return fleet_exit::kAllOk;
}

namespace {

class Scheduler {
 public:
  Scheduler(const std::vector<std::string>& hosts, const RolloutOptions& options,
            const std::function<HostResult(std::size_t)>& job, Progress* progress)
      : hosts_(hosts), options_(options), job_(job), progress_(progress) {
    summary_.results.resize(hosts.size());
    for (std::size_t i = 0; i < hosts.size(); ++i) summary_.results[i].host = hosts[i];
    if (options.max_failures) budget_ = options.max_failures->of(static_cast<long>(hosts.size()));
  }

  RolloutSummary run() {
    const auto start = std::chrono::steady_clock::now();
    const std::size_t total = hosts_.size();
    const auto canaries = static_cast<std::size_t>(std::min<long>(options_.canary, static_cast<long>(total)));
    std::size_t next = 0;
    if (canaries > 0) {
      phase(0, canaries, true);
      next = canaries;
      if (summary_.failed > 0 && !stop_) {
        stop_ = true;
        summary_.abort_reason = "a canary failed: no other host was started";
      }
    }
    const long batch = options_.batch ? std::max(1L, options_.batch->of(static_cast<long>(total))) : 0;
    while (next < total && !stop_) {
      const std::size_t end = batch > 0 ? std::min(total, next + static_cast<std::size_t>(batch)) : total;
      phase(next, end, false);
      next = end;
    }
    for (auto& r : summary_.results)
      if (r.status == HostStatus::kSkipped) {
        ++summary_.skipped;
        if (r.summary.empty()) r.summary = "not started: " + summary_.abort_reason;
      }
    summary_.aborted = summary_.skipped > 0;
    summary_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::move(summary_);
  }

 private:
  // Hosts [begin, end) with at most `forks` in flight; ends when all started ones finished.
  void phase(std::size_t begin, std::size_t end, bool canary) {
    std::atomic<std::size_t> cursor{begin};
    auto worker = [&] {
      for (;;) {
        {
          std::lock_guard lock(mutex_);
          if (stop_) return;
        }
        const std::size_t i = cursor.fetch_add(1);
        if (i >= end) return;
        if (progress_ != nullptr) progress_->started(hosts_[i]);
        HostResult result;
        try {
          result = job_(i);
        } catch (const std::exception& e) {
          result.status = HostStatus::kFailed;
          result.exit_code = exit_code::kFailed;
          result.error = result.summary = std::string("internal error: ") + e.what();
        }
        result.host = hosts_[i];
        result.canary = canary;
        record(i, std::move(result));
      }
    };
    const auto width = static_cast<std::size_t>(std::max(1, options_.forks));
    const std::size_t threads = std::min(width, end - begin);
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }

  void record(std::size_t i, HostResult result) {
    std::lock_guard lock(mutex_);
    switch (result.status) {
      case HostStatus::kChanged:
        ++summary_.changed;
        break;
      case HostStatus::kUnchanged:
        ++summary_.unchanged;
        break;
      case HostStatus::kOk:
        ++summary_.ok;
        break;
      case HostStatus::kFailed:
      case HostStatus::kSkipped:
        result.status = HostStatus::kFailed;
        ++summary_.failed;
        break;
    }
    summary_.results[i] = std::move(result);
    if (budget_ && summary_.failed > *budget_ && !stop_) {
      stop_ = true;
      summary_.abort_reason = "the failure budget (--max-failures " + std::to_string(*budget_) + ") was exceeded";
    }
    if (progress_ != nullptr) progress_->finished(summary_.results[i], summary_, hosts_.size());
  }

  const std::vector<std::string>& hosts_;
  const RolloutOptions& options_;
  const std::function<HostResult(std::size_t)>& job_;
  Progress* progress_;
  std::mutex mutex_;
  RolloutSummary summary_;
  std::optional<long> budget_;
  bool stop_ = false;
};

}  // namespace

RolloutSummary run_rollout(const std::vector<std::string>& hosts, const RolloutOptions& options,
                           const std::function<HostResult(std::size_t)>& job, Progress* progress) {
  Scheduler scheduler(hosts, options, job, progress);
  return scheduler.run();
}

}  // namespace sshdctl::fleet

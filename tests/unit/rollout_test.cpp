#include "sshdctl/fleet/rollout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "sshdctl/common/error.h"

namespace sshdctl::fleet {
namespace {

std::vector<std::string> names(int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) out.push_back("h" + std::to_string(i));
  return out;
}

// A job that fails for the hosts in `bad`, records the order hosts start in, and the most
// hosts ever in flight at once.
struct Recorder {
  std::set<std::string> bad;
  std::mutex mutex;
  std::vector<std::string> started;
  std::atomic<int> in_flight{0};
  std::atomic<int> peak{0};
  std::vector<std::string> hosts;

  std::function<HostResult(std::size_t)> job() {
    return [this](std::size_t i) {
      {
        std::lock_guard lock(mutex);
        started.push_back(hosts[i]);
      }
      const int now = ++in_flight;
      int seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --in_flight;
      HostResult r;
      r.status = bad.count(hosts[i]) != 0 ? HostStatus::kFailed : HostStatus::kChanged;
      return r;
    };
  }
};

TEST(Amount, ParsesCountsAndPercentages) {
  EXPECT_EQ(Amount::parse("5", "--batch").of(100), 5);
  EXPECT_EQ(Amount::parse("25%", "--batch").of(10), 3);  // rounded up
  EXPECT_EQ(Amount::parse("1%", "--batch").of(10), 1);
  EXPECT_EQ(Amount::parse("0", "--max-failures").of(10), 0);
  EXPECT_THROW(Amount::parse("x", "--batch"), Error);
  EXPECT_THROW(Amount::parse("150%", "--batch"), Error);
  EXPECT_THROW(Amount::parse("-1", "--batch"), Error);
}

TEST(Rollout, EveryHostRunsWithAtMostForksInFlight) {
  Recorder rec;
  rec.hosts = names(40);
  RolloutOptions opt;
  opt.forks = 7;
  const auto s = run_rollout(rec.hosts, opt, rec.job(), nullptr);
  EXPECT_EQ(s.changed, 40);
  EXPECT_EQ(rec.started.size(), 40U);
  EXPECT_LE(rec.peak.load(), 7);
  EXPECT_GE(rec.peak.load(), 2);  // really concurrent
  EXPECT_FALSE(s.aborted);
  EXPECT_EQ(exit_code_of(s), fleet_exit::kAllOk);
  for (std::size_t i = 0; i < s.results.size(); ++i) EXPECT_EQ(s.results[i].host, rec.hosts[i]);
}

TEST(Rollout, AFailedCanaryStopsEverythingElse) {
  Recorder rec;
  rec.hosts = names(10);
  rec.bad = {"h2"};
  RolloutOptions opt;
  opt.canary = 2;
  const auto s = run_rollout(rec.hosts, opt, rec.job(), nullptr);
  EXPECT_EQ(rec.started.size(), 2U);
  EXPECT_TRUE(s.results[0].canary);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.skipped, 8);
  EXPECT_TRUE(s.aborted);
  EXPECT_EQ(s.abort_reason, "a canary failed: no other host was started");
  EXPECT_EQ(s.results[5].status, HostStatus::kSkipped);
  EXPECT_EQ(exit_code_of(s), fleet_exit::kAborted);
}

TEST(Rollout, CanariesFirstThenBatchesInOrder) {
  Recorder rec;
  rec.hosts = names(10);
  RolloutOptions opt;
  opt.canary = 1;
  opt.batch = Amount::parse("3", "--batch");
  opt.forks = 50;
  const auto s = run_rollout(rec.hosts, opt, rec.job(), nullptr);
  ASSERT_EQ(rec.started.size(), 10U);
  EXPECT_EQ(rec.started[0], "h1");
  // Batch k starts only after batch k-1 finished: its hosts are the next 3 in inventory order.
  const std::vector<std::set<std::string>> batches = {{"h2", "h3", "h4"}, {"h5", "h6", "h7"}, {"h8", "h9", "h10"}};
  for (std::size_t b = 0; b < batches.size(); ++b) {
    const std::set<std::string> got(rec.started.begin() + 1 + 3 * static_cast<long>(b),
                                    rec.started.begin() + 4 + 3 * static_cast<long>(b));
    EXPECT_EQ(got, batches[b]) << "batch " << b;
  }
  EXPECT_LE(rec.peak.load(), 3);
  EXPECT_EQ(s.changed, 10);
}

TEST(Rollout, TheFailureBudgetStopsNewHosts) {
  Recorder rec;
  rec.hosts = names(10);
  rec.bad = {"h2", "h3", "h4"};
  RolloutOptions opt;
  opt.batch = Amount::parse("2", "--batch");
  opt.max_failures = Amount::parse("2", "--max-failures");
  const auto s = run_rollout(rec.hosts, opt, rec.job(), nullptr);
  // Batch 1 (h1 h2): 1 failure; batch 2 (h3 h4): 3 failures > 2, so nothing after it starts.
  EXPECT_EQ(rec.started.size(), 4U);
  EXPECT_EQ(s.failed, 3);
  EXPECT_EQ(s.changed, 1);
  EXPECT_EQ(s.skipped, 6);
  EXPECT_TRUE(s.aborted);
  EXPECT_NE(s.results[9].summary.find("failure budget"), std::string::npos) << s.results[9].summary;
}

TEST(Rollout, WithinTheBudgetEveryHostIsTried) {
  Recorder rec;
  rec.hosts = names(10);
  rec.bad = {"h2", "h3", "h4"};
  RolloutOptions opt;
  opt.max_failures = Amount::parse("30%", "--max-failures");
  const auto s = run_rollout(rec.hosts, opt, rec.job(), nullptr);
  EXPECT_EQ(rec.started.size(), 10U);
  EXPECT_EQ(s.failed, 3);
  EXPECT_FALSE(s.aborted);
  EXPECT_EQ(exit_code_of(s), fleet_exit::kSomeFailed);
}

TEST(Rollout, AThrowingJobIsThatHostsFailure) {
  const auto hosts = names(3);
  const auto s = run_rollout(
      hosts, RolloutOptions{},
      [](std::size_t i) -> HostResult {
        if (i == 1) throw std::runtime_error("boom");
        HostResult r;
        r.status = HostStatus::kUnchanged;
        return r;
      },
      nullptr);
  EXPECT_EQ(s.results[1].status, HostStatus::kFailed);
  EXPECT_EQ(s.results[1].summary, "internal error: boom");
  EXPECT_EQ(s.unchanged, 2);
  EXPECT_EQ(exit_code_of(s), fleet_exit::kSomeFailed);
}

TEST(Rollout, AllUnchangedHasItsOwnExitCode) {
  const auto s = run_rollout(
      names(4), RolloutOptions{},
      [](std::size_t) {
        HostResult r;
        r.status = HostStatus::kUnchanged;
        return r;
      },
      nullptr);
  EXPECT_EQ(exit_code_of(s), fleet_exit::kAllUnchanged);
}

}  // namespace
}  // namespace sshdctl::fleet

// The CPU engine's threads (host/cpu/worker_pool.hpp): every item of every loop runs once, loops
// follow each other without mixing, and the team shrinks when threads are being taken off their
// cores. Also run under ThreadSanitizer and AddressSanitizer (scripts/test.sh).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "cpu/worker_pool.hpp"

namespace vaead::cpu {
namespace {

TEST(WorkerPool, EveryItemOfEveryLoopRunsOnce) {
  for (int threads : {1, 2, 3, 5}) {
    WorkerPool pool(threads, 1.0);  // every loop of more than one item is parallel
    for (std::size_t count : {0u, 1u, 2u, 3u, 7u, 64u, 1000u, 100003u}) {
      std::vector<std::atomic<int>> hits(count);
      for (int repeat = 0; repeat < 3; ++repeat)
        pool.run(count, 1e9, [&](std::size_t begin, std::size_t end) {
          ASSERT_LE(begin, end);
          ASSERT_LE(end, count);
          for (std::size_t i = begin; i < end; ++i)
            hits[i].fetch_add(1, std::memory_order_relaxed);
        });
      for (std::size_t i = 0; i < count; ++i)
        ASSERT_EQ(hits[i].load(), 3)
            << "threads " << threads << ", count " << count << ", item " << i;
    }
  }
}

// Many short loops back to back (as in a training step): a worker that is late for one loop must
// never run a chunk of the next with the old one's body, nor count it as done.
TEST(WorkerPool, ShortLoopsBackToBackDoNotMix) {
  WorkerPool pool(4, 1.0);
  std::vector<int> out(16);
  for (int loop = 0; loop < 20000; ++loop) {
    pool.run(out.size(), 1e9, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i)
        out[i] = loop;
    });
    for (std::size_t i = 0; i < out.size(); ++i)
      ASSERT_EQ(out[i], loop) << "item " << i;
  }
}

TEST(WorkerPool, ALoopWorthItRunsOnSeveralThreadsAndASmallOneOnTheCaller) {
  WorkerPool pool(3);
  std::mutex mutex;
  std::set<std::thread::id> seen;
  const auto record = [&](std::size_t, std::size_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the workers have time to join
    const std::lock_guard lock(mutex);
    seen.insert(std::this_thread::get_id());
  };
  pool.run(24, 1e9, record);
  EXPECT_GE(seen.size(), 2u);
  seen.clear();
  pool.run(24, TeamPolicy::kWorkPerThread, record);  // not worth a second thread
  EXPECT_EQ(seen, std::set<std::thread::id>{std::this_thread::get_id()});
}

TEST(TeamPolicy, TheTeamFollowsTheWorkTheItemsAndTheThreads) {
  TeamPolicy policy(8, 100.0);
  EXPECT_EQ(policy.team(1000, 150.0), 1);  // 1.5 threads' worth of work
  EXPECT_EQ(policy.team(1000, 350.0), 3);
  EXPECT_EQ(policy.team(2, 1e9), 2);  // no more threads than items
  EXPECT_EQ(policy.team(1000, 1e9), 8);
  EXPECT_EQ(policy.team(0, 1e9), 1);
}

// Loops whose caller waits most of their time for chunks held by other threads (threads taken off
// their cores) halve the team, down to the caller alone; a larger team is tried again after
// kFirstRetry loops, then after twice as many each time the try stalls too; a try that goes well
// is kept.
TEST(TeamPolicy, StallsShrinkTheTeamAndLargerTeamsAreRetriedLessOften) {
  TeamPolicy policy(4, 1.0);
  const auto window = [&](double waiting_share) {
    for (int i = 0; i < TeamPolicy::kWindow; ++i) {
      policy.team(100, 1e9);
      policy.record(1e-3, waiting_share * 1e-3);
    }
  };
  window(0.1);
  EXPECT_EQ(policy.limit(), 4);  // a healthy window changes nothing
  window(0.9);
  EXPECT_EQ(policy.limit(), 2);
  window(0.9);
  EXPECT_EQ(policy.limit(), 1);
  // On the caller alone there is nothing to record; loops that want more count towards a retry.
  for (std::uint64_t i = 1; i < TeamPolicy::kFirstRetry; ++i)
    ASSERT_EQ(policy.team(100, 1e9), 1);
  EXPECT_EQ(policy.team(100, 1e9), 2);  // the retry
  for (int i = 0; i < TeamPolicy::kWindow; ++i)
    policy.record(1e-3, 0.8e-3);  // it stalls: back to 1, the next retry twice as late
  EXPECT_EQ(policy.limit(), 1);
  for (std::uint64_t i = 1; i < 2 * TeamPolicy::kFirstRetry; ++i)
    ASSERT_EQ(policy.team(100, 1e9), 1) << i;
  EXPECT_EQ(policy.team(100, 1e9), 2);
  for (int i = 0; i < TeamPolicy::kWindow; ++i)
    policy.record(1e-3, 0.05e-3);  // it goes well: kept
  for (std::uint64_t i = 1; i < TeamPolicy::kFirstRetry; ++i)
    ASSERT_EQ(policy.team(100, 1e9), 2);
  EXPECT_EQ(policy.team(100, 1e9), 4);  // and the next size is tried after kFirstRetry loops
}

// Loops of a few microseconds (a batch of 256) in which the caller waits most of the time for the
// other threads' last chunks, but a microsecond at a time: no thread was taken off its core, and
// the team stays; the same share in waits of a millisecond shrinks it.
TEST(TeamPolicy, ShortWaitsInShortLoopsAreNoStall) {
  TeamPolicy policy(2, 1.0);
  for (int window = 0; window < 10; ++window)
    for (int i = 0; i < TeamPolicy::kWindow; ++i) {
      ASSERT_EQ(policy.team(100, 1e9), 2);
      policy.record(2e-6, 1.5e-6);
    }
  for (int i = 0; i < TeamPolicy::kWindow; ++i) {
    policy.team(100, 1e9);
    policy.record(2e-3, 1.5e-3);
  }
  EXPECT_EQ(policy.limit(), 1);
}

}  // namespace
}  // namespace vaead::cpu

// The CPU engine's threads: a loop's items are split into chunks that the calling thread and the
// pool's workers claim one at a time, and the loop is done when every chunk is, not when every
// thread has arrived at a barrier. A thread that the OS has taken off its core (another process
// is busy there) therefore delays the loop only by the chunk it holds, never by work it was
// assigned in advance; and a worker that wakes too late finds nothing left and sleeps again.
//
// Two further rules keep a busy machine from collapsing the pool:
// - a loop uses no more threads than its work repays (a tiny batch runs on the caller alone);
// - TeamPolicy watches how long the caller waits for chunks still held by other threads once none
//   is left to claim; when that wait is most of the loop's time and longer than any chunk of a
//   short loop takes (tens of microseconds), threads are being taken off their cores, and the team
//   shrinks (to the caller alone if need be), trying a larger one again now and then (less often
//   each time that fails).
// Workers spin for 100 microseconds of time after a loop (the next one usually follows at once;
// time, not a count of pause instructions, whose cost differs fourteenfold between CPUs), then
// sleep on a futex (std::atomic::wait): an idle or shrunk pool takes no CPU.
//
// The bits of a result never depend on the team: every loop body writes each output from one item
// (see dense_ops.hpp).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace vaead::cpu {

// The cores this process may run on (its affinity mask: taskset and cgroup cpusets count).
int available_cores();

// How many threads a loop gets: by its work, and by how loops have been going (see above). Pure
// bookkeeping, no clock or thread of its own, so that tests can drive it.
class TeamPolicy {
 public:
  // Work (multiply-adds or the like) below which one more thread does not pay for itself: well
  // under a microsecond of it, about what handing a chunk to a spinning worker costs. Measured on
  // 2 cores (bench/load_side_by_side.sh): 1 << 18 left a third of a training step on one thread.
  static constexpr double kWorkPerThread = 1 << 14;
  static constexpr int kWindow = 32;       // parallel loops per verdict
  static constexpr double kStalled = 0.5;  // the caller waited this share of the loops' time
  // ... and this long per loop on average (seconds): a thread taken off its core holds its chunk
  // for a scheduler's time slice (milliseconds), while in a loop of a few microseconds (batch
  // 256) waiting a microsecond for the other thread's last chunk, or for a worker that has just
  // seen the loop, is half the loop and no sign of trouble. Without this bound the team shrank
  // on an idle machine and a run went at one thread's speed, or below, for thousands of loops.
  static constexpr double kStalledWait = 50e-6;
  static constexpr std::uint64_t kFirstRetry = 256;  // loops run smaller before a larger retry
  static constexpr std::uint64_t kLastRetry = 1 << 16;

  explicit TeamPolicy(int threads, double work_per_thread = kWorkPerThread)
      : threads_(threads), limit_(threads), work_per_thread_(work_per_thread) {}

  // The team for a loop of `count` items costing `work` in all (1: the caller alone).
  int team(std::size_t count, double work);
  // A parallel loop took `seconds`, of which the caller spent `waiting` with nothing to claim.
  void record(double seconds, double waiting);
  int limit() const { return limit_; }

 private:
  int threads_;
  int limit_;
  double work_per_thread_;
  // The window of parallel loops being measured.
  int loops_ = 0;
  double seconds_ = 0.0, waiting_ = 0.0;
  // While shrunk: loops since, and the loops to wait before the next larger try.
  std::uint64_t since_shrink_ = 0, retry_after_ = kFirstRetry;
  bool trying_ = false;  // the current window is a larger try
};

class WorkerPool {
 public:
  // `threads` in all, the caller included; its threads - 1 workers start on the first loop that
  // uses them. (Tests lower `work_per_thread` to make small loops parallel.)
  explicit WorkerPool(int threads, double work_per_thread = TeamPolicy::kWorkPerThread);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const { return threads_; }
  const TeamPolicy& policy() const { return policy_; }

  // Calls body(begin, end) for chunks covering [0, count), each chunk once; `work` is the cost
  // of the whole loop (see TeamPolicy). Returns when every chunk is done. Not reentrant: one
  // loop at a time, and a body may not start another.
  template <class Body>
  void run(std::size_t count, double work, const Body& body) {
    run_chunks(count, work, &body, [](const void* f, std::size_t begin, std::size_t end) {
      (*static_cast<const Body*>(f))(begin, end);
    });
  }

 private:
  using Call = void (*)(const void*, std::size_t, std::size_t);
  struct alignas(64) Worker {
    std::atomic<std::uint32_t> ticket{0};  // the loop to join (its generation)
    std::thread thread;
  };

  void run_chunks(std::size_t count, double work, const void* body, Call call);
  // Starts the threads on the first loop that wants them; InputError, with none left running,
  // when the system refuses one.
  void start_workers();
  void stop_workers();
  void worker_main(Worker& self);
  // Claims and runs chunks of loop `generation` until none is left.
  void work_on(std::uint32_t generation);

  int threads_;
  TeamPolicy policy_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  std::uint32_t generation_ = 0;
  // The loop being run: generation (32 bits), chunks (16) and the next chunk to claim (16).
  alignas(64) std::atomic<std::uint64_t> claim_{0};
  alignas(64) std::atomic<std::uint32_t> done_{0};  // chunks finished
  // Written before the loop is published in claim_, read after a chunk of it is claimed.
  const void* body_ = nullptr;
  Call call_ = nullptr;
  std::size_t count_ = 0, chunk_ = 0;
};

}  // namespace vaead::cpu

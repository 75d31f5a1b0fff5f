#include "cpu/worker_pool.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <system_error>

#include "vaead/util/error.hpp"

#include <sched.h>

namespace vaead::cpu {
namespace {

// A spinning thread's pause between two looks at an atomic.
inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

using Clock = std::chrono::steady_clock;

// How long a worker or the caller keeps looking at an atomic before sleeping on it: longer than
// the gap between two loops of one training step (a few microseconds), so that a training run
// keeps its workers awake and a worker's futex wake-up (tens of microseconds) is paid once, not
// per loop. Measured in time, not in pause instructions: a pause takes about 10 cycles on older
// Intel cores, 65 on AMD's Zen 2 to 4 and 140 on Intel's Skylake-SP and later (Xeons), so a count
// of them would spin 14 times longer on one CPU than on another.
constexpr auto kSpinTime = std::chrono::microseconds(100);

// Spins until ready() or kSpinTime has passed; returns ready(). The clock is read once every 16
// pauses (a vDSO read, some 20 ns, against at least 16 x 10 cycles of pausing).
template <class Ready>
bool spin_until(const Ready& ready) {
  const Clock::time_point deadline = Clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < 16; ++i) {
      if (ready()) return true;
      spin_pause();
    }
    if (Clock::now() >= deadline) return ready();
  }
}

constexpr std::uint64_t kChunkBits = 16;
constexpr std::uint64_t kMaxChunks = (std::uint64_t{1} << kChunkBits) - 1;

double seconds_between(std::chrono::steady_clock::time_point a,
                       std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

int TeamPolicy::team(std::size_t count, double work) {
  const double by_work = work / work_per_thread_;
  const int wanted = static_cast<int>(std::min<double>(
      {static_cast<double>(threads_), static_cast<double>(count), std::max(1.0, by_work)}));
  if (wanted <= 1) return 1;
  if (wanted > limit_ && !trying_ && ++since_shrink_ >= retry_after_) {
    trying_ = true;  // a larger team again, for one window
    limit_ = std::min(threads_, limit_ * 2);
    since_shrink_ = 0;
    loops_ = 0;
    seconds_ = waiting_ = 0.0;
  }
  return std::min(wanted, limit_);
}

void TeamPolicy::record(double seconds, double waiting) {
  seconds_ += seconds;
  waiting_ += waiting;
  if (++loops_ < kWindow) return;
  if (waiting_ > kStalled * seconds_ && waiting_ > kStalledWait * loops_) {
    limit_ = std::max(1, limit_ / 2);
    if (trying_) retry_after_ = std::min(retry_after_ * 2, kLastRetry);
    since_shrink_ = 0;
  } else if (trying_) {
    retry_after_ = kFirstRetry;
  }
  trying_ = false;
  loops_ = 0;
  seconds_ = waiting_ = 0.0;
}

WorkerPool::WorkerPool(int threads, double work_per_thread)
    : threads_(std::max(1, threads)), policy_(threads_, work_per_thread) {}

WorkerPool::~WorkerPool() {
  stop_workers();
}

void WorkerPool::stop_workers() {
  stop_.store(true, std::memory_order_release);
  for (auto& worker : workers_) {
    worker->ticket.fetch_add(1, std::memory_order_release);
    worker->ticket.notify_one();
  }
  for (auto& worker : workers_)
    if (worker->thread.joinable()) worker->thread.join();
  workers_.clear();
}

void WorkerPool::start_workers() {
  for (int i = 1; i < threads_; ++i) {
    workers_.push_back(std::make_unique<Worker>());
    Worker& worker = *workers_.back();
    try {
      worker.thread = std::thread([this, &worker] { worker_main(worker); });
    } catch (const std::system_error& error) {  // the system's limit on threads or memory
      stop_workers();
      throw InputError("could not start CPU thread " + std::to_string(i + 1) + " of " +
                       std::to_string(threads_) + " (" + error.what() + "): ask for fewer threads");
    }
  }
}

void WorkerPool::worker_main(Worker& self) {
  std::uint32_t seen = 0;
  for (;;) {
    std::uint32_t ticket = self.ticket.load(std::memory_order_acquire);
    spin_until([&] {
      ticket = self.ticket.load(std::memory_order_acquire);
      return ticket != seen;
    });
    while (ticket == seen) {
      self.ticket.wait(seen, std::memory_order_acquire);
      ticket = self.ticket.load(std::memory_order_acquire);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = ticket;
    work_on(ticket);
  }
}

void WorkerPool::work_on(std::uint32_t generation) {
  std::uint64_t claim = claim_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<std::uint32_t>(claim >> 32) != generation) return;
    const std::uint64_t chunks = (claim >> kChunkBits) & kMaxChunks;
    const std::uint64_t next = claim & kMaxChunks;
    if (next >= chunks) return;
    if (!claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
      continue;
    // The loop cannot end before this chunk is done, so what describes it is still valid.
    const std::size_t begin = next * chunk_;
    call_(body_, begin, std::min(count_, begin + chunk_));
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == chunks) done_.notify_one();
    claim = claim_.load(std::memory_order_acquire);
  }
}

void WorkerPool::run_chunks(std::size_t count, double work, const void* body, Call call) {
  const int team = count == 0 ? 1 : policy_.team(count, work);
  if (team <= 1) {
    if (count > 0) call(body, 0, count);
    return;
  }
  if (workers_.empty()) start_workers();
  const auto start = Clock::now();
  // About 8 chunks per thread: the caller's wait for the last ones stays a small share.
  const std::size_t chunks_wanted =
      std::min<std::size_t>({count, static_cast<std::size_t>(team) * 8, kMaxChunks});
  chunk_ = (count + chunks_wanted - 1) / chunks_wanted;
  const auto chunks = static_cast<std::uint32_t>((count + chunk_ - 1) / chunk_);
  count_ = count;
  body_ = body;
  call_ = call;
  if (++generation_ == 0) ++generation_;  // 0 is no loop
  done_.store(0, std::memory_order_relaxed);
  claim_.store((std::uint64_t{generation_} << 32) | (std::uint64_t{chunks} << kChunkBits),
               std::memory_order_release);
  for (int w = 0; w + 1 < team; ++w) {
    workers_[static_cast<std::size_t>(w)]->ticket.store(generation_, std::memory_order_release);
    workers_[static_cast<std::size_t>(w)]->ticket.notify_one();
  }
  work_on(generation_);
  const auto idle = Clock::now();
  std::uint32_t done = done_.load(std::memory_order_acquire);
  spin_until([&] {
    done = done_.load(std::memory_order_acquire);
    return done == chunks;
  });
  while (done != chunks) {
    done_.wait(done, std::memory_order_acquire);
    done = done_.load(std::memory_order_acquire);
  }
  const auto end = Clock::now();
  policy_.record(seconds_between(start, end), seconds_between(idle, end));
}

}  // namespace vaead::cpu

// cuda_emu's kernel scheduler: a grid runs on the calling host thread, block after block in an
// order shuffled by a seed; the threads of a block are fibers (Boost.Context), each on its own
// stack, resumed in a shuffled order and run until they reach a barrier, a warp operation or the
// end.
//
// - __syncthreads completes when every thread of the block waits at the same one. A thread that
//   returns, or waits at another barrier or at a warp operation, while others wait is a fault that
//   names the kernel, the block, the threads and the lines: never a hang.
// - A warp operation completes when every lane of its mask waits at one with the same mask; a mask
//   that names a lane which has returned, does not exist or leaves out the caller is a fault.
// - Before each block, the __shared__ section is filled with 0xFF bytes (NaN, -1).
// - Sanitizers: every fiber switch is announced to AddressSanitizer, and to ThreadSanitizer as a
//   switch *without* synchronisation; happens-before comes only from what CUDA orders: the launch
//   before the threads, barriers and warp operations among the threads that take part, the threads
//   before the next block (its __shared__ variables are the same memory) and before the host.
//   This file is not instrumented by ThreadSanitizer (CUDA_EMU_TSAN builds it without), so only the
//   kernels' own accesses are checked.
// - A watchdog ends the process when one grid runs past VAEAD_EMU_TIME_LIMIT seconds (default 600).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/detail/fcontext.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "emulator.hpp"
#include "mma.h"

#if defined(__SANITIZE_ADDRESS__)
#define CUDA_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CUDA_EMU_ASAN 1
#endif
#endif
#if defined(CUDA_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(CUDA_EMU_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

uint3 threadIdx{0, 0, 0};
uint3 blockIdx{0, 0, 0};
dim3 blockDim;
dim3 gridDim;

// The linker's bounds of the __shared__ section (absent, hence weak, when no kernel declares one).
extern "C" char __start_cuda_emu_shared[] __attribute__((weak));
extern "C" char __stop_cuda_emu_shared[] __attribute__((weak));

namespace cuda_emu {
namespace {

namespace fcontext = boost::context::detail;

constexpr std::size_t kStackBytes = std::size_t{256} << 10;
constexpr int kWarp = 32;

// ---- random order ------------------------------------------------------------------------------
class Random {
 public:
  explicit Random(std::uint64_t seed)
      : state_(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

// A bijection of [0, n) that needs no memory (grids may have 2^31 blocks): a random invertible
// mixing function on the smallest power of two >= n, walked until it lands inside [0, n).
class BlockOrder {
 public:
  BlockOrder(std::uint64_t n, Random& random) : n_(n) {
    while ((std::uint64_t{1} << bits_) < n)
      ++bits_;
    mask_ = bits_ == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits_) - 1;
    multiplier_ = random.next() | 1;
    offset_ = random.next();
  }
  std::uint64_t operator()(std::uint64_t i) const {
    std::uint64_t x = i;
    do
      x = mix(x);
    while (x >= n_);
    return x;
  }

 private:
  std::uint64_t mix(std::uint64_t x) const {
    const int shift = std::max(1, bits_ / 2);
    x = (x + offset_) & mask_;
    x ^= x >> shift;
    x = (x * multiplier_) & mask_;
    x ^= x >> shift;
    return x;
  }
  std::uint64_t n_;
  int bits_ = 0;
  std::uint64_t mask_ = 0, multiplier_ = 1, offset_ = 0;
};

// ---- stacks ------------------------------------------------------------------------------------
struct Stack {
  char* bottom = nullptr;  // lowest usable address; a guard page lies below it
  std::size_t size = 0;
};

// One stack per thread index, kept for the life of the process: thread t of every block runs on
// the same memory, which is also what ThreadSanitizer needs (it knows the stack as thread t's).
class Stacks {
 public:
  Stack of(int thread) {
    while (stacks_.size() <= static_cast<std::size_t>(thread))
      stacks_.push_back(allocate());
    return stacks_[static_cast<std::size_t>(thread)];
  }

 private:
  static Stack allocate() {
    const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    void* memory = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) {
      std::perror("cuda_emu: mmap of a fiber stack");
      std::abort();
    }
    mprotect(memory, page, PROT_NONE);  // a guard page below the stack
    return {static_cast<char*>(memory) + page, kStackBytes};
  }
  std::vector<Stack> stacks_;
};

// ---- the threads of a block --------------------------------------------------------------------
enum class Wait { running, barrier, warp, exited };

struct Fiber {
  fcontext::fcontext_t context = nullptr;
  Stack stack;
  uint3 index{0, 0, 0};
  int linear = 0;
  bool started = false;
  Wait wait = Wait::running;
  const char* file = "";
  int line = 0;
  std::size_t generation = 0;  // of the barrier or warp operation waited at
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  int operand = 0, width = kWarp;
  std::size_t bytes = 0;
  const char* what = nullptr;  // a collective operation's name
  const void* mine = nullptr;  // what a collective operation hands the warp
  alignas(16) unsigned char value[16] = {};
  alignas(16) unsigned char result[16] = {};
  void* fake_stack = nullptr;  // AddressSanitizer's, while suspended
};

struct Grid {
  const LaunchConfig* config = nullptr;
  const std::function<void()>* body = nullptr;
  int threads = 0;
  std::vector<Fiber> fibers;
  std::vector<int> runnable;
  int live = 0, exited = 0, at_barrier = 0;
  std::size_t barrier_generation = 0;
  std::vector<std::size_t> warp_generation;
  std::vector<unsigned> warp_waiting;   // per warp: the lanes waiting at a warp operation
  std::vector<unsigned> warp_exited;    // per warp: the lanes that have returned
  std::vector<const void*> warp_table;  // [warp][lane]: the last collective's `mine`
  void* dynamic_shared = nullptr;       // the launch's dynamic shared bytes, exactly
  std::string fault;
  std::exception_ptr exception;
  fcontext::fcontext_t scheduler = nullptr;
  Fiber* current = nullptr;
  Random random{1};
  void* scheduler_fake_stack = nullptr;
  const void* host_stack_bottom = nullptr;
  std::size_t host_stack_size = 0;
};

std::mutex g_grid_mutex;  // one grid at a time
Grid* g_grid = nullptr;   // the grid running now
Stacks g_stacks;
std::uint64_t g_launches = 0;

// Sanitizer bookkeeping: one ThreadSanitizer fiber per thread index, reused by every block (blocks
// are ordered: see the header comment), and the addresses that carry happens-before.
#if defined(CUDA_EMU_TSAN)
std::vector<void*> g_tsan_fibers;
void* g_tsan_host = nullptr;
char g_block_done;
char g_barrier_sync[2];
std::vector<char> g_warp_sync;  // [warp][2]
#endif

// ---- the watchdog ------------------------------------------------------------------------------
std::atomic<long long> g_grid_started_ms{0};  // 0: no grid runs
std::atomic<const char*> g_grid_kernel{nullptr};
std::atomic<double> g_time_limit_s{-1.0};

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double time_limit_s() {
  double limit = g_time_limit_s.load();
  if (limit > 0) return limit;
  const char* text = std::getenv("VAEAD_EMU_TIME_LIMIT");
  limit = text != nullptr ? std::atof(text) : 0.0;
  return limit > 0 ? limit : 600.0;
}

void start_watchdog() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::thread([] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        const long long started = g_grid_started_ms.load();
        if (started == 0) continue;
        const double seconds = static_cast<double>(now_ms() - started) / 1000.0;
        const double limit = time_limit_s();
        if (seconds <= limit) continue;
        std::fprintf(stderr,
                     "cuda_emu: kernel '%s' has run for %.1f s, past the limit of %.1f s "
                     "(VAEAD_EMU_TIME_LIMIT): an endless loop, or a wait that never ends\n",
                     g_grid_kernel.load(), seconds, limit);
        std::fflush(stderr);
        std::abort();
      }
    }).detach();
  });
}

// Copies a shuffle's value without calling memcpy: this file is not instrumented, but the C
// library's memcpy is intercepted by ThreadSanitizer, which would take the scheduler's bookkeeping
// for the kernel's accesses.
void copy_value(void* to, const void* from, std::size_t bytes) {
  auto* out = static_cast<volatile unsigned char*>(to);
  const auto* in = static_cast<const volatile unsigned char*>(from);
  for (std::size_t i = 0; i < bytes; ++i)
    out[i] = in[i];
}

// ---- switching ---------------------------------------------------------------------------------
[[noreturn]] void outside_kernel(const char* what) {
  std::fprintf(stderr, "cuda_emu: %s called outside a kernel\n", what);
  std::abort();
}

// From a fiber back to the scheduler; returns when the scheduler resumes the fiber.
void yield(Grid& grid, Fiber& fiber, bool final) {
#if defined(CUDA_EMU_TSAN)
  __tsan_switch_to_fiber(g_tsan_host, __tsan_switch_to_fiber_no_sync);
#endif
#if defined(CUDA_EMU_ASAN)
  __sanitizer_start_switch_fiber(final ? nullptr : &fiber.fake_stack, grid.host_stack_bottom,
                                 grid.host_stack_size);
#endif
  const fcontext::transfer_t back = fcontext::jump_fcontext(grid.scheduler, nullptr);
#if defined(CUDA_EMU_ASAN)
  __sanitizer_finish_switch_fiber(fiber.fake_stack, nullptr, nullptr);
#endif
  (void) final;
  (void)fiber;
  grid.scheduler = back.fctx;
}

void fiber_entry(fcontext::transfer_t transfer) {
  Grid& grid = *static_cast<Grid*>(transfer.data);
  grid.scheduler = transfer.fctx;
#if defined(CUDA_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &grid.host_stack_bottom, &grid.host_stack_size);
#endif
  try {
    (*grid.body)();
  } catch (...) {
    if (!grid.exception) grid.exception = std::current_exception();
  }
  Fiber& fiber = *grid.current;
  fiber.wait = Wait::exited;
#if defined(CUDA_EMU_TSAN)
  __tsan_release(&g_block_done);
#endif
  yield(grid, fiber, true);
  std::abort();  // a finished fiber is never resumed
}

// From the scheduler into `fiber` until it yields.
void resume(Grid& grid, Fiber& fiber) {
  threadIdx = fiber.index;
  grid.current = &fiber;
  fiber.wait = Wait::running;
  const bool first = !fiber.started;
  if (first) {
    fiber.stack = g_stacks.of(fiber.linear);
    fiber.context = fcontext::make_fcontext(fiber.stack.bottom + fiber.stack.size, fiber.stack.size,
                                            fiber_entry);
    fiber.started = true;
  }
#if defined(CUDA_EMU_ASAN)
  __sanitizer_start_switch_fiber(&grid.scheduler_fake_stack, fiber.stack.bottom, fiber.stack.size);
#endif
#if defined(CUDA_EMU_TSAN)
  // Right before the switch (what runs after it is the fiber's). The first switch of a block
  // synchronizes: what the host (and earlier blocks) did comes first.
  __tsan_switch_to_fiber(g_tsan_fibers[static_cast<std::size_t>(fiber.linear)],
                         first ? 0 : __tsan_switch_to_fiber_no_sync);
#endif
  const fcontext::transfer_t back = fcontext::jump_fcontext(fiber.context, &grid);
#if defined(CUDA_EMU_ASAN)
  __sanitizer_finish_switch_fiber(grid.scheduler_fake_stack, nullptr, nullptr);
#endif
  fiber.context = back.fctx;
  grid.current = nullptr;
}

// ---- diagnosis ---------------------------------------------------------------------------------
std::string coordinates(const uint3& v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}
std::string coordinates(const dim3& v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}
std::string hex(unsigned mask) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", mask);
  return text;
}
std::string site(const Fiber& fiber) {
  return std::string(fiber.file) + ":" + std::to_string(fiber.line);
}

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::sync:
      return "__syncwarp";
    case WarpOp::shuffle_index:
      return "__shfl_sync";
    case WarpOp::shuffle_up:
      return "__shfl_up_sync";
    case WarpOp::shuffle_down:
      return "__shfl_down_sync";
    case WarpOp::shuffle_xor:
      return "__shfl_xor_sync";
    case WarpOp::ballot:
      return "__ballot_sync";
    case WarpOp::collective:
      return "a warp-collective operation";
  }
  return "a warp operation";
}

const char* op_name(const Fiber& fiber) {
  return fiber.op == WarpOp::collective && fiber.what != nullptr ? fiber.what : op_name(fiber.op);
}

// "threads (0,0,0) (1,0,0) ... and 250 more"
std::string thread_list(const Grid& grid, Wait wait) {
  std::ostringstream out;
  int count = 0;
  for (const Fiber& fiber : grid.fibers)
    if (fiber.wait == wait) {
      if (count < 4) out << (count > 0 ? " " : "") << coordinates(fiber.index);
      ++count;
    }
  if (count > 4) out << " and " << count - 4 << " more";
  return out.str();
}

void set_fault(Grid& grid, const std::string& what) {
  if (!grid.fault.empty()) return;
  std::ostringstream out;
  out << "kernel '" << grid.config->kernel << "', block " << coordinates(blockIdx) << " of grid "
      << coordinates(gridDim) << " (block " << coordinates(blockDim)
      << ", VAEAD_EMU_SEED=" << schedule_seed() << "): " << what;
  grid.fault = out.str();
}

// Nothing can run: say why (the block can never finish).
void diagnose_stall(Grid& grid) {
  std::map<std::string, int> barrier_sites, warp_sites;
  for (const Fiber& fiber : grid.fibers) {
    if (fiber.wait == Wait::barrier) ++barrier_sites[site(fiber)];
    if (fiber.wait == Wait::warp)
      ++warp_sites[std::string(op_name(fiber)) + " (" + site(fiber) + ", mask " + hex(fiber.mask) +
                   ")"];
  }
  std::ostringstream out;
  out << "barrier divergence: ";
  const auto list = [&](const std::map<std::string, int>& sites, const char* prefix) {
    bool first = true;
    for (const auto& [where, count] : sites) {
      out << (first ? "" : ", ") << count << " wait at " << prefix << where;
      first = false;
    }
  };
  if (grid.at_barrier > 0 && grid.exited > 0) {
    out << grid.exited << " thread(s) returned (" << thread_list(grid, Wait::exited) << ") while ";
    list(barrier_sites, "__syncthreads ");
  } else if (barrier_sites.size() > 1) {
    out << "threads wait at different barriers: ";
    list(barrier_sites, "__syncthreads ");
  } else if (grid.at_barrier > 0) {
    list(barrier_sites, "__syncthreads ");
    out << " while ";
    list(warp_sites, "");
  } else {
    out << "lanes wait for lanes that never arrive: ";
    list(warp_sites, "");
  }
  set_fault(grid, out.str());
}

// ---- barriers ----------------------------------------------------------------------------------
// Appends `count` threads to the runnable queue in a shuffled order. No allocation: the queue keeps
// its capacity from block to block.
void make_runnable(Grid& grid, const int* threads, int count) {
  const std::size_t start = grid.runnable.size();
  grid.runnable.insert(grid.runnable.end(), threads, threads + count);
  for (std::size_t i = grid.runnable.size(); i > start + 1; --i)
    std::swap(grid.runnable[i - 1], grid.runnable[start + grid.random.next() % (i - start)]);
}

void make_all_runnable(Grid& grid) {
  grid.runnable.clear();
  for (int t = 0; t < grid.threads; ++t)
    grid.runnable.push_back(t);
  for (std::size_t i = grid.runnable.size(); i > 1; --i)
    std::swap(grid.runnable[i - 1], grid.runnable[grid.random.next() % i]);
}

// Every thread waits at the same __syncthreads: release them all.
bool release_barrier(Grid& grid) {
  if (grid.at_barrier != grid.threads) return false;
  const Fiber& first = grid.fibers[0];
  for (const Fiber& fiber : grid.fibers)
    if (fiber.line != first.line ||
        (fiber.file != first.file && std::strcmp(fiber.file, first.file) != 0))
      return false;
  ++grid.barrier_generation;
  grid.at_barrier = 0;
  make_all_runnable(grid);
  return true;
}

// ---- warp operations ---------------------------------------------------------------------------
// The lane whose value `lane` receives (its own when the source is outside its segment).
int source_lane(const Fiber& fiber, int lane) {
  const int width = fiber.width;
  const int base = lane - lane % width;
  switch (fiber.op) {
    case WarpOp::shuffle_index:
      return base + (fiber.operand & (width - 1));
    case WarpOp::shuffle_up:
      return lane % width >= fiber.operand ? lane - fiber.operand : lane;
    case WarpOp::shuffle_down:
      return lane % width + fiber.operand < width ? lane + fiber.operand : lane;
    case WarpOp::shuffle_xor: {
      const int source = lane ^ fiber.operand;
      return source < base + width ? source : lane;  // later segments give the lane its own value
    }
    default:
      return lane;
  }
}

std::string warp_site(const Fiber& fiber) {
  return std::string(op_name(fiber)) + " at " + site(fiber);
}

bool same_bytes(const unsigned char* a, const unsigned char* b, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

// `fiber` arrived at a warp operation: when every lane of its mask is there, carry it out. (Runs
// at every arrival: messages are built only for a fault.)
void try_complete_warp(Grid& grid, Fiber& fiber) {
  const int lane = fiber.linear % kWarp;
  const int base = fiber.linear - lane;
  const unsigned mask = fiber.mask;
  if ((mask & (1u << lane)) == 0) {
    set_fault(grid, "thread " + coordinates(fiber.index) + " calls " + warp_site(fiber) +
                        " with mask " + hex(mask) + ", which leaves out its own lane " +
                        std::to_string(lane));
    return;
  }
  if (fiber.width < 1 || fiber.width > kWarp || (fiber.width & (fiber.width - 1)) != 0) {
    set_fault(grid, warp_site(fiber) + ": width " + std::to_string(fiber.width) +
                        " is not a power of 2 <= 32");
    return;
  }
  const auto warp = static_cast<std::size_t>(base / kWarp);
  grid.warp_waiting[warp] |= 1u << lane;
  const unsigned missing = mask & ~grid.warp_waiting[warp];
  if ((missing & grid.warp_exited[warp]) == 0 && base + kWarp <= grid.threads && missing != 0)
    return;  // lanes still to come (the checks below run when they are all there, or for a fault)
  int lanes[kWarp];
  int count = 0;
  for (int l = 0; l < kWarp; ++l) {
    if ((mask & (1u << l)) == 0) continue;
    if (base + l >= grid.threads) {
      set_fault(grid, warp_site(fiber) + ": mask " + hex(mask) + " names lane " +
                          std::to_string(l) + ", which does not exist in a block of " +
                          std::to_string(grid.threads) + " threads");
      return;
    }
    const Fiber& other = grid.fibers[static_cast<std::size_t>(base + l)];
    if (other.wait == Wait::exited) {
      set_fault(grid, "warp operation over inactive lanes: " + warp_site(fiber) + " with mask " +
                          hex(mask) + " waits for lane " + std::to_string(l) + " (thread " +
                          coordinates(other.index) + "), which has returned");
      return;
    }
    if (other.wait != Wait::warp || other.mask != mask) return;  // not there yet
    lanes[count++] = l;
  }
  for (int k = 0; k < count; ++k) {
    const Fiber& other = grid.fibers[static_cast<std::size_t>(base + lanes[k])];
    const bool shifts = fiber.op == WarpOp::shuffle_up || fiber.op == WarpOp::shuffle_down;
    const bool collective = fiber.op == WarpOp::collective;
    if (other.op != fiber.op || other.width != fiber.width || other.bytes != fiber.bytes ||
        (shifts && other.operand != fiber.operand) ||
        (collective && (other.line != fiber.line || std::strcmp(other.what, fiber.what) != 0 ||
                        !same_bytes(other.value, fiber.value, fiber.bytes)))) {
      set_fault(grid, "the lanes of mask " + hex(mask) + " disagree: lane " + std::to_string(lane) +
                          " calls " + warp_site(fiber) + ", lane " + std::to_string(lanes[k]) +
                          " calls " + warp_site(other));
      return;
    }
  }
  if (fiber.op == WarpOp::collective)
    for (int k = 0; k < count; ++k)
      grid.warp_table[warp * kWarp + static_cast<std::size_t>(lanes[k])] =
          grid.fibers[static_cast<std::size_t>(base + lanes[k])].mine;
  unsigned ballot = 0;
  if (fiber.op == WarpOp::ballot)
    for (int k = 0; k < count; ++k) {
      int vote = 0;
      copy_value(&vote, grid.fibers[static_cast<std::size_t>(base + lanes[k])].value, sizeof vote);
      if (vote != 0) ballot |= 1u << lanes[k];
    }
  for (int k = 0; k < count; ++k) {
    const int l = lanes[k];
    Fiber& target = grid.fibers[static_cast<std::size_t>(base + l)];
    if (target.op == WarpOp::ballot) {
      copy_value(target.result, &ballot, sizeof ballot);
    } else if (target.op != WarpOp::sync && target.op != WarpOp::collective) {
      const int source = source_lane(target, base + l) - base;
      if (source != l && (mask & (1u << source)) == 0) {
        set_fault(grid, "lane " + std::to_string(l) + " of " + warp_site(fiber) + " reads lane " +
                            std::to_string(source) + ", which is not in the mask " + hex(mask));
        return;
      }
      copy_value(target.result, grid.fibers[static_cast<std::size_t>(base + source)].value,
                 target.bytes);
    }
  }
  ++grid.warp_generation[warp];
  grid.warp_waiting[warp] &= ~mask;
  for (int k = 0; k < count; ++k) {
    grid.fibers[static_cast<std::size_t>(base + lanes[k])].wait = Wait::running;
    lanes[k] += base;
  }
  make_runnable(grid, lanes, count);
}

// A lane returned: any lane already waiting at a warp operation that counts on it is stuck.
void check_exit_against_warp(Grid& grid, const Fiber& fiber) {
  const int lane = fiber.linear % kWarp;
  const int base = fiber.linear - lane;
  const auto warp = static_cast<std::size_t>(base / kWarp);
  grid.warp_exited[warp] |= 1u << lane;
  if (grid.warp_waiting[warp] == 0) return;
  for (int l = 0; l < kWarp && base + l < grid.threads; ++l) {
    const Fiber& other = grid.fibers[static_cast<std::size_t>(base + l)];
    if (other.wait == Wait::warp && (other.mask & (1u << lane)) != 0) {
      set_fault(grid, "warp operation over inactive lanes: " + std::string(op_name(other)) +
                          " at " + site(other) + " with mask " + hex(other.mask) +
                          " waits for lane " + std::to_string(lane) + " (thread " +
                          coordinates(fiber.index) + "), which has returned");
      return;
    }
  }
}

// ---- a block -----------------------------------------------------------------------------------
void poison_shared(const Grid& grid) {
  if (grid.dynamic_shared != nullptr)
    std::memset(grid.dynamic_shared, 0xFF, grid.config->dynamic_shared);
  if (__start_cuda_emu_shared == nullptr || __stop_cuda_emu_shared == nullptr) return;
  std::memset(__start_cuda_emu_shared, 0xFF,
              static_cast<std::size_t>(__stop_cuda_emu_shared - __start_cuda_emu_shared));
}

// Threads left suspended by a fault never resume; their stacks are reused clean, and what they did
// before they stopped (each released it at its barrier or warp operation) comes before the host's
// next step.
void abandon(Grid& grid) {
#if defined(CUDA_EMU_ASAN)
  for (const Fiber& fiber : grid.fibers)
    if (fiber.started && fiber.wait != Wait::exited)
      __asan_unpoison_memory_region(fiber.stack.bottom, fiber.stack.size);
#endif
#if defined(CUDA_EMU_TSAN)
  for (char& sync : g_barrier_sync)
    __tsan_acquire(&sync);
  for (char& sync : g_warp_sync)
    __tsan_acquire(&sync);
#endif
  (void)grid;
}

void run_block(Grid& grid) {
  const dim3 block = grid.config->block;
  grid.live = grid.threads;
  grid.exited = grid.at_barrier = 0;
  std::fill(grid.warp_waiting.begin(), grid.warp_waiting.end(), 0u);
  std::fill(grid.warp_exited.begin(), grid.warp_exited.end(), 0u);
  for (int t = 0; t < grid.threads; ++t) {
    Fiber& fiber = grid.fibers[static_cast<std::size_t>(t)];
    fiber = Fiber{};
    fiber.linear = t;
    const auto u = static_cast<unsigned>(t);
    fiber.index = uint3{u % block.x, (u / block.x) % block.y, u / (block.x * block.y)};
  }
  make_all_runnable(grid);
#if defined(CUDA_EMU_TSAN)
  __tsan_acquire(&g_block_done);  // before the poisoning: earlier blocks used the same memory
#endif
  poison_shared(grid);
  while (grid.fault.empty() && !grid.exception) {
    while (!grid.runnable.empty() && grid.fault.empty() && !grid.exception) {
      const int t = grid.runnable.back();
      grid.runnable.pop_back();
      Fiber& fiber = grid.fibers[static_cast<std::size_t>(t)];
      resume(grid, fiber);
      switch (fiber.wait) {
        case Wait::exited:
          --grid.live;
          ++grid.exited;
          check_exit_against_warp(grid, fiber);
          break;
        case Wait::barrier:
          ++grid.at_barrier;
          break;
        case Wait::warp:
          try_complete_warp(grid, fiber);
          break;
        case Wait::running:
          break;
      }
    }
    if (grid.live == 0 || !grid.fault.empty() || grid.exception) break;
    if (!release_barrier(grid)) diagnose_stall(grid);
  }
  if (!grid.fault.empty() || grid.exception) abandon(grid);
}

std::uint64_t seed_from_environment() {
  const char* text = std::getenv("VAEAD_EMU_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 0) : 1;
}

}  // namespace

unsigned long long schedule_seed() {
  static const std::uint64_t seed = seed_from_environment();
  return seed;
}

const int* fragment_positions(FragmentKind kind) {
  static const std::vector<std::vector<int>> positions = [] {
    std::vector<std::vector<int>> all;
    for (int k = 0; k <= static_cast<int>(FragmentKind::accumulator); ++k) {
      const int count = k == static_cast<int>(FragmentKind::accumulator) ? 256 : 128;
      std::vector<int> order(static_cast<std::size_t>(count));
      for (int i = 0; i < count; ++i)
        order[static_cast<std::size_t>(i)] = i;
      Random random(schedule_seed() * 0x2545F4914F6CDD1Dull + static_cast<std::uint64_t>(k) + 7);
      for (std::size_t i = order.size(); i > 1; --i)
        std::swap(order[i - 1], order[random.next() % i]);
      all.push_back(std::move(order));
    }
    return all;
  }();
  return positions[static_cast<std::size_t>(kind)].data();
}

void set_time_limit(double seconds) {
  g_time_limit_s = seconds;
}

cudaError_t run_grid(const LaunchConfig& config, const std::function<void()>& thread_body) {
  const std::lock_guard lock(g_grid_mutex);
  start_watchdog();
  // The fragment layouts are drawn here, on the host thread before any thread of the grid runs
  // (the launch orders them for ThreadSanitizer), not by whichever lane first needs them.
  fragment_positions(FragmentKind::accumulator);
  Grid grid;
  grid.config = &config;
  grid.body = &thread_body;
  grid.threads = static_cast<int>(config.block.x * config.block.y * config.block.z);
  grid.fibers.resize(static_cast<std::size_t>(grid.threads));
  grid.runnable.reserve(static_cast<std::size_t>(grid.threads));
  const auto warps = static_cast<std::size_t>((grid.threads + kWarp - 1) / kWarp);
  grid.warp_generation.assign(warps, 0);
  grid.warp_waiting.assign(warps, 0);
  grid.warp_exited.assign(warps, 0);
  grid.warp_table.assign(warps * kWarp, nullptr);
  // Exactly the launch's bytes (operator new of 0 bytes included), so that AddressSanitizer
  // reports a read past them.
  std::unique_ptr<void, void (*)(void*)> dynamic_shared(
      ::operator new (config.dynamic_shared, std::align_val_t{128}),
      [](void* p) { ::operator delete (p, std::align_val_t{128}); });
  grid.dynamic_shared = dynamic_shared.get();
  grid.random = Random(schedule_seed() ^ (++g_launches * 0xD1B54A32D192ED03ull));
#if defined(CUDA_EMU_TSAN)
  g_tsan_host = __tsan_get_current_fiber();
  while (g_tsan_fibers.size() < static_cast<std::size_t>(grid.threads))
    g_tsan_fibers.push_back(__tsan_create_fiber(0));
  if (g_warp_sync.size() < grid.warp_generation.size() * 2)
    g_warp_sync.resize(grid.warp_generation.size() * 2);
#endif
  blockDim = config.block;
  gridDim = config.grid;
  g_grid = &grid;
  g_grid_kernel = config.kernel;
  g_grid_started_ms = now_ms();

  const std::uint64_t blocks = std::uint64_t{config.grid.x} * config.grid.y * config.grid.z;
  const BlockOrder order(blocks, grid.random);
  for (std::uint64_t i = 0; i < blocks && grid.fault.empty() && !grid.exception; ++i) {
    const std::uint64_t b = order(i);
    blockIdx = uint3{static_cast<unsigned>(b % config.grid.x),
                     static_cast<unsigned>((b / config.grid.x) % config.grid.y),
                     static_cast<unsigned>(b / (std::uint64_t{config.grid.x} * config.grid.y))};
    run_block(grid);
  }
#if defined(CUDA_EMU_TSAN)
  __tsan_acquire(&g_block_done);  // the grid before the host's next step
#endif
  g_grid_started_ms = 0;
  g_grid = nullptr;
  if (!grid.fault.empty()) return fault(grid.fault);
  if (grid.exception) {
    try {
      std::rethrow_exception(grid.exception);
    } catch (const std::exception& error) {
      return fault("kernel '" + std::string(config.kernel) + "' threw: " + error.what());
    } catch (...) {
      return fault("kernel '" + std::string(config.kernel) + "' threw an exception");
    }
  }
  return cudaSuccess;
}

void syncthreads(const char* file, int line) {
  if (g_grid == nullptr || g_grid->current == nullptr) outside_kernel("__syncthreads");
  Grid& grid = *g_grid;
  Fiber& fiber = *grid.current;
  fiber.wait = Wait::barrier;
  fiber.file = file;
  fiber.line = line;
  fiber.generation = grid.barrier_generation;
#if defined(CUDA_EMU_TSAN)
  __tsan_release(&g_barrier_sync[fiber.generation & 1]);
#endif
  yield(grid, fiber, false);
#if defined(CUDA_EMU_TSAN)
  __tsan_acquire(&g_barrier_sync[fiber.generation & 1]);
#endif
}

void* dynamic_shared_memory() {
  if (g_grid == nullptr || g_grid->current == nullptr) outside_kernel("dynamic shared memory");
  return g_grid->dynamic_shared;
}

const void* const* warp_collective(const char* what, const void* args, std::size_t bytes,
                                   const void* mine, const char* file, int line) {
  if (g_grid == nullptr || g_grid->current == nullptr) outside_kernel(what);
  if (bytes > 16) std::abort();  // the emulator's own misuse
  Fiber& fiber = *g_grid->current;
  fiber.what = what;
  fiber.mine = mine;
  unsigned char unused[16];
  warp_operation(WarpOp::collective, 0xFFFFFFFFu, args, unused, bytes, 0, kWarp, file, line);
  return g_grid->warp_table.data() + static_cast<std::size_t>(fiber.linear / kWarp) * kWarp;
}

void warp_operation(WarpOp op, unsigned mask, const void* value, void* result, std::size_t bytes,
                    int operand, int width, const char* file, int line) {
  if (g_grid == nullptr || g_grid->current == nullptr) outside_kernel(op_name(op));
  Grid& grid = *g_grid;
  Fiber& fiber = *grid.current;
  fiber.wait = Wait::warp;
  fiber.op = op;
  fiber.mask = mask;
  fiber.operand = operand;
  fiber.width = width;
  fiber.bytes = bytes;
  fiber.file = file;
  fiber.line = line;
  copy_value(fiber.value, value, bytes);
  const auto warp = static_cast<std::size_t>(fiber.linear / kWarp);
  fiber.generation = grid.warp_generation[warp];
#if defined(CUDA_EMU_TSAN)
  char* sync = &g_warp_sync[2 * warp + (fiber.generation & 1)];
  __tsan_release(sync);
#endif
  yield(grid, fiber, false);
#if defined(CUDA_EMU_TSAN)
  __tsan_acquire(sync);
#endif
  copy_value(result, fiber.result, op == WarpOp::ballot ? sizeof(unsigned) : bytes);
}

}  // namespace cuda_emu

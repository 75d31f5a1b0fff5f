// cuda_emu, device side: what a .cu file needs to compile as C++ and run on the CPU. Force-included
// (-include cuda_emu/device.hpp) in front of every kernel file of the emulated build.
//
// - The execution qualifiers are empty; __shared__ variables are static and live in one linker
//   section ("cuda_emu_shared") that the scheduler fills with 0xFF bytes (NaN for floats and
//   doubles, -1 for integers) before every block, so a read before a write shows.
// - threadIdx / blockIdx / blockDim / gridDim are set by the scheduler before it resumes a thread.
// - __syncthreads, __syncwarp and the warp shuffles suspend the calling thread (a fiber) until its
//   block or warp arrives; a thread that returns, or waits elsewhere, while the others wait is a
//   fault that names the kernel, the block, the threads and the source line.
// - Atomics are relaxed atomics (ThreadSanitizer sees them as atomic, and as no synchronisation).
#pragma once

#include <math.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "cuda_runtime_api.h"

#define __CUDA_EMU__ 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __restrict__ __restrict
// "used": the compiler may not fold reads of a variable nobody writes into zeros.
#define __shared__ __attribute__((section("cuda_emu_shared"), used)) static

extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;
inline constexpr int warpSize = 32;

namespace cuda_emu {

// ---- barriers and warp operations (src/scheduler.cpp) -----------------------------------------
void syncthreads(const char* file, int line);

enum class WarpOp {
  sync,
  shuffle_index,
  shuffle_up,
  shuffle_down,
  shuffle_xor,
  ballot,
  collective
};

// Suspends the calling lane until every lane of `mask` arrives at a warp operation, then gives it
// the value of its source lane (shuffles) or the ballot. `value` and `result` hold `bytes` bytes.
void warp_operation(WarpOp op, unsigned mask, const void* value, void* result, std::size_t bytes,
                    int operand, int width, const char* file, int line);

// A warp-collective operation (the wmma functions, mma.h): every lane of the warp calls it, with
// the same `args` (up to 16 bytes; lanes that pass others are a fault naming `what` and the lines);
// each lane hands `mine` and gets back the warp's 32 `mine` pointers by lane, valid until the
// warp's next collective operation completes.
const void* const* warp_collective(const char* what, const void* args, std::size_t bytes,
                                   const void* mine, const char* file, int line);

// The calling block's dynamic shared memory (`extern __shared__`): the launch's bytes exactly,
// filled with 0xFF before every block, so AddressSanitizer sees an overrun.
void* dynamic_shared_memory();

template <class T>
T shuffle(WarpOp op, unsigned mask, T value, int operand, int width, const char* file, int line) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 16, "shuffle of a large type");
  T result;
  warp_operation(op, mask, &value, &result, sizeof(T), operand, width, file, line);
  return result;
}

// ---- launches
// ------------------------------------------------------------------------------------
struct LaunchConfig {
  const char* kernel;  // the name in every message
  dim3 grid, block;
  std::size_t dynamic_shared = 0;
  cudaStream_t stream = nullptr;
  const void* function = nullptr;  // the kernel: its cudaFuncSetAttribute limits
};

// An argument that is a pointer: checked at launch to point into device memory (or be null).
struct PointerArgument {
  int position;
  const void* address;
};

// Validates the configuration and the pointer arguments, then runs (or, while the stream
// captures, records) the grid: `thread_body` is what each CUDA thread executes.
cudaError_t launch(const LaunchConfig& config, std::vector<PointerArgument> pointers,
                   std::function<void()> thread_body);

template <class Tuple, std::size_t... I>
std::vector<PointerArgument> pointer_arguments(const Tuple& params, std::index_sequence<I...>) {
  std::vector<PointerArgument> pointers;
  const auto add = [&](int position, const auto& value) {
    using Value = std::decay_t<decltype(value)>;
    if constexpr (std::is_pointer_v<Value> && !std::is_function_v<std::remove_pointer_t<Value>>)
      pointers.push_back({position, static_cast<const void*>(value)});
  };
  (add(static_cast<int>(I), std::get<I>(params)), ...);
  return pointers;
}

// kernel<<<grid, block, dynamic_shared, stream>>>(args...): the arguments are converted to the
// kernel's parameter types and copied when the launch is made, as CUDA copies them.
template <class... Params, class... Args>
cudaError_t launch_kernel(const LaunchConfig& config, void (*kernel)(Params...), Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "wrong number of kernel arguments");
  auto params = std::make_shared<const std::tuple<std::decay_t<Params>...>>(
      static_cast<std::decay_t<Params>>(std::forward<Args>(args))...);
  std::vector<PointerArgument> pointers =
      pointer_arguments(*params, std::index_sequence_for<Params...>{});
  LaunchConfig with_function = config;
  with_function.function = reinterpret_cast<const void*>(kernel);
  return launch(with_function, std::move(pointers),
                [kernel, params] { std::apply(kernel, *params); });
}

}  // namespace cuda_emu

// ---- CUDA's device functions -------------------------------------------------------------------
#define __syncthreads() ::cuda_emu::syncthreads(__FILE__, __LINE__)

inline void __syncwarp(unsigned mask = 0xFFFFFFFFu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  cuda_emu::warp_operation(cuda_emu::WarpOp::sync, mask, nullptr, nullptr, 0, 0, warpSize, file,
                           line);
}

template <class T>
T __shfl_sync(unsigned mask, T value, int source_lane, int width = warpSize,
              const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cuda_emu::shuffle(cuda_emu::WarpOp::shuffle_index, mask, value, source_lane, width, file,
                           line);
}
template <class T>
T __shfl_up_sync(unsigned mask, T value, unsigned delta, int width = warpSize,
                 const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cuda_emu::shuffle(cuda_emu::WarpOp::shuffle_up, mask, value, static_cast<int>(delta),
                           width, file, line);
}
template <class T>
T __shfl_down_sync(unsigned mask, T value, unsigned delta, int width = warpSize,
                   const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cuda_emu::shuffle(cuda_emu::WarpOp::shuffle_down, mask, value, static_cast<int>(delta),
                           width, file, line);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask, int width = warpSize,
                  const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return cuda_emu::shuffle(cuda_emu::WarpOp::shuffle_xor, mask, value, lane_mask, width, file,
                           line);
}
inline unsigned __ballot_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  const int vote = predicate != 0 ? 1 : 0;
  unsigned result = 0;
  cuda_emu::warp_operation(cuda_emu::WarpOp::ballot, mask, &vote, &result, sizeof(int), 0, warpSize,
                           file, line);
  return result;
}
inline int __any_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return __ballot_sync(mask, predicate, file, line) != 0 ? 1 : 0;
}
inline int __all_sync(unsigned mask, int predicate, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return __ballot_sync(mask, predicate, file, line) == mask ? 1
                                                            : 0;  // every lane of mask takes part
}

inline void __threadfence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void __threadfence_block() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// Atomics: relaxed, like the GPU's (no ordering of other memory).
template <class T>
T atomicAdd(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_add(value, std::memory_order_relaxed);
}
template <class T>
T atomicSub(T* address, T value) {
  return std::atomic_ref<T>(*address).fetch_sub(value, std::memory_order_relaxed);
}
template <class T>
T atomicExch(T* address, T value) {
  return std::atomic_ref<T>(*address).exchange(value, std::memory_order_relaxed);
}
template <class T>
T atomicCAS(T* address, T compare, T value) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, value, std::memory_order_relaxed);
  return compare;  // the old value, whether or not it was replaced
}
namespace cuda_emu {
// Replaces *address by value while better(value, *address); returns the old value.
template <class T, class Better>
T atomic_replace_if(T* address, T value, Better better) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load(std::memory_order_relaxed);
  while (better(value, old) && !ref.compare_exchange_weak(old, value, std::memory_order_relaxed)) {
  }
  return old;
}
}  // namespace cuda_emu
template <class T>
T atomicMin(T* address, T value) {
  return cuda_emu::atomic_replace_if(address, value, [](T a, T b) { return a < b; });
}
template <class T>
T atomicMax(T* address, T value) {
  return cuda_emu::atomic_replace_if(address, value, [](T a, T b) { return b < a; });
}

// Bit casts and integer intrinsics.
inline unsigned __float_as_uint(float f) {
  return std::bit_cast<unsigned>(f);
}
inline float __uint_as_float(unsigned u) {
  return std::bit_cast<float>(u);
}
inline int __float_as_int(float f) {
  return std::bit_cast<int>(f);
}
inline float __int_as_float(int i) {
  return std::bit_cast<float>(i);
}
inline long long __double_as_longlong(double d) {
  return std::bit_cast<long long>(d);
}
inline double __longlong_as_double(long long i) {
  return std::bit_cast<double>(i);
}
inline int __popc(unsigned x) {
  return std::popcount(x);
}
inline int __clz(int x) {
  return std::countl_zero(static_cast<unsigned>(x));
}
inline int __ffs(int x) {
  return x == 0 ? 0 : std::countr_zero(static_cast<unsigned>(x)) + 1;
}
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((static_cast<unsigned long long>(a) * b) >> 32);
}
template <class T>
T __ldg(const T* pointer) {
  return *pointer;
}

// The fast-math intrinsics: the library functions (a GPU's differ in the last bits).
inline float __expf(float x) {
  return expf(x);
}
inline float __logf(float x) {
  return logf(x);
}
inline float __sinf(float x) {
  return sinf(x);
}
inline float __cosf(float x) {
  return cosf(x);
}
inline float __fdividef(float a, float b) {
  return a / b;
}
inline float rsqrtf(float x) {
  return 1.0f / sqrtf(x);
}
inline double rsqrt(double x) {
  return 1.0 / sqrt(x);
}

// CUDA's min and max: integer overloads, and fminf / fmin for floating point.
template <class A, class B>
requires(std::is_arithmetic_v<A>&& std::is_arithmetic_v<B>) constexpr auto min(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>)
    return std::fmin(static_cast<C>(a), static_cast<C>(b));
  else
    return static_cast<C>(b) < static_cast<C>(a) ? static_cast<C>(b) : static_cast<C>(a);
}
template <class A, class B>
requires(std::is_arithmetic_v<A>&& std::is_arithmetic_v<B>) constexpr auto max(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>)
    return std::fmax(static_cast<C>(a), static_cast<C>(b));
  else
    return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}

// The one way kernels are launched, the block sizes of the element-wise and per-row kernels, and
// the warp and block reductions they share.
//
// launch(name, kernel, grid, block, stream, args...) is kernel<<<grid, block, 0, stream>>>(args...)
// followed by the launch check (a CudaError naming the kernel). In the emulated build
// (VAEAD_CUDA_EMULATOR=ON, tests/emulator) the same call hands the kernel to the CPU emulator, so
// kernels/*.cu compile unchanged with the host compiler.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "cuda_check.cuh"

namespace vaead::cuda {

inline constexpr int kBlock = 256;  // threads per block of the element-wise and per-row kernels
inline constexpr int kWarp = 32;

// Blocks of `block` threads covering `count` items; the count must fit a grid's x dimension.
inline unsigned blocks_for(long long count, int block = kBlock) {
  const long long blocks = (count + block - 1) / block;
  check_argument(
      count >= 0 && blocks <= 2147483647LL,
      "a launch over " + std::to_string(count) + " items needs more than 2^31 - 1 blocks");
  return static_cast<unsigned>(blocks);
}

#if defined(__CUDACC__) || defined(__CUDA_EMU__)  // kernels' files: nvcc, or the emulated build
template <class... Params, class... Args>
void launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t stream,
            Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "wrong number of kernel arguments");
#if defined(__CUDA_EMU__)
  cuda_emu::launch_kernel({name, grid, block, 0, stream}, kernel, std::forward<Args>(args)...);
#else
  // clang-format off
  kernel<<<grid, block, 0, stream>>>(std::forward<Args>(args)...);
  // clang-format on
#endif
  check_launch(cudaGetLastError(), name);
}

// launch() with `shared_bytes` of dynamic shared memory a block (dynamic_shared<T>() inside);
// above 48 KB the kernel must have been allowed them once (allow_dynamic_shared).
template <class... Params, class... Args>
void launch_shared(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
                   std::size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "wrong number of kernel arguments");
#if defined(__CUDA_EMU__)
  cuda_emu::launch_kernel({name, grid, block, shared_bytes, stream}, kernel,
                          std::forward<Args>(args)...);
#else
  // clang-format off
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  // clang-format on
#endif
  check_launch(cudaGetLastError(), name);
}

// Raises `kernel`'s dynamic shared memory limit to `bytes` (sm_90: up to 227 KB).
template <class... Params>
void allow_dynamic_shared(const char* name, void (*kernel)(Params...), std::size_t bytes) {
  check_launch(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    static_cast<int>(bytes)),
               name);
}

// The block's dynamic shared memory, as T (aligned to 128 bytes).
template <class T>
__device__ T* dynamic_shared() {
#if defined(__CUDA_EMU__)
  return static_cast<T*>(cuda_emu::dynamic_shared_memory());
#else
  extern __shared__ __align__(128) unsigned char vaead_dynamic_shared[];
  return reinterpret_cast<T*>(vaead_dynamic_shared);
#endif
}

// The sum of `value` over a warp by a fixed shuffle tree: complete in lane 0.
template <class T>
__device__ T warp_sum(T value) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    value += __shfl_down_sync(0xFFFFFFFFu, value, offset);
  return value;
}

// The sum of `value` over a block of kBlock threads by a fixed tree in `shared` (kBlock values),
// returned to every thread.
__device__ inline double block_sum(double value, double* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = kBlock / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  const double total = shared[0];
  __syncthreads();
  return total;
}
#endif

}  // namespace vaead::cuda

// Small kernels that exercise one emulator feature each, and their launchers (cudaError_t of the
// launch; device pointers in, as the project's launchers take them).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace emu_test {

// out[b * n + i] = in[b * n + (n - 1 - i)] per block of n threads, through shared memory.
cudaError_t reverse_blocks(const float* in, float* out, int blocks, int n, cudaStream_t stream);

// Warp operations on 64 threads of one block; out[t] per thread:
//   0: __shfl_down_sync(full, t, 1)   1: __shfl_up_sync(full, t, 3)   2: __shfl_xor_sync(full, t,
//   5) 3: __shfl_sync(full, t, 7)        4: __shfl_down_sync(full, t, 2, width 16) 5:
//   __ballot_sync(full, t % 3 == 0) 6: lanes 0-15 and 16-31 shuffle down within their halves 7: a
//   double shuffled down by 16
cudaError_t warp_ops(int which, double* out, cudaStream_t stream);

// Faults: 0 thread 0 returns before a __syncthreads; 1 even and odd threads wait at different
// barriers; 2 lane 31 returns before a full-mask shuffle; 3 a mask that leaves out its caller;
// 4 a shuffle that reads a lane outside its mask; 5 half the block at __syncthreads, half at a
// shuffle.
cudaError_t faulty(int which, float* out, cudaStream_t stream);

// out[t] = the shared float and int of thread t before anything wrote them (as float).
cudaError_t read_unwritten_shared(float* out, cudaStream_t stream);

// order[b] = the position at which block b ran (an atomic counter in counter[0]).
cudaError_t block_order(int blocks, unsigned* counter, unsigned* order, cudaStream_t stream);

// counter[0] += 1 per thread of `blocks` x 128 (atomicAdd), sum[0] += 0.5f per thread.
cudaError_t atomics(int blocks, int* counter, float* sum, cudaStream_t stream);

// value[0] += step (one thread): a kernel to capture into a graph and replay.
cudaError_t add(int* value, int step, cudaStream_t stream);

// A kernel that never ends (for the time limit).
cudaError_t spin(int* flag, cudaStream_t stream);

// out[i] = curand4 of (seed, subsequence[i], offset[i]), four words each.
cudaError_t curand_words(std::uint64_t seed, const unsigned long long* subsequence,
                         const unsigned long long* offset, int n, unsigned* out,
                         cudaStream_t stream);

// out = (threadIdx, blockIdx, blockDim, gridDim) of every thread of a 3-D launch: 12 ints each.
cudaError_t coordinates(dim3 grid, dim3 block, int* out, cudaStream_t stream);

// d[16][16] = a b + c by one warp through WMMA (m16n16k8 TF32): a [16][k] (row-major, or
// column-major [k][16] when a_col_major), b [k][16] row-major, c and d [16][16] row-major.
cudaError_t wmma_product(const float* a, const float* b, const float* c, int k, bool a_col_major,
                         float* d, cudaStream_t stream);

// WMMA misuse by a warp over [16][16] floats at `matrix` (+ 1 float: misaligned): 0 a pointer
// not 256-bit aligned; 1 a leading dimension of 6 floats; 2 lane 31 returns before a load;
// 3 lanes pass different pointers; 4 an accumulator read before it is loaded or filled.
cudaError_t wmma_faulty(int which, float* matrix, cudaStream_t stream);

// d = the 16 x 16 identity times b, with the identity written into an a fragment element by
// element by a kernel that assumes the sm_80 lane layout (a bug the emulator must expose).
cudaError_t wmma_assumed_layout(const float* b, float* d, cudaStream_t stream);

// out[b * n + i] = in[b * n + n - 1 - i] through n floats of dynamic shared memory a block.
cudaError_t reverse_dynamic(const float* in, float* out, int blocks, int n, cudaStream_t stream);
// The same kernel's cudaFuncSetAttribute(MaxDynamicSharedMemorySize, bytes).
cudaError_t allow_reverse_dynamic(int bytes);

}  // namespace emu_test

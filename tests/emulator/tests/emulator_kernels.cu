// The emulator's test kernels: ordinary CUDA, compiled against cuda_emu like kernels/*.cu.
#include <curand_kernel.h>
#include <mma.h>

#include "emulator_kernels.cuh"

namespace emu_test {
namespace {

template <class... Params, class... Args>
cudaError_t launch(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
                   cudaStream_t stream, Args... args) {
  return cuda_emu::launch_kernel({name, grid, block, 0, stream}, kernel, args...);
}

__global__ void reverse_kernel(const float* in, float* out, int n) {
  __shared__ float tile[256];
  const int t = static_cast<int>(threadIdx.x);
  const long long base = static_cast<long long>(blockIdx.x) * n;
  tile[t] = in[base + t];
  __syncthreads();
  out[base + t] = tile[n - 1 - t];
}

__global__ void warp_kernel(int which, double* out) {
  const int t = static_cast<int>(threadIdx.x);
  const unsigned full = 0xFFFFFFFFu;
  double value = 0;
  switch (which) {
    case 0:
      value = __shfl_down_sync(full, t, 1);
      break;
    case 1:
      value = __shfl_up_sync(full, t, 3);
      break;
    case 2:
      value = __shfl_xor_sync(full, t, 5);
      break;
    case 3:
      value = __shfl_sync(full, t, 7);
      break;
    case 4:
      value = __shfl_down_sync(full, t, 2, 16);
      break;
    case 5:
      value = static_cast<double>(__ballot_sync(full, t % 3 == 0));
      break;
    case 6: {
      const unsigned half = (t % 32) < 16 ? 0x0000FFFFu : 0xFFFF0000u;
      value = __shfl_down_sync(half, t, 1, 16);
      break;
    }
    case 7:
      value = __shfl_down_sync(full, 0.25 + t, 16);
      break;
  }
  out[t] = value;
}

__global__ void faulty_kernel(int which, float* out) {
  const int t = static_cast<int>(threadIdx.x);
  __shared__ float tile[64];
  float value = static_cast<float>(t);
  switch (which) {
    case 0:
      if (t == 0) return;
      tile[t] = value;
      __syncthreads();
      break;
    case 1:
      if (t % 2 == 0) {
        __syncthreads();
      } else {
        __syncthreads();
      }
      break;
    case 2:
      if (t == 31) return;
      value = __shfl_down_sync(0xFFFFFFFFu, value, 1);
      break;
    case 3:
      value = __shfl_down_sync(0x0000FFFFu, value, 1);  // lanes 16-31 are not in their own mask
      break;
    case 4:
      if (t < 16) value = __shfl_sync(0x0000FFFFu, value, 20);  // lane 20 is outside the mask
      break;
    case 5:
      if (t < 32)
        __syncthreads();
      else
        value = __shfl_down_sync(0xFFFFFFFFu, value, 1);
      break;
  }
  out[t] = value;
}

__global__ void unwritten_shared_kernel(float* out) {
  __shared__ float floats[64];
  __shared__ int ints[64];
  const int t = static_cast<int>(threadIdx.x);
  out[2 * t] = floats[t];
  out[2 * t + 1] = static_cast<float>(ints[t]);
}

__global__ void order_kernel(unsigned* counter, unsigned* order) {
  order[blockIdx.x] = atomicAdd(counter, 1u);
}

__global__ void atomics_kernel(int* counter, float* sum) {
  atomicAdd(counter, 1);
  atomicAdd(sum, 0.5f);
}

__global__ void add_kernel(int* value, int step) {
  if (threadIdx.x == 0) value[0] += step;
}

__global__ void spin_kernel(int* flag) {
  while (atomicAdd(flag, 0) == 0) {
  }
}

__global__ void curand_kernel(std::uint64_t seed, const unsigned long long* subsequence,
                              const unsigned long long* offset, int n, unsigned* out) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i >= n) return;
  curandStatePhilox4_32_10_t state;
  curand_init(seed, subsequence[i], offset[i], &state);
  const uint4 words = curand4(&state);
  out[4 * i] = words.x;
  out[4 * i + 1] = words.y;
  out[4 * i + 2] = words.z;
  out[4 * i + 3] = words.w;
}

__global__ void coordinates_kernel(int* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  int* mine = out + 12 * (block * blockDim.x * blockDim.y * blockDim.z + thread);
  const unsigned values[12] = {threadIdx.x, threadIdx.y, threadIdx.z, blockIdx.x,
                               blockIdx.y,  blockIdx.z,  blockDim.x,  blockDim.y,
                               blockDim.z,  gridDim.x,   gridDim.y,   gridDim.z};
  for (int i = 0; i < 12; ++i)
    mine[i] = static_cast<int>(values[i]);
}

namespace wmma = nvcuda::wmma;
using AccumulatorFragment = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
using BFragment = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;

template <class ALayout>
__global__ void wmma_product_kernel(const float* a, const float* b, const float* c, int k,
                                    float* d) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, ALayout> a_part;
  BFragment b_part;
  AccumulatorFragment sum;
  wmma::load_matrix_sync(sum, c, 16, wmma::mem_row_major);
  for (int k0 = 0; k0 < k; k0 += 8) {
    if constexpr (std::is_same_v<ALayout, wmma::row_major>)
      wmma::load_matrix_sync(a_part, a + k0, static_cast<unsigned>(k));
    else
      wmma::load_matrix_sync(a_part, a + k0 * 16, 16);
    wmma::load_matrix_sync(b_part, b + k0 * 16, 16);
    for (int e = 0; e < a_part.num_elements; ++e)
      a_part.x[e] = wmma::__float_to_tf32(a_part.x[e]);
    wmma::mma_sync(sum, a_part, b_part, sum);
  }
  wmma::store_matrix_sync(d, sum, 16, wmma::mem_row_major);
}

__global__ void wmma_faulty_kernel(int which, float* matrix) {
  AccumulatorFragment sum;
  const int lane = static_cast<int>(threadIdx.x % 32);
  switch (which) {
    case 0:
      wmma::load_matrix_sync(sum, matrix + 1, 16, wmma::mem_row_major);
      break;
    case 1:
      wmma::load_matrix_sync(sum, matrix, 6, wmma::mem_row_major);
      break;
    case 2:
      if (lane == 31) return;
      wmma::load_matrix_sync(sum, matrix, 16, wmma::mem_row_major);
      break;
    case 3:
      wmma::load_matrix_sync(sum, matrix + (lane == 5 ? 16 : 0), 16, wmma::mem_row_major);
      break;
    case 4:
      break;
  }
  wmma::store_matrix_sync(matrix, sum, 16, wmma::mem_row_major);
}

// The sm_80 layout of an m16n8k8 TF32 A fragment, as a kernel might hard-code it.
__global__ void wmma_assumed_layout_kernel(const float* b, float* d) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> identity;
  BFragment b_part;
  AccumulatorFragment sum;
  wmma::fill_fragment(sum, 0.0f);
  const int lane = static_cast<int>(threadIdx.x % 32);
  for (int k0 = 0; k0 < 16; k0 += 8) {
    for (int e = 0; e < identity.num_elements; ++e) {
      const int row = lane / 4 + 8 * (e % 2), col = lane % 4 + 4 * (e / 2);
      identity.x[e] = row == k0 + col ? 1.0f : 0.0f;
    }
    wmma::load_matrix_sync(b_part, b + k0 * 16, 16);
    wmma::mma_sync(sum, identity, b_part, sum);
  }
  wmma::store_matrix_sync(d, sum, 16, wmma::mem_row_major);
}

__global__ void reverse_dynamic_kernel(const float* in, float* out, int n) {
  float* tile = static_cast<float*>(cuda_emu::dynamic_shared_memory());
  const long long base = static_cast<long long>(blockIdx.x) * n;
  for (int i = static_cast<int>(threadIdx.x); i < n; i += static_cast<int>(blockDim.x))
    tile[i] = in[base + i];
  __syncthreads();
  for (int i = static_cast<int>(threadIdx.x); i < n; i += static_cast<int>(blockDim.x))
    out[base + i] = tile[n - 1 - i];
}

}  // namespace

cudaError_t wmma_product(const float* a, const float* b, const float* c, int k, bool a_col_major,
                         float* d, cudaStream_t stream) {
  if (a_col_major)
    return launch("wmma_product", wmma_product_kernel<wmma::col_major>, 1, 32, stream, a, b, c, k,
                  d);
  return launch("wmma_product", wmma_product_kernel<wmma::row_major>, 1, 32, stream, a, b, c, k, d);
}

cudaError_t wmma_faulty(int which, float* matrix, cudaStream_t stream) {
  return launch("faulty", wmma_faulty_kernel, 1, 32, stream, which, matrix);  // one warp
}

cudaError_t wmma_assumed_layout(const float* b, float* d, cudaStream_t stream) {
  return launch("wmma_assumed_layout", wmma_assumed_layout_kernel, 1, 32, stream, b, d);
}

cudaError_t reverse_dynamic(const float* in, float* out, int blocks, int n, cudaStream_t stream) {
  return cuda_emu::launch_kernel({"reverse_dynamic", dim3(static_cast<unsigned>(blocks)), dim3(128),
                                  static_cast<std::size_t>(n) * sizeof(float), stream},
                                 reverse_dynamic_kernel, in, out, n);
}

cudaError_t allow_reverse_dynamic(int bytes) {
  return cudaFuncSetAttribute(reverse_dynamic_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              bytes);
}

cudaError_t reverse_blocks(const float* in, float* out, int blocks, int n, cudaStream_t stream) {
  return launch("reverse", reverse_kernel, dim3(static_cast<unsigned>(blocks)),
                dim3(static_cast<unsigned>(n)), stream, in, out, n);
}

cudaError_t warp_ops(int which, double* out, cudaStream_t stream) {
  return launch("warp_ops", warp_kernel, dim3(1), dim3(64), stream, which, out);
}

cudaError_t faulty(int which, float* out, cudaStream_t stream) {
  return launch("faulty", faulty_kernel, dim3(1), dim3(64), stream, which, out);
}

cudaError_t read_unwritten_shared(float* out, cudaStream_t stream) {
  return launch("read_unwritten_shared", unwritten_shared_kernel, dim3(1), dim3(64), stream, out);
}

cudaError_t block_order(int blocks, unsigned* counter, unsigned* order, cudaStream_t stream) {
  return launch("block_order", order_kernel, dim3(static_cast<unsigned>(blocks)), dim3(1), stream,
                counter, order);
}

cudaError_t atomics(int blocks, int* counter, float* sum, cudaStream_t stream) {
  return launch("atomics", atomics_kernel, dim3(static_cast<unsigned>(blocks)), dim3(128), stream,
                counter, sum);
}

cudaError_t add(int* value, int step, cudaStream_t stream) {
  return launch("add", add_kernel, dim3(1), dim3(32), stream, value, step);
}

cudaError_t spin(int* flag, cudaStream_t stream) {
  return launch("spin", spin_kernel, dim3(1), dim3(1), stream, flag);
}

cudaError_t curand_words(std::uint64_t seed, const unsigned long long* subsequence,
                         const unsigned long long* offset, int n, unsigned* out,
                         cudaStream_t stream) {
  return launch("curand_words", curand_kernel, dim3(static_cast<unsigned>((n + 63) / 64)), dim3(64),
                stream, seed, subsequence, offset, n, out);
}

cudaError_t coordinates(dim3 grid, dim3 block, int* out, cudaStream_t stream) {
  return launch("coordinates", coordinates_kernel, grid, block, stream, out);
}

}  // namespace emu_test

// Column moments and standardization of rows resident on the device (the synthetic data).
//
// Pointers (device memory the CUDA engine owns; declared in rows.cuh): x [rows][cols] row-major,
// standardized in place; mean, std, scale [cols] (double).
// Napkin math: moments 3 FLOPs and 4 bytes read per value, standardization 2 FLOPs and 8 bytes:
// the seed study's 20,000 x 30 training rows are 0.6 M values, 2.4 MB: a few us, once a run.
// CPU reference: Standardizer::fit and apply (host/data/standardizer.cpp). Test:
// tests/gpu/test_gpu_engine.cpp, GpuEngine.DeviceSyntheticSplitsAreTheCpuGeneratorsSplits.
#include "cuda_check.cuh"
#include "launch.cuh"
#include "rows.cuh"

namespace vaead::cuda {
namespace {

// One block per column.
__global__ void column_moments_kernel(const float* x, int rows, int cols, double* mean,
                                      double* std) {
  __shared__ double shared[kBlock];
  const int c = static_cast<int>(blockIdx.x);
  double sum = 0.0;
  for (int r = static_cast<int>(threadIdx.x); r < rows; r += kBlock)
    sum += x[static_cast<long long>(r) * cols + c];
  const double column_mean = block_sum(sum, shared) / rows;
  double squares = 0.0;
  for (int r = static_cast<int>(threadIdx.x); r < rows; r += kBlock) {
    const double deviation = x[static_cast<long long>(r) * cols + c] - column_mean;
    squares += deviation * deviation;
  }
  const double column_std = sqrt(block_sum(squares, shared) / rows);
  if (threadIdx.x == 0) {
    mean[c] = column_mean;
    std[c] = column_std;
  }
}

__global__ void standardize_kernel(float* x, long long count, int cols, const double* mean,
                                   const double* scale) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  const int c = static_cast<int>(i % cols);
  x[i] = static_cast<float>((x[i] - mean[c]) / scale[c]);
}

}  // namespace

void column_moments(const float* x, int rows, int cols, double* mean, double* std,
                    cudaStream_t stream) {
  launch("column_moments", column_moments_kernel, static_cast<unsigned>(cols), kBlock, stream, x,
         rows, cols, mean, std);
}

void standardize(float* x, int rows, int cols, const double* mean, const double* scale,
                 cudaStream_t stream) {
  const long long count = static_cast<long long>(rows) * cols;
  launch("standardize", standardize_kernel, blocks_for(count), kBlock, stream, x, count, cols, mean,
         scale);
}

}  // namespace vaead::cuda

// The synthetic generator on the device: the loadings, the normal rows of each split and the
// planted anomalies, each value the same pure function of (seed, split, row, column) as on the CPU.
//
// Pointers (device memory the CUDA engine owns; declared in synthetic.cuh): loadings
// [factors][features]; rows [rows][features] row-major, one split of one data slot; kinds [rows];
// std [features] (double, the training rows' standard deviations).
// Napkin math: per value ~factors + 1 normal draws (Philox and Box-Muller) and ~2 x factors FLOPs:
// the seed study's 30,000 x 30 rows are ~6 M draws, once a run.
// CPU reference: the same row functions (hostdevice/vaead/synthetic_rows.hpp) called by
// generate_synthetic (host/data/synthetic.cpp). Tests: tests/gpu/test_gpu_synthetic.cpp,
// GpuSynthetic.DeviceRowsAreTheCpuGeneratorsRows and GpuSynthetic.SameSeedSameBitsOnTheDevice.
#include "cuda_check.cuh"
#include "curand_philox.cuh"
#include "launch.cuh"
#include "synthetic.cuh"

namespace vaead::cuda {
namespace {

__global__ void loadings_kernel(synthetic::Params params, float* w) {
  const unsigned index = blockIdx.x * blockDim.x + threadIdx.x;
  if (index >= params.factors * params.features) return;
  w[index] =
      synthetic::loading<DeviceRng>(params, index / params.features, index % params.features);
}

// One thread per element: it redraws the row's ceil(k / 4) latent blocks, which is cheaper than
// sharing them (a Philox call is ~40 integer instructions).
__global__ void normal_rows_kernel(synthetic::Params params, const float* w, std::uint32_t split,
                                   long long count, float* x) {
  const long long index = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (index >= count) return;
  const auto row = static_cast<std::uint32_t>(index / params.features);
  const auto j = static_cast<std::uint32_t>(index % params.features);
  x[index] = synthetic::normal_value<DeviceRng>(params, w, split, row, j);
}

__global__ void assign_kinds_kernel(const unsigned* order, int rows, int first, int second,
                                    int third, std::uint8_t* kinds) {
  const int position = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (position >= rows) return;
  AnomalyKind kind = AnomalyKind::none;
  if (position < first)
    kind = AnomalyKind::mean_shift;
  else if (position < first + second)
    kind = AnomalyKind::correlation_break;
  else if (position < first + second + third)
    kind = AnomalyKind::variance_explosion;
  kinds[order[position]] = static_cast<std::uint8_t>(kind);
}

__global__ void plant_kernel(synthetic::Params params, const std::uint8_t* kinds,
                             const double* sigma, int rows, float* x) {
  const int row = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (row >= rows || kinds[row] == static_cast<std::uint8_t>(AnomalyKind::none)) return;
  synthetic::plant_anomaly<DeviceRng>(params, static_cast<AnomalyKind>(kinds[row]),
                                      static_cast<std::uint32_t>(row), sigma,
                                      x + static_cast<long long>(row) * params.features);
}

}  // namespace

void synthetic_loadings(const synthetic::Params& params, float* w, cudaStream_t stream) {
  launch("synthetic_loadings", loadings_kernel,
         blocks_for(static_cast<long long>(params.factors) * params.features), kBlock, stream,
         params, w);
}

void synthetic_normal_rows(const synthetic::Params& params, const float* w, std::uint32_t split,
                           int rows, float* x, cudaStream_t stream) {
  const long long count = static_cast<long long>(rows) * params.features;
  launch("synthetic_normal_rows", normal_rows_kernel, blocks_for(count), kBlock, stream, params, w,
         split, count, x);
}

void assign_anomaly_kinds(const unsigned* order, int rows, std::array<int, 3> counts,
                          std::uint8_t* kinds, cudaStream_t stream) {
  launch("assign_anomaly_kinds", assign_kinds_kernel, blocks_for(rows), kBlock, stream, order, rows,
         counts[0], counts[1], counts[2], kinds);
}

void plant_anomalies(const synthetic::Params& params, const std::uint8_t* kinds,
                     const double* sigma, int rows, float* x, cudaStream_t stream) {
  launch("plant_anomalies", plant_kernel, blocks_for(rows), kBlock, stream, params, kinds, sigma,
         rows, x);
}

}  // namespace vaead::cuda

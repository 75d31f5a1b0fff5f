// Launchers of the device synthetic generator: the same element functions as the CPU generator
// (hostdevice/vaead/synthetic_rows.hpp), so both draw the same rows.
#pragma once

#include <cuda_runtime_api.h>

#include <array>
#include <cstdint>

#include "vaead/synthetic_rows.hpp"

namespace vaead::cuda {

// w[a][j] = loading(a, j).   w: [factors][features]
void synthetic_loadings(const synthetic::Params& params, float* w, cudaStream_t stream);

// x[r][j] = normal_value(split, r, j).   x: [rows][features]
void synthetic_normal_rows(const synthetic::Params& params, const float* w, std::uint32_t split,
                           int rows, float* x, cudaStream_t stream);

// kinds[order[p]] = the kind of sorted position p: the first counts[0] positions are mean shifts,
// the next counts[1] correlation breaks, the next counts[2] variance explosions, the rest normal.
void assign_anomaly_kinds(const unsigned* order, int rows, std::array<int, 3> counts,
                          std::uint8_t* kinds, cudaStream_t stream);

// plant_anomaly on every test row whose kind is not normal.   sigma: [features] (training std)
void plant_anomalies(const synthetic::Params& params, const std::uint8_t* kinds,
                     const double* sigma, int rows, float* x, cudaStream_t stream);

}  // namespace vaead::cuda

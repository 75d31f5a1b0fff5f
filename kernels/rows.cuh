// Launchers over whole rows: gathering a batch, scoring, column moments and standardization.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "training_state.cuh"

namespace vaead::cuda {

// Where each of several models finds its rows: model m's data is `rows` + data[m] * data_stride
// and its shuffle `order` + order[m] * order_stride (null slot arrays: slot 0 for every model).
struct DataSlots {
  int models = 1;
  const int* data = nullptr;   // device, [models]
  const int* order = nullptr;  // device, [models]
  long long data_stride = 0, order_stride = 0;
};

// batch[m][r][j] = rows_m[order_m[state[m].step_in_epoch * batch_size + r]][j], r < batch_rows.
void gather_batch(const float* rows, const unsigned* order, const StepState* state, int batch_size,
                  int batch_rows, int features, float* batch, cudaStream_t stream,
                  const DataSlots& slots = {});

// chunk[m][r][j] = rows_m[first + r][j] for r < chunk_rows: the rows each model scores.
void gather_chunk(const float* rows, const DataSlots& slots, std::size_t first, int chunk_rows,
                  int features, float* chunk, cudaStream_t stream);

// scores[r] = reconstruction_score of row r (vaead/scorer.hpp), with per_feature[r][j] the
// feature's squared error when per_feature is not null.
void reconstruction_scores(const float* x, const float* x_hat, int rows, int features,
                           float* scores, float* per_feature, cudaStream_t stream);

// mean[c] and population std[c] of each column, in double, two passes (as the CPU's).
void column_moments(const float* x, int rows, int cols, double* mean, double* std,
                    cudaStream_t stream);

// x = (x - mean) / scale, in place.
void standardize(float* x, int rows, int cols, const double* mean, const double* scale,
                 cudaStream_t stream);

}  // namespace vaead::cuda

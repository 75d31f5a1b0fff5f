// Timing device work: `calls` back-to-back launches between two events, after a warm-up, and the
// median over repeats of the seconds per call.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "bench_support.hpp"

namespace vaead::bench {

inline void check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(status));
  std::exit(1);
}

template <class Work>
double seconds_per_call(Work&& work, cudaStream_t stream, int calls = 20, int repeats = 5) {
  for (int w = 0; w < 3; ++w)
    work();
  check(cudaStreamSynchronize(stream), "warm-up");
  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  std::vector<double> seconds;
  for (int r = 0; r < repeats; ++r) {
    check(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int c = 0; c < calls; ++c)
      work();
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "timed work");
    float ms = 0.0f;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    seconds.push_back(1e-3 * ms / calls);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return median(seconds);
}

}  // namespace vaead::bench

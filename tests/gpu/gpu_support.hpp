// GPU tests run only where a CUDA device answers; elsewhere they are skipped, never failed. The
// check runs inside each test, never at static initialization or test discovery.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <vector>

#include "device_buffer.cuh"

namespace vaead::testing {

inline bool cuda_device_available() {
  int count = 0;
  const bool found = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  cudaGetLastError();  // clear the error of a machine without a driver
  return found;
}

// Copies `host` into a new device buffer (synchronously).
template <class T>
cuda::DeviceBuffer<T> to_device(const std::vector<T>& host) {
  cuda::DeviceBuffer<T> buffer(host.size());
  buffer.upload(host.data(), host.size(), nullptr);
  CUDA_CHECK(cudaStreamSynchronize(nullptr));
  return buffer;
}

}  // namespace vaead::testing

#define VAEAD_REQUIRE_GPU()                                     \
  do {                                                          \
    if (!::vaead::testing::cuda_device_available())             \
      GTEST_SKIP() << "no CUDA device answers on this machine"; \
  } while (0)

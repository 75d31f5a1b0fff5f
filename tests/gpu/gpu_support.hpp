// GPU tests run where a CUDA device answers: a GPU, or the CPU emulator of the emulated build
// (VAEAD_CUDA_EMULATOR=ON). Elsewhere they skip, unless VAEAD_REQUIRE_GPU=1 is set (as
// bench/device_check.sh does on a GPU machine): then a missing device fails every GPU test. The
// check runs inside each test, never at static initialization or test discovery.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "device_buffer.cuh"
#include "vaead/train/engine.hpp"

namespace vaead::testing {

// True in the emulated build, where the kernels run on the CPU: tests may use smaller shapes.
#if defined(VAEAD_CUDA_EMULATED)
inline constexpr bool kEmulated = true;
#else
inline constexpr bool kEmulated = false;
#endif

inline bool cuda_device_available() {
  int count = 0;
  const bool found = cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
  cudaGetLastError();  // clear the error of a machine without a driver
  return found;
}

inline bool gpu_required() {
  const char* value = std::getenv("VAEAD_REQUIRE_GPU");
  return value != nullptr && *value != '\0' && std::strcmp(value, "0") != 0;
}

// The CUDA training path the engine and sweep tests run on: fp32 (the tiled kernels) unless
// VAEAD_TEST_GPU_MATH names tf32 or 3xtf32 (the fused step); ctest runs them once more on
// 3xtf32 (GpuTests.OnTheFusedPath).
inline GpuMath gpu_math_under_test() {
  const char* value = std::getenv("VAEAD_TEST_GPU_MATH");
  return value == nullptr ? GpuMath::fp32 : gpu_math_named(value).value_or(GpuMath::fp32);
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

#define VAEAD_REQUIRE_GPU()                                                              \
  do {                                                                                   \
    if (!::vaead::testing::cuda_device_available()) {                                    \
      if (::vaead::testing::gpu_required())                                              \
        FAIL() << "VAEAD_REQUIRE_GPU is set and no CUDA device answers on this machine"; \
      GTEST_SKIP() << "no CUDA device answers on this machine";                          \
    }                                                                                    \
  } while (0)

// CUDA_CHECK: every CUDA call and every launch is checked; a failure throws with the call, the
// file and the line, and the runtime's own words.
#pragma once

#include <cuda_runtime_api.h>

#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace vaead::cuda {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The device's memory is full: a std::bad_alloc (what the host's allocator throws), so that a
// caller that can make do with less (a sweep's wave) catches one type for both.
class DeviceOutOfMemory : public std::bad_alloc {
 public:
  explicit DeviceOutOfMemory(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

inline void check(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  if (status == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();  // not sticky: the next launch's check must not see it
    throw DeviceOutOfMemory(std::string("CUDA error: ") + call + " failed at " + file + ":" +
                            std::to_string(line) + ": out of device memory");
  }
  throw CudaError(std::string("CUDA error: ") + call + " failed at " + file + ":" +
                  std::to_string(line) + ": " + cudaGetErrorName(status) + " (" +
                  cudaGetErrorString(status) + ")");
}

// The launch check of `kernel` (see launch.cuh).
inline void check_launch(cudaError_t status, const char* kernel) {
  if (status == cudaSuccess) return;
  throw CudaError(std::string("CUDA error: kernel ") + kernel +
                  " failed: " + cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

// Host-side preconditions of a launcher; the message names the value.
inline void check_argument(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument(message);
}

}  // namespace vaead::cuda

#define CUDA_CHECK(call) ::vaead::cuda::check((call), #call, __FILE__, __LINE__)

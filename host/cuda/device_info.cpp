// Device discovery for `vaead info` and the engine choice. Called only on request, never from a
// static initializer, so a machine without a GPU (or without a driver) pays nothing and sees no
// error.
#include <cuda_runtime.h>

#include <string>

#include "vaead/train/device.hpp"
#include "vaead/util/error.hpp"

namespace vaead {

CudaStatus query_cuda() {
  CudaStatus status;
  status.built = true;
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    status.reason = error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver
                        ? std::string("no CUDA device")
                        : std::string("no CUDA device (") + cudaGetErrorString(error) + ")";
    cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return status;
  }
  for (int index = 0; index < count; ++index) {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, index) != cudaSuccess) continue;
    status.devices.push_back(DeviceInfo{index, properties.name, properties.major, properties.minor,
                                        properties.totalGlobalMem, properties.multiProcessorCount});
  }
  if (status.devices.empty()) status.reason = "no CUDA device";
  return status;
}

void select_cuda_device(int index) {
  const cudaError_t error = cudaSetDevice(index);
  if (error != cudaSuccess) {
    cudaGetLastError();
    throw InputError("CUDA device " + std::to_string(index) + ": " + cudaGetErrorString(error));
  }
}

}  // namespace vaead

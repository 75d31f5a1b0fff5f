// device.hpp for builds without the CUDA library.
#include "vaead/train/device.hpp"

#include <string>

#include "vaead/util/error.hpp"

namespace vaead {

CudaStatus query_cuda() {
  return {false, {}, "this build has no CUDA support (nvcc was not found)"};
}

void select_cuda_device(int index) {
  throw InputError("CUDA device " + std::to_string(index) +
                   ": this build has no CUDA support (nvcc was not found)");
}

}  // namespace vaead

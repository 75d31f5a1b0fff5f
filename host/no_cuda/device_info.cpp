// device.hpp for builds without the CUDA library.
#include "vaead/device.hpp"

namespace vaead {

CudaStatus query_cuda() {
  return {false, {}, "this build has no CUDA support (nvcc was not found)"};
}

}  // namespace vaead

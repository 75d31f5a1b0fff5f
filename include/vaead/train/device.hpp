// What CUDA this build and this machine offer. Nothing here is touched at static initialization.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace vaead {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  std::size_t memory_bytes = 0;
  int multiprocessors = 0;
};

struct CudaStatus {
  bool built = false;               // the CUDA library is part of this build
  std::vector<DeviceInfo> devices;  // empty when none answers
  std::string reason;               // why there are none ("no CUDA device", the runtime's error)
};

// Queries the CUDA runtime (when built) for its devices.
CudaStatus query_cuda();

// Makes device `index` the one this thread's CUDA work runs on (an MPI rank's GPU); InputError
// naming the index when the runtime refuses it, or when this build has no CUDA.
void select_cuda_device(int index);

}  // namespace vaead

// cuda_emu: Thrust on its sequential C++ back end (THRUST_DEVICE_SYSTEM=CPP), and the one CUDA
// spelling vaead uses, thrust::cuda::par(allocator).on(stream), mapped onto it. Thrust synchronizes
// with the host, so using it on a capturing stream is refused, as on a GPU.
#pragma once

#if !defined(THRUST_DEVICE_SYSTEM) || THRUST_DEVICE_SYSTEM != THRUST_DEVICE_SYSTEM_CPP
#error "the emulated build compiles Thrust with THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_CPP"
#endif

#include <cuda_runtime_api.h>
#include <thrust/execution_policy.h>

#include <stdexcept>
#include <string>

namespace thrust::cuda {

template <class Allocator>
struct emulated_policy_with_allocator {
  Allocator* allocator;
  auto on(cudaStream_t stream) const {
    if (cuda_emu::refuse_during_capture(stream, "a Thrust algorithm") != cudaSuccess)
      throw std::runtime_error("cuda_emu: Thrust on a capturing stream");
    return thrust::cpp::par(*allocator);
  }
};

struct emulated_policy {
  template <class Allocator>
  emulated_policy_with_allocator<Allocator> operator()(Allocator& allocator) const {
    return {&allocator};
  }
  auto on(cudaStream_t stream) const {
    if (cuda_emu::refuse_during_capture(stream, "a Thrust algorithm") != cudaSuccess)
      throw std::runtime_error("cuda_emu: Thrust on a capturing stream");
    return thrust::cpp::par;
  }
};

inline constexpr emulated_policy par{};

}  // namespace thrust::cuda

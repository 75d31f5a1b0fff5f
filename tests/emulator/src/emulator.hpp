// cuda_emu internals shared by the runtime (runtime.cpp) and the kernel scheduler (scheduler.cpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "cuda_emu/device.hpp"

namespace cuda_emu {

// Records `error` as this host thread's last error and returns it (as every runtime call does).
cudaError_t fail(cudaError_t error);

// A fault inside a kernel (barrier divergence, a bad shuffle, a host pointer argument, ...): the
// message goes to stderr, and the error sticks: every later call returns it until cudaDeviceReset.
cudaError_t fault(const std::string& message);
// The sticky error, cudaSuccess while there is none.
cudaError_t sticky_error();

// One grid, executed now on the calling thread (grids never overlap: one at a time).
cudaError_t run_grid(const LaunchConfig& config, const std::function<void()>& thread_body);

// The seed that orders blocks and threads (VAEAD_EMU_SEED, default 1), for messages.
unsigned long long schedule_seed();

}  // namespace cuda_emu

// The CUDA engine as the host library sees it: defined by host/cuda/ when CUDA is built, by
// host/no_cuda/ (which throws) otherwise. No CUDA type appears here, and nothing but the engine
// factory (host/train/engine.cpp) includes it.
#pragma once

#include <memory>

#include "vaead/train/engine.hpp"

namespace vaead {

// Throw InputError when no CUDA device answers.
std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config);
std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config, const EngineModels& models);

// What the CUDA engine's device memory holds for models of `config` (its widest latent size)
// trained side by side, each on a data slot of its own: bytes per model and bytes for the engine.
// An estimate from the buffers the engine allocates, for sizing a sweep's waves; the engine's own
// allocations stay the truth (a wave that does not fit after all is halved).
CudaFootprint cuda_footprint(const EngineConfig& config, const DataShape& data);
// The device's free memory in bytes (cudaMemGetInfo), 0 without CUDA.
std::size_t cuda_free_memory();

}  // namespace vaead

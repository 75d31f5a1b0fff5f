// The CUDA engine as the host library sees it: defined by host/cuda/ when CUDA is built, by
// host/no_cuda/ (which throws) otherwise. No CUDA type appears here, and nothing but the engine
// factory (host/engine.cpp) includes it.
#pragma once

#include <memory>

#include "vaead/engine.hpp"

namespace vaead {

// Throw InputError when no CUDA device answers.
std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config);
std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config, const EngineModels& models);

}  // namespace vaead

// The CUDA engine's constructor as the host library sees it: defined by host/cuda/ when CUDA is
// built, by host/no_cuda/ (which throws) otherwise.
#pragma once

#include <memory>

#include "vaead/engine.hpp"

namespace vaead {

std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config);

}  // namespace vaead

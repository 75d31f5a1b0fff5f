// make_cuda_engine for builds without CUDA.
#include "cuda/engine_factory.hpp"
#include "vaead/error.hpp"

namespace vaead {

std::unique_ptr<Engine> make_cuda_engine(const EngineConfig&) {
  throw InputError("this build of vaead has no CUDA support (nvcc was not found at build time)");
}

}  // namespace vaead

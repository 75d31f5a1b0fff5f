// The CUDA entry points for builds without CUDA.
#include "cuda/engine_factory.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

[[noreturn]] void no_cuda() {
  throw InputError("this build of vaead has no CUDA support (nvcc was not found at build time)");
}

}  // namespace

std::string cuda_training_path(const EngineConfig&) {
  return "none (no CUDA support in this build)";
}

std::unique_ptr<Engine> make_cuda_engine(const EngineConfig&) {
  no_cuda();
}

std::unique_ptr<Engine> make_cuda_engine(const EngineConfig&, const EngineModels&) {
  no_cuda();
}

CudaFootprint cuda_footprint(const EngineConfig&, const DataShape&) {
  return {};
}

std::size_t cuda_free_memory() {
  return 0;
}

}  // namespace vaead

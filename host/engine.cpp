#include "vaead/engine.hpp"

#include <string>

#include "cpu/cpu_engine.hpp"
#include "vaead/error.hpp"

namespace vaead {

void EngineConfig::validate() const {
  architecture.validate();
  require(batch_size >= 1, "batch size must be at least 1, got " + std::to_string(batch_size));
  require(threads >= 0, "threads must not be negative, got " + std::to_string(threads));
  require(logvar_min < logvar_max, "the logvar clamp needs min < max, got [" +
                                       std::to_string(logvar_min) + ", " +
                                       std::to_string(logvar_max) + "]");
  require(adam.learning_rate > 0, "learning rate must be positive");
  require(adam.beta1 >= 0 && adam.beta1 < 1 && adam.beta2 >= 0 && adam.beta2 < 1,
          "Adam betas must lie in [0, 1)");
  require(adam.epsilon > 0, "Adam epsilon must be positive");
}

std::unique_ptr<Engine> make_engine(EngineKind kind, const EngineConfig& config) {
  switch (kind) {
    case EngineKind::cpu:
      return std::make_unique<cpu::CpuEngine<float>>(config);
    case EngineKind::cuda:
      throw InputError("the CUDA engine is not part of this version of vaead; use the cpu engine");
  }
  throw InputError("unknown engine kind");
}

}  // namespace vaead

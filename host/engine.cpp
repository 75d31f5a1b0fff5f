#include "vaead/engine.hpp"

#include <string>

#include "cpu/cpu_engine.hpp"
#include "cuda/engine_factory.hpp"
#include "vaead/device.hpp"
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

EngineKind resolve_device(DeviceChoice choice) {
  if (choice == DeviceChoice::cpu) return EngineKind::cpu;
  const CudaStatus cuda = query_cuda();
  if (!cuda.devices.empty()) return EngineKind::cuda;
  if (choice == DeviceChoice::cuda)
    throw InputError("--device cuda: " + cuda.reason + "; use --device cpu or auto");
  return EngineKind::cpu;
}

const char* engine_kind_name(EngineKind kind) {
  return kind == EngineKind::cuda ? "cuda" : "cpu";
}

std::unique_ptr<Engine> make_engine(EngineKind kind, const EngineConfig& config) {
  switch (kind) {
    case EngineKind::cpu:
      return std::make_unique<cpu::CpuEngine<float>>(config);
    case EngineKind::cuda:
      return make_cuda_engine(config);
  }
  throw InputError("unknown engine kind");
}

}  // namespace vaead

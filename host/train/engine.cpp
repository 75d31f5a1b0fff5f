#include "vaead/train/engine.hpp"

#include <algorithm>
#include <string>

#include "cpu/cpu_engine.hpp"
#include "cpu/worker_pool.hpp"
#include "cuda/engine_factory.hpp"
#include "vaead/train/device.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/limits.hpp"

namespace vaead {

void EngineConfig::validate() const {
  architecture.validate();
  require_within(threads, 0, limits::kThreads, "threads");
  require_within(batch_size, 1, limits::kBatchSize, "batch size");
  require(logvar_min < logvar_max, "the logvar clamp needs min < max, got [" +
                                       std::to_string(logvar_min) + ", " +
                                       std::to_string(logvar_max) + "]");
  require(adam.learning_rate > 0, "learning rate must be positive");
  require(adam.beta1 >= 0 && adam.beta1 < 1 && adam.beta2 >= 0 && adam.beta2 < 1,
          "Adam betas must lie in [0, 1)");
  require(adam.epsilon > 0, "Adam epsilon must be positive");
}

void require_features(std::size_t cols, const Architecture& architecture, const std::string& what) {
  require(cols == static_cast<std::size_t>(architecture.input_dim),
          what + " have " + std::to_string(cols) + " features, the model expects " +
              std::to_string(architecture.input_dim));
}

void require_step_inputs(const Architecture& architecture, const Matrix& batch, const Matrix* eps) {
  require(batch.cols == static_cast<std::size_t>(architecture.input_dim) && batch.rows > 0,
          "a training batch needs rows of " + std::to_string(architecture.input_dim) + " features");
  require(eps == nullptr || (eps->rows == batch.rows &&
                             eps->cols == static_cast<std::size_t>(architecture.latent_dim)),
          "eps must be batch rows x latent_dim");
}

std::size_t models_that_fit(EngineKind kind, const EngineConfig& config, const DataShape& data,
                            std::size_t count) {
  if (kind != EngineKind::cuda || count <= 1) return count;
  const CudaFootprint footprint = cuda_footprint(config, data);
  // A tenth of the free memory is left for the runtime, CUB's sort and the CUDA graphs.
  const std::size_t usable = cuda_free_memory() / 10 * 9;
  if (footprint.per_model == 0 || usable <= footprint.fixed) return 1;
  return std::clamp<std::size_t>((usable - footprint.fixed) / footprint.per_model, 1, count);
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

const char* gpu_math_name(GpuMath math) {
  switch (math) {
    case GpuMath::tf32:
      return "tf32";
    case GpuMath::tf32x3:
      return "3xtf32";
    case GpuMath::fp32:
      break;
  }
  return "fp32";
}

std::optional<GpuMath> gpu_math_named(std::string_view name) {
  for (const GpuMath math : {GpuMath::fp32, GpuMath::tf32, GpuMath::tf32x3})
    if (name == gpu_math_name(math)) return math;
  return std::nullopt;
}

EpochResult Engine::train_epoch(int epoch, double kl_weight) {
  require(models() == 1, "train_epoch is for an engine of one model; use train_epochs");
  return train_epochs(epoch, std::span<const double>(&kl_weight, 1))[0];
}

ResidentSplits Engine::load_synthetic(const SyntheticConfig& config) {
  return load_synthetic_slots(std::span<const SyntheticConfig>(&config, 1))[0];
}

std::vector<float> Engine::score_resident(ResidentSplit split) {
  require(models() == 1, "score_resident is for an engine of one model; use score_resident_models");
  return score_resident_models(split)[0];
}

void take_node_share(EngineKind kind, int local_rank, int local_size, EngineConfig& config) {
  if (local_size <= 1) return;
  if (kind == EngineKind::cuda)
    select_cuda_device(local_rank % static_cast<int>(query_cuda().devices.size()));
  else if (config.threads == 0)
    config.threads = std::max(1, cpu::available_cores() / local_size);
}

std::unique_ptr<Engine> make_engine(EngineKind kind, const EngineConfig& config) {
  switch (kind) {
    case EngineKind::cpu:
      return std::make_unique<cpu::CpuEngine>(config);
    case EngineKind::cuda:
      return make_cuda_engine(config);
  }
  throw InputError("unknown engine kind");
}

std::unique_ptr<Engine> make_engine(EngineKind kind, const EngineConfig& config,
                                    const EngineModels& models) {
  switch (kind) {
    case EngineKind::cpu:
      return std::make_unique<cpu::CpuEngine>(config, models);
    case EngineKind::cuda:
      return make_cuda_engine(config, models);
  }
  throw InputError("unknown engine kind");
}

}  // namespace vaead

#include "cpu/cpu_engine.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

#include "cpu/worker_pool.hpp"
#include "vaead/util/error.hpp"

namespace vaead::cpu {
namespace {

EngineModels one_model(const EngineConfig& config) {
  return {{ModelSpec{
              .latent_dim = config.architecture.latent_dim, .seed = config.seed, .data_slot = 0}},
          1,
          1};
}

}  // namespace

CpuEngine::CpuEngine(const EngineConfig& config) : CpuEngine(config, one_model(config)) {}

CpuEngine::CpuEngine(const EngineConfig& config, const EngineModels& models)
    : specs_(models.specs), slots_(static_cast<std::size_t>(std::max(models.data_slots, 1))) {
  require(!specs_.empty(), "an engine needs at least one model");
  require(models.data_slots >= 1, "at least one data slot is needed");
  const int cores = config.threads > 0 ? config.threads : available_cores();
  const int wanted = models.concurrency > 0 ? models.concurrency : cores;
  workers_ = std::clamp(wanted, 1, static_cast<int>(specs_.size()));
  EngineConfig model_config = config;
  model_config.threads = std::max(1, cores / workers_);
  for (const ModelSpec& spec : specs_) {
    require(spec.data_slot >= 0 && spec.data_slot < models.data_slots,
            "a model's data slot is out of range: " + std::to_string(spec.data_slot));
    model_config.architecture.latent_dim = spec.latent_dim;
    model_config.seed = spec.seed;
    models_.push_back(std::make_unique<CpuModel<float>>(model_config));
  }
}

void CpuEngine::spread(std::size_t count, const std::function<void(std::size_t)>& work) const {
  const auto workers = std::min<std::size_t>(static_cast<std::size_t>(workers_), count);
  if (workers <= 1) {
    for (std::size_t i = 0; i < count; ++i)
      work(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  const auto worker = [&] {
    for (std::size_t i = next++; i < count && !failed; i = next++) {
      try {
        work(i);
      } catch (...) {
        const std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    }
  };
  {
    std::vector<std::jthread> threads;
    for (std::size_t w = 0; w < workers; ++w)
      threads.emplace_back(worker);
  }
  if (first_error) std::rethrow_exception(first_error);
}

void CpuEngine::settle(std::size_t model) const {
  // More models than workers: only the ones being worked on keep their activations.
  if (models_.size() > static_cast<std::size_t>(workers_)) models_[model]->release_buffers();
}

CpuModel<float>& CpuEngine::only_model() const {
  require(models_.size() == 1, "this call is for an engine of one model");
  return *models_[0];
}

std::vector<float> CpuEngine::parameters_of(int model) const {
  require(model >= 0 && model < models(), "no model " + std::to_string(model));
  return models_[static_cast<std::size_t>(model)]->parameters();
}

OptimizerState CpuEngine::optimizer_state(int model) const {
  require(model >= 0 && model < models(), "no model " + std::to_string(model));
  return models_[static_cast<std::size_t>(model)]->optimizer_state();
}

void CpuEngine::set_optimizer_state(int model, const OptimizerState& state) {
  require(model >= 0 && model < models(), "no model " + std::to_string(model));
  models_[static_cast<std::size_t>(model)]->set_optimizer_state(state);
}

void CpuEngine::set_training_data(const Matrix& rows) {
  require(slots_.size() == 1, "set_training_data gives every model the same rows: one data slot");
  const auto shared = std::make_shared<const Matrix>(rows);
  for (const auto& model : models_)
    model->share_training_data(shared);
  slots_[0].train = shared;
}

std::vector<ResidentSplits> CpuEngine::load_synthetic_slots(
    std::span<const SyntheticConfig> configs) {
  require(configs.size() == slots_.size(), "one configuration per slot");
  std::vector<ResidentSplits> all(configs.size());
  spread(configs.size(), [&](std::size_t s) {
    SyntheticData data = generate_synthetic(configs[s]);
    ResidentSplits& splits = all[s];
    splits.standardizer = Standardizer::fit(data.train.features);
    for (Matrix* rows : {&data.train.features, &data.validation.features, &data.test.features})
      splits.standardizer.apply(*rows);
    Slot& slot = slots_[s];
    slot.train = std::make_shared<const Matrix>(std::move(data.train.features));
    slot.validation = std::move(data.validation.features);
    slot.test = std::move(data.test.features);
    splits.train_rows = slot.train->rows;
    splits.validation_rows = slot.validation.rows;
    splits.test_rows = slot.test.rows;
    splits.test_labels = std::move(data.test.labels);
    splits.test_kinds = std::move(data.test.kinds);
  });
  for (std::size_t m = 0; m < models_.size(); ++m)
    models_[m]->share_training_data(slots_[static_cast<std::size_t>(specs_[m].data_slot)].train);
  return all;
}

std::vector<EpochResult> CpuEngine::train_epochs(int epoch, std::span<const double> kl_weights,
                                                 std::span<const std::uint8_t> frozen) {
  require(kl_weights.size() == models_.size(), "one KL weight per model");
  require(frozen.empty() || frozen.size() == models_.size(), "one frozen flag per model, or none");
  std::vector<EpochResult> results(models_.size());
  spread(models_.size(), [&](std::size_t m) {
    if (!frozen.empty() && frozen[m] != 0) return;
    const auto start = std::chrono::steady_clock::now();
    results[m] = models_[m]->train_epoch(epoch, kl_weights[m]);
    results[m].seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    settle(m);
  });
  return results;
}

std::vector<std::vector<float>> CpuEngine::score_models(const Matrix& rows) {
  std::vector<std::vector<float>> scores(models_.size(), std::vector<float>(rows.rows));
  spread(models_.size(), [&](std::size_t m) {
    models_[m]->score(rows, scores[m], nullptr);
    settle(m);
  });
  return scores;
}

std::vector<std::vector<float>> CpuEngine::score_resident_models(ResidentSplit split) {
  std::vector<std::vector<float>> scores(models_.size());
  spread(models_.size(), [&](std::size_t m) {
    const Slot& slot = slots_[static_cast<std::size_t>(specs_[m].data_slot)];
    const Matrix& rows = split == ResidentSplit::validation ? slot.validation : slot.test;
    require(rows.rows > 0, "score_resident called before load_synthetic");
    scores[m].resize(rows.rows);
    models_[m]->score(rows, scores[m], nullptr);
    settle(m);
  });
  return scores;
}

}  // namespace vaead::cpu

// The CPU engine: the models of an engine spread over the CPU's threads. Each model is a CpuModel
// with its share of the threads; models of the same data slot share its resident rows. A model's
// bits are those of the model alone, for any thread count and any concurrency.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "cpu/cpu_model.hpp"
#include "vaead/train/engine.hpp"

namespace vaead::cpu {

class CpuEngine final : public Engine {
 public:
  explicit CpuEngine(const EngineConfig& config);  // one model with every thread
  CpuEngine(const EngineConfig& config, const EngineModels& models);

  std::string name() const override { return "cpu"; }
  int models() const override { return static_cast<int>(models_.size()); }
  std::vector<float> parameters_of(int model) const override;
  OptimizerState optimizer_state(int model) const override;
  void set_optimizer_state(int model, const OptimizerState& state) override;
  void set_training_data(const Matrix& rows) override;
  std::vector<ResidentSplits> load_synthetic_slots(
      std::span<const SyntheticConfig> configs) override;
  std::size_t training_rows() const override { return models_[0]->training_rows(); }
  std::vector<EpochResult> train_epochs(int epoch, std::span<const double> kl_weights,
                                        std::span<const std::uint8_t> frozen = {}) override;
  std::vector<std::vector<float>> score_models(const Matrix& rows) override;
  std::vector<std::vector<float>> score_resident_models(ResidentSplit split) override;

  // One model: the CpuModel's own.
  const ParameterLayout& layout() const override { return models_[0]->layout(); }
  void set_parameters(std::span<const float> values) override {
    only_model().set_parameters(values);
  }
  std::vector<float> gradients() const override { return only_model().gradients(); }
  LossParts train_step(const Matrix& batch, const Matrix* eps, double kl_weight) override {
    return only_model().train_step(batch, eps, kl_weight);
  }
  void score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) override {
    only_model().score(rows, scores, per_feature);
  }

  // Models trained at once, and the threads of each.
  int workers() const { return workers_; }

 private:
  // A resident data set: training rows shared by its models, validation and test rows.
  struct Slot {
    std::shared_ptr<const Matrix> train;
    Matrix validation, test;
  };
  // work(i) for i in [0, count), spread over the workers; the first exception is rethrown once
  // every worker has stopped.
  void spread(std::size_t count, const std::function<void(std::size_t)>& work) const;
  CpuModel<float>& only_model() const;
  // After model m's turn (an epoch, a scoring): frees its activations when it waits for the next
  // turn behind other models, so memory follows the workers, not the models.
  void settle(std::size_t model) const;

  std::vector<ModelSpec> specs_;
  int workers_ = 1;
  std::vector<std::unique_ptr<CpuModel<float>>> models_;
  std::vector<Slot> slots_;
};

}  // namespace vaead::cpu

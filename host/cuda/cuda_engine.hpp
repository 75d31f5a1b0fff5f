// The CUDA engine: parameters, optimizer state and data resident on the device; a training step
// is a fixed sequence of kernels with no host synchronisation, captured once in a CUDA graph and
// replayed for every batch of an epoch.
//
// One engine trains one model (the Engine interface) or several side by side in the same kernels
// (a sweep): the model index is a launch dimension of every kernel, each model has its own slice of
// every buffer, its own seed (initial parameters, shuffles, noise) and KL weight, and its own data
// set among the resident ones. Latent sizes are padded to the largest: the padded latents have
// zero weights, zero noise and zero gradients, so a padded model computes exactly what the model
// alone computes (sums gain only exact zeros).
#pragma once

#include <cuda_runtime_api.h>

#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "auc.cuh"
#include "cuda/fused_layout.hpp"
#include "dense.cuh"
#include "device_buffer.cuh"
#include "permutation.cuh"
#include "rows.cuh"
#include "training_state.cuh"
#include "vaead/model/network_plan.hpp"
#include "vaead/train/engine.hpp"

namespace vaead::cuda {

class CudaEngine final : public Engine {
 public:
  explicit CudaEngine(const EngineConfig& config);
  // Models sharing everything in `config` but their latent size and seed (config's latent_dim and
  // seed are not used), on `data_slots` resident data sets.
  CudaEngine(const EngineConfig& config, std::vector<ModelSpec> models, int data_slots);
  ~CudaEngine() override;
  CudaEngine(const CudaEngine&) = delete;
  CudaEngine& operator=(const CudaEngine&) = delete;

  std::string name() const override { return "cuda"; }
  // Every model.
  int models() const override { return models_; }
  std::vector<float> parameters_of(int model) const override;
  OptimizerState optimizer_state(int model) const override;
  void set_optimizer_state(int model, const OptimizerState& state) override;
  void set_training_data(const Matrix& rows) override;
  std::vector<ResidentSplits> load_synthetic_slots(
      std::span<const SyntheticConfig> configs) override;
  std::size_t training_rows() const override { return train_count_; }
  std::vector<EpochResult> train_epochs(int epoch, std::span<const double> kl_weights,
                                        std::span<const std::uint8_t> frozen = {}) override;
  std::vector<std::vector<float>> score_models(const Matrix& rows) override;
  std::vector<std::vector<float>> score_resident_models(ResidentSplit split) override;
  // One segmented sort and pass over every model's scores on the device.
  std::optional<std::vector<Ranking>> rank_last_scores(
      std::span<const std::uint8_t> labels) override;
  // One model (train_step and per-feature scores need exactly one).
  const ParameterLayout& layout() const override { return model_layouts_[0]; }
  void set_parameters(std::span<const float> values) override;
  std::vector<float> gradients() const override;
  LossParts train_step(const Matrix& batch, const Matrix* eps, double kl_weight) override;
  void score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) override;

  // The stream every kernel of the engine runs on.
  cudaStream_t stream() const { return stream_; }
  // How training steps run: "fused tf32", "fused 3xtf32" or "tiled fp32" (with why, when the
  // fused step was asked for and cannot take the network).
  std::string training_path() const;
  // Kernel launches (and copies) in one captured training step of a full batch: 0 before the
  // first epoch captured it.
  std::size_t step_launches() const { return step_launches_; }

 private:
  // The constructor's steps: the device's table of models (seeds, latent sizes, data slots,
  // shuffle orders), every model's initial parameters (padded) and zero optimizer state, and the
  // fused step's packed copy when it serves the network.
  void upload_model_table();
  void initialize_parameters();
  void prepare_fused_copy();
  // load_synthetic_slots' step: slot s drawn, planted and standardized on the device.
  ResidentSplits draw_slot(std::size_t s, const SyntheticConfig& config);
  // train_epochs' step: model m's losses and failure from its step totals and status.
  EpochResult epoch_result(std::size_t m, const TrainingStatus& status, const double* model_totals,
                           double kl_weight, std::size_t full, std::size_t last) const;

  // The plan's buffers for every model, up to `capacity` rows each: [models][rows][width].
  struct Activations {
    std::size_t capacity = 0;
    std::vector<DeviceBuffer<float>> buffers;  // by the plan's buffer index
    DeviceBuffer<double> reconstruction, kl;   // [models][rows]
    DeviceBuffer<float> scores;                // [models][rows]
    float* at(int id) { return buffers[static_cast<std::size_t>(id)].data(); }
  };
  enum class BatchSource { gather, uploaded };
  enum class NoiseSource { drawn, uploaded };
  struct GraphDeleter {
    void operator()(cudaGraphExec_t graph) const;
  };
  using Graph = std::unique_ptr<std::remove_pointer_t<cudaGraphExec_t>, GraphDeleter>;

  void reserve(Activations& act, std::size_t rows);
  void reserve_epoch(std::size_t train_rows);
  void enqueue_forward(Activations& act, const float* x, int rows, const float* eps);
  void enqueue_backward(Activations& act, int rows);
  void enqueue_step(int rows, BatchSource batch, NoiseSource noise);
  void enqueue_fused_step(int rows, BatchSource batch, NoiseSource noise);
  void enqueue_tiled_step(int rows, BatchSource batch, NoiseSource noise);
  void reserve_fused(std::size_t rows);
  TensorMath tensor_math() const {
    return config_.gpu_math == GpuMath::tf32 ? TensorMath::tf32 : TensorMath::tf32x3;
  }
  Graph capture_step(int rows);
  void drop_graphs();
  // scores [models][count] of each model's rows (rows of slot data[m], or shared when slots has
  // no data array); per_feature [count][features] of model 0 when not null.
  void score_device_rows(const float* rows, const DataSlots& slots, std::size_t count,
                         float* scores, float* per_feature);
  std::vector<std::vector<float>> last_scores(std::size_t count) const;
  ModelTable model_table() const;
  std::string describe_gradient(std::size_t model, int padded_index) const;
  DataSlots train_slots() const;
  ModelStrides strides(int rows, int in, int out) const;
  float* weights(const LinearLayout& l) { return params_.data() + l.weight_offset; }
  float* bias(const LinearLayout& l) { return params_.data() + l.bias_offset; }

  EngineConfig config_;
  std::vector<ModelSpec> specs_;
  int models_ = 1, data_slots_ = 1;
  ParameterLayout layout_;                      // padded to the largest latent size
  NetworkPlan plan_;                            // of layout_
  std::vector<ParameterLayout> model_layouts_;  // each model's own
  std::vector<std::uint64_t> order_seeds_;      // one shuffle per distinct seed
  cudaStream_t stream_ = nullptr;
  DeviceBuffer<std::uint64_t> model_seed_;
  DeviceBuffer<int> model_latent_, data_slot_, order_slot_;
  DeviceBuffer<double> kl_weights_;
  DeviceBuffer<int> frozen_;                                          // [models]
  std::vector<int> frozen_host_;                                      // its upload's source
  DeviceBuffer<float> params_, grads_, adam_m_, adam_v_, workspace_;  // [models][layout_.size]
  DeviceBuffer<StepState> state_;                                     // [models]
  DeviceBuffer<TrainingStatus> status_;                               // [models]
  DeviceBuffer<double> step_totals_;  // [models][steps per epoch][2]: reconstruction, KL sums
  std::size_t totals_stride_ = 2;
  Activations train_act_, score_act_;
  DeviceBuffer<float> train_rows_, validation_rows_, test_rows_;  // [slots][rows][features]
  DeviceBuffer<float> scores_;                                    // [models][rows]
  DeviceBuffer<std::uint8_t> test_kinds_;  // [slots][test rows]: AnomalyKind, 0 = normal
  DeviceBuffer<std::uint8_t> labels_;      // [models][rows]: the ranking's labels
  // Where the last scores came from: rows of the caller (false) or the resident test rows.
  bool scored_resident_test_ = false;
  RankingWorkspace ranking_;  // the AUC pass keeps its memory between calls
  std::size_t train_count_ = 0, validation_count_ = 0, test_count_ = 0, scored_count_ = 0;
  DevicePermutation shuffle_;
  DeviceBuffer<unsigned> orders_;  // [distinct seeds][train rows]
  Graph full_step_, last_step_;    // batches of batch_size rows; the partial last batch
  std::size_t step_launches_ = 0;  // nodes of full_step_'s graph
  // The fused step, when it trains: its layout, the parameters packed for it, each block's
  // gradient partials.
  bool fused_ = false;
  FusedLayout fused_layout_;
  DeviceBuffer<long long> packed_index_;  // [layout_.size]
  DeviceBuffer<float> packed_;            // [models][packed_size]; padding stays 0
  DeviceBuffer<float> partials_;          // [models][blocks][packed_size]
};

}  // namespace vaead::cuda

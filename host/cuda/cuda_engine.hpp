// The CUDA engine: parameters, optimizer state and data resident on the device; a training step
// is a fixed sequence of kernels with no host synchronisation, captured once in a CUDA graph and
// replayed for every batch of an epoch.
#pragma once

#include <cuda_runtime_api.h>

#include <memory>
#include <vector>

#include "device_buffer.cuh"
#include "permutation.cuh"
#include "training_state.cuh"
#include "vaead/engine.hpp"

namespace vaead::cuda {

class CudaEngine final : public Engine {
 public:
  explicit CudaEngine(const EngineConfig& config);
  ~CudaEngine() override;
  CudaEngine(const CudaEngine&) = delete;
  CudaEngine& operator=(const CudaEngine&) = delete;

  std::string name() const override { return "cuda"; }
  const ParameterLayout& layout() const override { return layout_; }
  std::vector<float> parameters() const override;
  void set_parameters(std::span<const float> values) override;
  std::vector<float> gradients() const override;
  void set_training_data(const Matrix& rows) override;
  EpochResult train_epoch(int epoch, double kl_weight) override;
  LossParts train_step(const Matrix& batch, const Matrix* eps, double kl_weight) override;
  ResidentSplits load_synthetic(const SyntheticConfig& config) override;
  std::vector<float> score_resident(ResidentSplit split) override;
  std::size_t training_rows() const override { return train_count_; }
  void score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) override;

 private:
  // Device activations for up to `capacity` rows.
  struct Activations {
    std::size_t capacity = 0;
    std::vector<DeviceBuffer<float>> encoder, decoder;  // [rows][out]; decoder.back() is x_hat
    DeviceBuffer<float> mu, logvar_raw, logvar, z, eps, grad_mu, grad_logvar;  // [rows][latent]
    DeviceBuffer<float> grad_a, grad_b;                                        // [rows][widest]
    DeviceBuffer<float> batch;                                                 // [rows][features]
    DeviceBuffer<double> reconstruction, kl;                                   // [rows]
  };
  enum class BatchSource { gather, uploaded };
  enum class NoiseSource { drawn, uploaded };
  struct GraphDeleter {
    void operator()(cudaGraphExec_t graph) const;
  };
  using Graph = std::unique_ptr<std::remove_pointer_t<cudaGraphExec_t>, GraphDeleter>;

  void reserve(Activations& act, std::size_t rows);
  void enqueue_forward(Activations& act, const float* x, int rows, const float* eps);
  void enqueue_backward(Activations& act, const float* x, int rows);
  void enqueue_step(int rows, BatchSource batch, NoiseSource noise);
  Graph capture_step(int rows);
  void drop_graphs();
  void score_device_rows(const float* rows, std::size_t count, float* scores, float* per_feature);
  float* weights(const LinearLayout& l) { return params_.data() + l.weight_offset; }
  float* bias(const LinearLayout& l) { return params_.data() + l.bias_offset; }

  EngineConfig config_;
  ParameterLayout layout_;
  cudaStream_t stream_ = nullptr;
  DeviceBuffer<float> params_, grads_, adam_m_, adam_v_, workspace_;
  DeviceBuffer<StepState> state_;
  DeviceBuffer<TrainingStatus> status_;
  DeviceBuffer<double> step_totals_;  // [steps per epoch][2]: reconstruction and KL sums
  Activations train_act_, score_act_;
  DeviceBuffer<float> train_rows_, validation_rows_, test_rows_, scores_;
  std::size_t train_count_ = 0, validation_count_ = 0, test_count_ = 0;
  DevicePermutation shuffle_;
  Graph full_step_, last_step_;  // batches of batch_size rows; the partial last batch
};

}  // namespace vaead::cuda

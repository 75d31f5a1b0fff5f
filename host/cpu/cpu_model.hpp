// One model trained on the CPU: the reference implementation of the network, short plain loops
// (dense_ops.hpp), sums that matter in double, the same bits for any thread count. Templated on
// the number type: float for use (the CPU engine's models), double for the gradient check.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "cpu/worker_pool.hpp"
#include "vaead/model/network_plan.hpp"
#include "vaead/train/engine.hpp"

namespace vaead::cpu {

template <class T>
class CpuModel {
 public:
  // Rows a slice of the backward pass takes through every layer: its gradients stay in the
  // cache from layer to layer (bench/RESULTS.md, "CPU training on every vendor's cores").
  static constexpr std::size_t kBackwardRows = 2048;
  // `work_per_thread`: see TeamPolicy (tests lower it to run small loops on several threads);
  // `backward_rows`: the rows of a slice of the backward pass (tests vary it: the bits must not).
  explicit CpuModel(const EngineConfig& config, double work_per_thread = TeamPolicy::kWorkPerThread,
                    std::size_t backward_rows = kBackwardRows);

  const ParameterLayout& layout() const { return layout_; }
  std::vector<float> parameters() const;
  // Replaces every parameter and resets the optimizer (moments and step count).
  void set_parameters(std::span<const float> values);
  // As Engine::optimizer_state and set_optimizer_state.
  OptimizerState optimizer_state() const;
  void set_optimizer_state(const OptimizerState& state);
  std::vector<float> gradients() const;
  // Training rows (standardized): a copy, or rows shared with other models.
  void set_training_data(const Matrix& rows);
  void share_training_data(std::shared_ptr<const MatrixT<T>> rows);
  std::size_t training_rows() const { return train_rows_ ? train_rows_->rows : 0; }
  // As Engine::train_epoch and Engine::train_step.
  EpochResult train_epoch(int epoch, double kl_weight);
  LossParts train_step(const Matrix& batch, const Matrix* eps, double kl_weight);
  // As Engine::score.
  void score(const Matrix& rows, std::span<float> scores, Matrix* per_feature);

  // The typed reference interface (tests, gradient check).
  //   x   [rows][input_dim]    eps [rows][latent_dim]; parameters and gradients in layout order.
  std::span<T> parameter_values() { return params_; }
  std::span<const T> gradient_values() const { return grads_; }
  // The loss of one batch, forward only.
  LossParts loss(const T* x, std::size_t rows, const T* eps, double kl_weight);
  // The loss, and its gradient with respect to every parameter into gradient_values().
  LossParts loss_and_gradients(const T* x, std::size_t rows, const T* eps, double kl_weight);
  // One Adam update with the current gradients.
  void adam_update();
  std::int64_t steps_taken() const { return step_; }
  // Frees the activation buffers (the next step or score allocates them again): a model that waits
  // for its turn among many holds only its parameters, optimizer state and gradients.
  void release_buffers();
  int threads() const { return threads_; }

 private:
  void reserve(std::size_t rows);
  void refresh_transposed_weights();
  // The plan's buffer `id` for `rows` rows; x and eps may come from the caller.
  T* buffer(int id, const T* x = nullptr, const T* eps = nullptr);
  void forward(const T* x, std::size_t rows, const T* eps);  // eps == nullptr: z = mu
  void reparameterize(std::size_t r0, std::size_t count, const T* eps);
  // Rows a task of the forward pass takes through the whole network (whole tiles of rows).
  static constexpr std::size_t kForwardRows = 64;
  LossParts loss_parts(const T* x, std::size_t rows, double kl_weight);
  void backward(const T* x, std::size_t rows, const T* eps, double kl_weight);
  void backward_slice(const T* x, std::size_t rows, std::size_t r0, std::size_t count, const T* eps,
                      double kl_weight);
  void reparameterize_backward(const T* grad_z, std::size_t r0, std::size_t count, std::size_t rows,
                               const T* eps, double kl_weight);
  void draw_eps(std::size_t rows, std::int64_t step);
  std::optional<std::size_t> first_non_finite_gradient() const;
  const T* weights(const LinearLayout& l) const { return params_.data() + l.weight_offset; }
  const T* transposed(std::size_t layer_index) const { return transposed_[layer_index].data(); }

  EngineConfig config_;
  ParameterLayout layout_;
  std::vector<const LinearLayout*> layers_;  // buffer order, indexes transposed_
  int threads_ = 1;
  std::size_t backward_rows_;
  std::unique_ptr<WorkerPool> pool_;  // none when threads_ is 1
  WorkerPool* pool() { return pool_.get(); }
  std::vector<T> params_, grads_, adam_m_, adam_v_;
  // Each layer's bias-gradient sums, kept between the backward pass's slices (buffer order).
  std::vector<std::vector<double>> bias_sums_;
  std::int64_t step_ = 0;  // Adam updates taken; also the counter of the eps draws
  std::vector<std::vector<T>> transposed_;
  // The rows of every W^T as (layer, input): the tasks of refresh_transposed_weights.
  std::vector<std::pair<std::size_t, std::size_t>> transpose_rows_;
  std::shared_ptr<const MatrixT<T>> train_rows_;
  NetworkPlan plan_;
  std::size_t capacity_ = 0;
  std::vector<std::vector<T>> buffers_;      // the plan's, [capacity_][width] each
  std::vector<double> reconstruction_, kl_;  // per row
  std::vector<double> kl_terms_;             // [rows][latent]: each latent's share of the KL
};

extern template class CpuModel<float>;
extern template class CpuModel<double>;

}  // namespace vaead::cpu

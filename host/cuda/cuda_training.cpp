// The CUDA engine's training step: forward, backward and Adam enqueued, captured once per batch
// size as a CUDA graph and replayed; an epoch of every model at once.

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "cuda/cuda_engine.hpp"
#include "cuda/latent_padding.hpp"
#include "cuda/sizes.hpp"
#include "cuda_check.cuh"
#include "vae_ops.cuh"
#include "vaead/philox.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace cuda {

// The plan's forward steps; `x` is the batch (or the chunk to score), z = mu without `eps`. A
// step paired with the next (the latent heads) is one launch of both.
void CudaEngine::enqueue_forward(Activations& act, const float* x, int rows, const float* eps) {
  const auto buffer = [&](int id) -> const float* { return id == plan_.x ? x : act.at(id); };
  for (std::size_t i = 0; i < plan_.forward.size(); ++i) {
    const PlanStep& step = plan_.forward[i];
    const LinearLayout& l = step.layer;
    switch (step.op) {
      case PlanOp::dense: {
        SecondHead second;
        if (step.with_next) {
          const PlanStep& next = plan_.forward[++i];
          second = SecondHead{
              .w = weights(next.layer), .bias = bias(next.layer), .y = act.at(next.output)};
        }
        dense_forward(buffer(step.input), rows, l.in, weights(l), bias(l), l.out, step.relu,
                      act.at(step.output), stream_, strides(rows, l.in, l.out), second);
        break;
      }
      case PlanOp::reparameterize:
        reparameterize_forward(
            act.at(plan_.mu), act.at(plan_.logvar_raw), eps, models_ * rows,
            layout_.architecture.latent_dim, static_cast<float>(config_.logvar_min),
            static_cast<float>(config_.logvar_max), act.at(plan_.logvar), act.at(plan_.z), stream_);
        break;
      default:
        throw std::logic_error("a backward step in the forward plan");
    }
  }
}

// The plan's backward steps; grad_x_hat holds dLoss/dx_hat on entry. A step paired with the next
// (the latent heads) is one launch of both (its input gradient: one sum, under the next's mask).
void CudaEngine::enqueue_backward(Activations& act, int rows) {
  for (std::size_t i = 0; i < plan_.backward.size(); ++i) {
    const PlanStep& step = plan_.backward[i];
    const PlanStep* next = step.with_next ? &plan_.backward[++i] : nullptr;
    const LinearLayout& l = step.layer;
    SecondHead second;
    if (next != nullptr)
      second = SecondHead{.w = weights(next->layer),
                          .gy = act.at(next->gradient),
                          .gw = grads_.data() + next->layer.weight_offset,
                          .gb = grads_.data() + next->layer.bias_offset};
    switch (step.op) {
      case PlanOp::dense_params_grad:
        dense_backward_params(act.at(step.gradient), act.at(step.input), rows, l.in, l.out,
                              grads_.data() + l.weight_offset, grads_.data() + l.bias_offset,
                              workspace_.data(), stream_, strides(rows, l.in, l.out), second);
        break;
      case PlanOp::dense_input_grad: {
        const int mask = next != nullptr ? next->mask : step.mask;
        dense_backward_input(act.at(step.gradient), rows, l.out, weights(l), l.in, step.accumulate,
                             mask < 0 ? nullptr : act.at(mask), act.at(step.output), stream_,
                             strides(rows, l.in, l.out), second);
        break;
      }
      case PlanOp::reparameterize_grad:
        reparameterize_backward(
            act.at(step.gradient), act.at(plan_.mu), act.at(plan_.logvar), act.at(plan_.logvar_raw),
            act.at(plan_.eps), models_, rows, layout_.architecture.latent_dim, state_.data(),
            static_cast<float>(config_.logvar_min), static_cast<float>(config_.logvar_max),
            act.at(plan_.grad_mu), act.at(plan_.grad_logvar), stream_);
        break;
      default:
        throw std::logic_error("a forward step in the backward plan");
    }
  }
}

// The fused step: the whole network's forward and backward in one kernel, then each model's loss
// totals (the guard adds the blocks' gradient partials, Adam refreshes the packed parameters).
void CudaEngine::enqueue_fused_step(int rows, BatchSource batch, NoiseSource noise) {
  Activations& act = train_act_;
  const FusedShape& shape = fused_layout_.shape;
  FusedStepArgs args;
  args.packed = packed_.data();
  args.partials = partials_.data();
  args.blocks_per_model = fused_blocks_per_model(rows);
  args.rows = rows;
  if (batch == BatchSource::uploaded) {
    args.batch = act.at(plan_.x);
  } else {
    args.data = train_rows_.data();
    args.order = orders_.data();
    args.slots = train_slots();
    args.batch_size = config_.batch_size;
  }
  if (noise == NoiseSource::uploaded) args.eps = act.at(plan_.eps);
  args.table = model_table();
  args.state = state_.data();
  args.logvar_low = static_cast<float>(config_.logvar_min);
  args.logvar_high = static_cast<float>(config_.logvar_max);
  args.reconstruction = act.reconstruction.data();
  args.kl = act.kl.data();
  fused_step(shape, tensor_math(), args, models_, stream_);
  sum_loss_parts(act.reconstruction.data(), act.kl.data(), models_, rows, state_.data(),
                 step_totals_.data(), totals_stride_, stream_);
}

// One training step of every model, all on `stream_`, nothing waiting on the host.
void CudaEngine::enqueue_step(int rows, BatchSource batch, NoiseSource noise) {
  if (fused_) {
    enqueue_fused_step(rows, batch, noise);
  } else {
    enqueue_tiled_step(rows, batch, noise);
  }
  // The fused step's gradients are summed from its blocks' partials by the guard, and Adam writes
  // the updated parameters into the packed copy the next step reads.
  GradientPartials partials;
  PackedCopy packed;
  if (fused_) {
    const long long packed_size = fused_layout_.shape.packed_size;
    partials = GradientPartials{partials_.data(), fused_blocks_per_model(rows), packed_size,
                                packed_index_.data()};
    packed = PackedCopy{packed_.data(), packed_size, packed_index_.data()};
  }
  check_finite(step_totals_.data(), totals_stride_, grads_.data(), layout_.size, models_,
               latent_padding(layout_), model_latent_.data(), state_.data(), status_.data(),
               stream_, partials);
  const AdamConfig& adam = config_.adam;
  adam_update(params_.data(), grads_.data(), adam_m_.data(), adam_v_.data(), layout_.size, models_,
              AdamHyper{adam.learning_rate, adam.beta1, adam.beta2, adam.epsilon}, state_.data(),
              status_.data(), stream_, packed);
  advance_step(state_.data(), status_.data(), models_, stream_);
}

// The tiled step: the batch gathered, the noise drawn, a launch per layer and pass.
void CudaEngine::enqueue_tiled_step(int rows, BatchSource batch, NoiseSource noise) {
  Activations& act = train_act_;
  const int features = layout_.architecture.input_dim;
  const int latent = layout_.architecture.latent_dim;
  if (batch == BatchSource::gather)
    gather_batch(train_rows_.data(), orders_.data(), state_.data(), config_.batch_size, rows,
                 features, act.at(plan_.x), stream_, train_slots());
  if (noise == NoiseSource::drawn)
    draw_eps(model_table(), state_.data(), rows, latent, act.at(plan_.eps), stream_);
  enqueue_forward(act, act.at(plan_.x), rows, act.at(plan_.eps));
  loss_forward_backward(act.at(plan_.x), act.at(plan_.x_hat), act.at(plan_.mu),
                        act.at(plan_.logvar), models_, rows, features, latent, model_latent_.data(),
                        act.reconstruction.data(), act.kl.data(), act.at(plan_.grad_x_hat),
                        stream_);
  sum_loss_parts(act.reconstruction.data(), act.kl.data(), models_, rows, state_.data(),
                 step_totals_.data(), totals_stride_, stream_);
  enqueue_backward(act, rows);
}

CudaEngine::Graph CudaEngine::capture_step(int rows) {
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue_step(rows, BatchSource::gather, NoiseSource::drawn);
  } catch (...) {
    cudaStreamEndCapture(stream_, &graph);
    if (graph != nullptr) cudaGraphDestroy(graph);
    throw;
  }
  CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  if (rows == config_.batch_size) {
    const cudaError_t counted = cudaGraphGetNodes(graph, nullptr, &step_launches_);
    if (counted != cudaSuccess) cudaGraphDestroy(graph);
    CUDA_CHECK(counted);
  }
  cudaGraphExec_t exec = nullptr;
  const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CUDA_CHECK(instantiated);
  return Graph(exec);
}

void CudaEngine::set_training_data(const Matrix& rows) {
  require_features(rows.cols, layout_.architecture, "training rows");
  require(rows.rows > 0, "no training rows");
  require(data_slots_ == 1, "set_training_data gives every model the same rows: one data slot");
  drop_graphs();
  train_rows_.resize(rows.values.size());
  train_rows_.upload(rows.values.data(), rows.values.size(), stream_);
  train_count_ = rows.rows;
  reserve_epoch(train_count_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

// Model m's epoch from its step totals (reconstruction and KL sums of each step, `full` steps of a
// whole batch and one of `last` rows when last > 0) and its status: the row-weighted mean losses
// of the steps it took, and the first non-finite value it met.
EpochResult CudaEngine::epoch_result(std::size_t m, const TrainingStatus& status,
                                     const double* model_totals, double kl_weight, std::size_t full,
                                     std::size_t last) const {
  const auto batch = static_cast<std::size_t>(config_.batch_size);
  const std::size_t steps = full + (last > 0 ? 1 : 0);
  EpochResult result;
  result.steps = status.failed_step >= 0 ? status.failed_step : static_cast<int>(steps);
  double seen = 0.0;
  for (int s = 0; s < result.steps; ++s) {
    const double rows =
        static_cast<std::size_t>(s) < full ? static_cast<double>(batch) : static_cast<double>(last);
    const double reconstruction = model_totals[2 * s] / rows, kl = model_totals[2 * s + 1] / rows;
    result.mean.reconstruction += reconstruction * rows;
    result.mean.kl += kl * rows;
    result.mean.loss += (reconstruction + kl_weight * kl) * rows;
    seen += rows;
  }
  if (seen > 0) {
    result.mean.loss /= seen;
    result.mean.reconstruction /= seen;
    result.mean.kl /= seen;
  }
  if (status.failed_step >= 0)
    result.non_finite = NonFinite{status.failed_step,
                                  status.loss_non_finite != 0
                                      ? std::string("loss")
                                      : "gradient of " + describe_gradient(m, status.bad_gradient)};
  return result;
}

std::vector<EpochResult> CudaEngine::train_epochs(int epoch, std::span<const double> kl_weights,
                                                  std::span<const std::uint8_t> frozen) {
  require(train_count_ > 0, "train_epoch called before set_training_data");
  require(kl_weights.size() == static_cast<std::size_t>(models_), "one KL weight per model");
  require(frozen.empty() || frozen.size() == static_cast<std::size_t>(models_),
          "one frozen flag per model, or none");
  const auto batch = static_cast<std::size_t>(config_.batch_size);
  const std::size_t full = train_count_ / batch, last = train_count_ % batch;
  reserve(train_act_, std::min(train_count_, batch));
  reserve_fused(std::min(train_count_, batch));
  reserve_epoch(train_count_);
  if (full > 0 && !full_step_) full_step_ = capture_step(config_.batch_size);
  if (last > 0 && !last_step_) last_step_ = capture_step(static_cast<int>(last));

  kl_weights_.upload(kl_weights.data(), kl_weights.size(), stream_);
  const int* frozen_flags = nullptr;
  if (!frozen.empty()) {
    frozen_host_.assign(frozen.begin(), frozen.end());
    frozen_.upload(frozen_host_.data(), frozen_host_.size(), stream_);
    frozen_flags = frozen_.data();
  }
  begin_epoch(state_.data(), kl_weights_.data(), frozen_flags, models_, status_.data(), stream_);
  for (std::size_t o = 0; o < order_seeds_.size(); ++o) {
    shuffle_.compute(order_seeds_[o], static_cast<std::uint32_t>(RandomStream::shuffle),
                     static_cast<std::uint32_t>(epoch), train_count_, stream_);
    CUDA_CHECK(cudaMemcpyAsync(orders_.data() + o * train_count_, shuffle_.order(),
                               train_count_ * sizeof(unsigned), cudaMemcpyDeviceToDevice, stream_));
  }
  for (std::size_t s = 0; s < full; ++s)
    CUDA_CHECK(cudaGraphLaunch(full_step_.get(), stream_));
  if (last > 0) CUDA_CHECK(cudaGraphLaunch(last_step_.get(), stream_));

  const auto models = static_cast<std::size_t>(models_);
  std::vector<double> totals(models * totals_stride_);
  std::vector<TrainingStatus> statuses(models);
  step_totals_.download(totals.data(), totals.size(), stream_);
  status_.download(statuses.data(), models, stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));  // the epoch's one synchronisation

  std::vector<EpochResult> results(models);
  for (std::size_t m = 0; m < models; ++m)
    if (statuses[m].failed_step != kFrozenStep)  // a frozen model took no step: nothing to report
      results[m] = epoch_result(m, statuses[m], totals.data() + m * totals_stride_, kl_weights[m],
                                full, last);
  return results;
}

LossParts CudaEngine::train_step(const Matrix& batch, const Matrix* eps, double kl_weight) {
  require(models_ == 1, "train_step is for a single-model engine");
  require_step_inputs(layout_.architecture, batch, eps);
  reserve(train_act_, batch.rows);
  reserve_fused(batch.rows);
  train_act_.buffers[static_cast<std::size_t>(plan_.x)].upload(batch.values.data(),
                                                               batch.values.size(), stream_);
  if (eps != nullptr)
    train_act_.buffers[static_cast<std::size_t>(plan_.eps)].upload(eps->values.data(),
                                                                   eps->values.size(), stream_);
  kl_weights_.upload(&kl_weight, 1, stream_);
  begin_epoch(state_.data(), kl_weights_.data(), nullptr, models_, status_.data(),
              stream_);  // slot 0
  enqueue_step(as_int(batch.rows, "batch"), BatchSource::uploaded,
               eps != nullptr ? NoiseSource::uploaded : NoiseSource::drawn);
  double totals[2] = {0.0, 0.0};
  step_totals_.download(totals, 2, stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  const auto rows = static_cast<double>(batch.rows);
  LossParts parts{0.0, totals[0] / rows, totals[1] / rows};
  parts.loss = parts.reconstruction + kl_weight * parts.kl;
  return parts;
}

}  // namespace cuda
}  // namespace vaead

#include "cpu/cpu_model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cpu/dense_ops.hpp"
#include "vaead/philox.hpp"
#include "vaead/scorer.hpp"
#include "vaead/shuffle.hpp"
#include "vaead/train/trainer.hpp"
#include "vaead/util/error.hpp"
#include "vaead/vae_elements.hpp"

namespace vaead::cpu {
namespace {

// The cost of an element that calls exp(), and of a normal draw, in multiply-adds (for the
// thread count only).
constexpr double kCallCost = 20.0;
constexpr double kNormalCost = 20.0;

// The element loops, their arrays declared distinct (__restrict): with five arrays read and two
// written, the checks that they do not overlap exceed what GCC tests at run time, and the loops
// (each element an exp or a square root) stayed scalar.
template <class T>
void latent_gradients(std::size_t n, const T* __restrict grad_z, const T* __restrict eps,
                      const T* __restrict mu, const T* __restrict logvar,
                      const T* __restrict logvar_raw, T low, T high, T kl_scale,
                      T* __restrict grad_mu, T* __restrict grad_logvar) {
  for (std::size_t i = 0; i < n; ++i) {
    grad_mu[i] = grad_z[i] + kl_scale * mu[i];
    const bool inside = logvar_raw[i] >= low && logvar_raw[i] <= high;
    grad_logvar[i] = elements::logvar_gradient(grad_z[i], eps[i], logvar[i], kl_scale, inside);
  }
}

template <class T>
void kl_terms(std::size_t n, const T* __restrict mu, const T* __restrict logvar,
              double* __restrict terms) {
  for (std::size_t i = 0; i < n; ++i)
    terms[i] = elements::kl_term(mu[i], logvar[i]);
}

template <class T>
void adam_elements(std::size_t n, const T* __restrict grads, T beta1, T beta2, T step_size,
                   T bias_correction2_sqrt, T epsilon, T* __restrict params,
                   T* __restrict first_moment, T* __restrict second_moment) {
  for (std::size_t i = 0; i < n; ++i)
    elements::adam_element(grads[i], beta1, beta2, step_size, bias_correction2_sqrt, epsilon,
                           &params[i], &first_moment[i], &second_moment[i]);
}

}  // namespace

template <class T>
CpuModel<T>::CpuModel(const EngineConfig& config, double work_per_thread, std::size_t backward_rows)
    : config_(config),
      layout_(make_layout(config.architecture)),
      layers_(layout_.layers()),
      plan_(make_plan(layout_)) {
  config_.validate();
  require(backward_rows > 0, "a slice of the backward pass needs at least one row");
  backward_rows_ = backward_rows;
  threads_ = config.threads > 0 ? config.threads : available_cores();
  if (threads_ > 1) pool_ = std::make_unique<WorkerPool>(threads_, work_per_thread);
  grads_.assign(layout_.size, T(0));
  transposed_.resize(layers_.size());
  bias_sums_.resize(layers_.size());
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    transposed_[l].resize(layers_[l]->weight_count());
    bias_sums_[l].resize(static_cast<std::size_t>(layers_[l]->out));
    for (std::size_t i = 0; i < static_cast<std::size_t>(layers_[l]->in); ++i)
      transpose_rows_.emplace_back(l, i);
  }
  set_parameters(initial_parameters(layout_, config.seed));
}

template <class T>
std::vector<float> CpuModel<T>::parameters() const {
  return {params_.begin(), params_.end()};
}

template <class T>
void CpuModel<T>::set_parameters(std::span<const float> values) {
  require(values.size() == layout_.size, "expected " + std::to_string(layout_.size) +
                                             " parameters, got " + std::to_string(values.size()));
  params_.assign(values.begin(), values.end());
  adam_m_.assign(layout_.size, T(0));
  adam_v_.assign(layout_.size, T(0));
  step_ = 0;
}

template <class T>
OptimizerState CpuModel<T>::optimizer_state() const {
  const auto floats = [](const std::vector<T>& values) {
    return std::vector<float>(values.begin(), values.end());
  };
  return {floats(params_), floats(adam_m_), floats(adam_v_), step_};
}

template <class T>
void CpuModel<T>::set_optimizer_state(const OptimizerState& state) {
  require(state.parameters.size() == layout_.size && state.first_moment.size() == layout_.size &&
              state.second_moment.size() == layout_.size && state.steps >= 0,
          "an optimizer state of " + std::to_string(state.parameters.size()) +
              " parameters for a model of " + std::to_string(layout_.size));
  params_.assign(state.parameters.begin(), state.parameters.end());
  adam_m_.assign(state.first_moment.begin(), state.first_moment.end());
  adam_v_.assign(state.second_moment.begin(), state.second_moment.end());
  step_ = state.steps;
}

template <class T>
std::vector<float> CpuModel<T>::gradients() const {
  std::vector<float> out(grads_.size());
  std::transform(grads_.begin(), grads_.end(), out.begin(),
                 [](T g) { return static_cast<float>(g); });
  return out;
}

template <class T>
void CpuModel<T>::reserve(std::size_t rows) {
  if (rows <= capacity_) return;
  buffers_.resize(plan_.buffers.size());
  for (std::size_t id = 0; id < buffers_.size(); ++id)
    buffers_[id].resize(rows * static_cast<std::size_t>(plan_.buffers[id].width));
  reconstruction_.resize(rows);
  kl_.resize(rows);
  kl_terms_.resize(rows * static_cast<std::size_t>(layout_.architecture.latent_dim));
  capacity_ = rows;
}

template <class T>
void CpuModel<T>::release_buffers() {
  buffers_ = {};
  reconstruction_ = {};
  kl_ = {};
  kl_terms_ = {};
  capacity_ = 0;
}

template <class T>
T* CpuModel<T>::buffer(int id, const T* x, const T* eps) {
  // The steps never write x or eps: the caller's rows and noise are read in place.
  if (id == plan_.x && x != nullptr) return const_cast<T*>(x);
  if (id == plan_.eps && eps != nullptr) return const_cast<T*>(eps);
  return buffers_[static_cast<std::size_t>(id)].data();
}

template <class T>
void CpuModel<T>::refresh_transposed_weights() {
  // One task per row of every W^T: copies only, any split over the threads gives the same bits.
  parallel_for(
      pool(), transpose_rows_.size(), static_cast<double>(layout_.size), [&](std::size_t t) {
        const auto [l, i] = transpose_rows_[t];
        const LinearLayout& layer = *layers_[l];
        transpose_rows(weights(layer), static_cast<std::size_t>(layer.out),
                       static_cast<std::size_t>(layer.in), i, i + 1, transposed_[l].data());
      });
}

// The forward pass a block of rows at a time through the whole network, a block a task: a
// block's activations stay in the cache from one layer to the next. Rows are independent and a
// block is whole tiles of rows, so the bits do not depend on the blocks or the threads.
template <class T>
void CpuModel<T>::forward(const T* x, std::size_t rows, const T* eps) {
  reserve(rows);
  refresh_transposed_weights();
  double work_per_row = 0.0;  // multiply-adds
  for (const LinearLayout* l : layers_)
    work_per_row += static_cast<double>(l->in) * l->out;
  const std::size_t blocks = (rows + kForwardRows - 1) / kForwardRows;
  parallel_for(pool(), blocks, work_per_row * static_cast<double>(rows), [&](std::size_t block) {
    const std::size_t r0 = block * kForwardRows, count = std::min(kForwardRows, rows - r0);
    // Buffer `id` from the block's first row.
    const auto at = [&](int id) {
      return buffer(id, x) + r0 * static_cast<std::size_t>(plan_.buffers[id].width);
    };
    for (const PlanStep& step : plan_.forward) {
      switch (step.op) {
        case PlanOp::dense: {
          const LinearLayout& l = step.layer;
          linear_forward(at(step.input), count, static_cast<std::size_t>(l.in),
                         transposed(static_cast<std::size_t>(step.layer_index)),
                         params_.data() + l.bias_offset, static_cast<std::size_t>(l.out), step.relu,
                         at(step.output), nullptr);
          break;
        }
        case PlanOp::reparameterize:
          reparameterize(r0, count, eps);
          break;
        default:
          throw std::logic_error("a backward step in the forward plan");
      }
    }
  });
}

// Rows [r0, r0 + count): z = mu + exp(logvar / 2) * eps, with logvar clamped first; z = mu without
// eps.
template <class T>
void CpuModel<T>::reparameterize(std::size_t r0, std::size_t count, const T* eps) {
  const T low = static_cast<T>(config_.logvar_min), high = static_cast<T>(config_.logvar_max);
  const auto latent = static_cast<std::size_t>(layout_.architecture.latent_dim);
  const T* mu = buffer(plan_.mu);
  const T* logvar_raw = buffer(plan_.logvar_raw);
  T* logvar = buffer(plan_.logvar);
  T* z = buffer(plan_.z);
  for (std::size_t i = r0 * latent; i < (r0 + count) * latent; ++i) {
    logvar[i] = elements::clamp_logvar(logvar_raw[i], low, high);
    z[i] = eps == nullptr ? mu[i] : elements::reparameterized(mu[i], logvar[i], eps[i]);
  }
}

template <class T>
LossParts CpuModel<T>::loss_parts(const T* x, std::size_t rows, double kl_weight) {
  const auto features = static_cast<std::size_t>(layout_.architecture.input_dim);
  const auto latent = static_cast<std::size_t>(layout_.architecture.latent_dim);
  const T* x_hat = buffer(plan_.x_hat);
  const T* mu_values = buffer(plan_.mu);
  const T* logvar_values = buffer(plan_.logvar);
  // A range of rows: its KL terms in one element loop (each an exp), then each row's sums in
  // order.
  parallel_ranges(pool(), rows, static_cast<double>(rows * (features + kCallCost * latent)),
                  [&](std::size_t begin, std::size_t end) {
                    const double* terms = kl_terms_.data();
                    kl_terms((end - begin) * latent, mu_values + begin * latent,
                             logvar_values + begin * latent, kl_terms_.data() + begin * latent);
                    for (std::size_t r = begin; r < end; ++r) {
                      double squared_error = 0.0;
                      for (std::size_t j = 0; j < features; ++j) {
                        const double diff =
                            static_cast<double>(x[r * features + j]) - x_hat[r * features + j];
                        squared_error += diff * diff;
                      }
                      double kl = 0.0;
                      for (std::size_t l = 0; l < latent; ++l)
                        kl += terms[r * latent + l];
                      reconstruction_[r] = squared_error;
                      kl_[r] = -0.5 * kl;
                    }
                  });
  LossParts parts;
  for (std::size_t r = 0; r < rows; ++r) {  // in row order: the same bits for any thread count
    parts.reconstruction += reconstruction_[r];
    parts.kl += kl_[r];
  }
  parts.reconstruction /= static_cast<double>(rows);
  parts.kl /= static_cast<double>(rows);
  parts.loss = parts.reconstruction + kl_weight * parts.kl;
  return parts;
}

// Gradients of  mean_r [ sum_j (x - x_hat)^2 + w * KL_r ]:
//   d/dx_hat = 2 (x_hat - x) / rows
//   d/dmu    = dz + w mu / rows
//   d/dlogvar = dz * eps * exp(logvar/2) / 2 + w (exp(logvar) - 1) / (2 rows), 0 where clamped.
// The rows go through the backward pass a slice at a time: a slice's gradients pass every layer
// while they are still in the cache (a whole large batch's would stream from memory at every
// layer), and the weight gradients add slice after slice, so each weight and bias still sums the
// batch's rows in row order: the bits do not depend on the slices.
template <class T>
void CpuModel<T>::backward(const T* x, std::size_t rows, const T* eps, double kl_weight) {
  for (std::size_t r0 = 0; r0 < rows; r0 += backward_rows_)
    backward_slice(x, rows, r0, std::min(backward_rows_, rows - r0), eps, kl_weight);
}

template <class T>
void CpuModel<T>::backward_slice(const T* x, std::size_t rows, std::size_t r0, std::size_t count,
                                 const T* eps, double kl_weight) {
  // Buffer `id` from the slice's first row, its rows `width` apart (a gradient buffer is shared
  // by layers of several widths, each packing its rows at its own width).
  const auto at = [&](int id, std::size_t width) { return buffer(id, x) + r0 * width; };
  const auto features = static_cast<std::size_t>(layout_.architecture.input_dim);
  const T* x_hat = at(plan_.x_hat, features);
  const T* x_slice = x + r0 * features;
  T* grad_x_hat = at(plan_.grad_x_hat, features);
  const T two_over_rows = static_cast<T>(2.0 / static_cast<double>(rows));
  parallel_ranges(pool(), count * features, static_cast<double>(count * features),
                  [&](std::size_t begin, std::size_t end) {
                    for (std::size_t i = begin; i < end; ++i)
                      grad_x_hat[i] = two_over_rows * (x_hat[i] - x_slice[i]);
                  });

  ParamsGradientSlice slice;
  slice.first = r0 == 0;
  slice.last = r0 + count == rows;
  for (const PlanStep& step : plan_.backward) {
    const LinearLayout& l = step.layer;
    const auto in = static_cast<std::size_t>(l.in), out = static_cast<std::size_t>(l.out);
    switch (step.op) {
      case PlanOp::dense_params_grad:
        slice.bias_sums = bias_sums_[static_cast<std::size_t>(step.layer_index)].data();
        linear_backward_params(at(step.gradient, out), at(step.input, in), count, in, out,
                               grads_.data() + l.weight_offset, grads_.data() + l.bias_offset,
                               pool(), slice);
        break;
      case PlanOp::dense_input_grad:
        linear_backward_input(at(step.gradient, out), count, out, weights(l), in, step.accumulate,
                              step.mask < 0 ? nullptr : at(step.mask, in), at(step.output, in),
                              pool());
        break;
      case PlanOp::reparameterize_grad:
        reparameterize_backward(buffer(step.gradient), r0, count, rows, eps, kl_weight);
        break;
      default:
        throw std::logic_error("a forward step in the backward plan");
    }
  }
}

// From dLoss/dz (grad_z, the batch's) for the rows [r0, r0 + count) of a batch of `rows`, with w
// the KL weight:
//   d/dmu     = dz + w mu / rows
//   d/dlogvar = dz * eps * exp(logvar/2) / 2 + w (exp(logvar) - 1) / (2 rows), 0 where clamped.
template <class T>
void CpuModel<T>::reparameterize_backward(const T* grad_z, std::size_t r0, std::size_t count,
                                          std::size_t rows, const T* eps, double kl_weight) {
  const auto latent = static_cast<std::size_t>(layout_.architecture.latent_dim);
  const T kl_scale = static_cast<T>(kl_weight * (1.0 / static_cast<double>(rows)));
  const T low = static_cast<T>(config_.logvar_min), high = static_cast<T>(config_.logvar_max);
  const T* mu = buffer(plan_.mu);
  const T* logvar = buffer(plan_.logvar);
  const T* logvar_raw = buffer(plan_.logvar_raw);
  T* grad_mu = buffer(plan_.grad_mu);
  T* grad_logvar = buffer(plan_.grad_logvar);
  const std::size_t first = r0 * latent;  // the slice's elements
  parallel_ranges(pool(), count * latent, kCallCost * static_cast<double>(count * latent),
                  [&](std::size_t begin, std::size_t end) {
                    const std::size_t i = first + begin;
                    latent_gradients(end - begin, grad_z + i, eps + i, mu + i, logvar + i,
                                     logvar_raw + i, low, high, kl_scale, grad_mu + i,
                                     grad_logvar + i);
                  });
}

template <class T>
LossParts CpuModel<T>::loss(const T* x, std::size_t rows, const T* eps, double kl_weight) {
  forward(x, rows, eps);
  return loss_parts(x, rows, kl_weight);
}

template <class T>
LossParts CpuModel<T>::loss_and_gradients(const T* x, std::size_t rows, const T* eps,
                                          double kl_weight) {
  const LossParts parts = loss(x, rows, eps, kl_weight);
  backward(x, rows, eps, kl_weight);
  return parts;
}

// Adam as torch.optim.Adam computes it (elements::adam_element, as the CUDA engine).
template <class T>
void CpuModel<T>::adam_update() {
  ++step_;
  const AdamConfig& adam = config_.adam;
  const elements::AdamStep constants = elements::adam_step(
      adam.learning_rate, adam.beta1, adam.beta2, static_cast<std::uint64_t>(step_));
  const T step_size = static_cast<T>(constants.step_size);
  const T bias_correction2_sqrt = static_cast<T>(constants.bias_correction2_sqrt);
  const T beta1 = static_cast<T>(adam.beta1), beta2 = static_cast<T>(adam.beta2);
  const T epsilon = static_cast<T>(adam.epsilon);
  T* params = params_.data();
  T* first_moment = adam_m_.data();
  T* second_moment = adam_v_.data();
  const T* grads = grads_.data();
  // Element-wise: ranges over the threads (no sum, so the bits do not depend on them).
  parallel_ranges(pool(), params_.size(), kCallCost * static_cast<double>(params_.size()),
                  [&](std::size_t begin, std::size_t end) {
                    adam_elements(end - begin, grads + begin, beta1, beta2, step_size,
                                  bias_correction2_sqrt, epsilon, params + begin,
                                  first_moment + begin, second_moment + begin);
                  });
}

// eps[r][l]: normal l % 4 of block (l / 4, r, step), as CounterRng::normal4 draws it. Rows in
// chunks: a chunk's Philox words first, then all its Box-Muller pairs in one vectorized loop.
template <class T>
void CpuModel<T>::draw_eps(std::size_t rows, std::int64_t step) {
  const CounterRng rng{config_.seed, RandomStream::reparameterization};
  const auto latent = static_cast<std::size_t>(layout_.architecture.latent_dim);
  const std::size_t blocks = (latent + 3) / 4;
  T* eps = buffer(plan_.eps);
  constexpr std::size_t kChunkRows = 64;
  const std::size_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  parallel_for(
      pool(), chunks, kNormalCost * static_cast<double>(rows * latent), [&](std::size_t c) {
        const std::size_t r0 = c * kChunkRows, count = std::min(rows, r0 + kChunkRows) - r0;
        const std::size_t pairs = 2 * blocks * count;  // pair 2 (row * blocks + block) + half
        std::vector<std::uint32_t> radius_words(pairs), angle_words(pairs);
        std::vector<double> first(pairs), second(pairs);
        for (std::size_t r = 0; r < count; ++r)
          for (std::size_t block = 0; block < blocks; ++block) {
            const Philox4x32 words =
                rng.bits(static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(r0 + r),
                         static_cast<std::uint32_t>(step));
            const std::size_t pair = 2 * (r * blocks + block);
            radius_words[pair] = words.v[0];
            angle_words[pair] = words.v[1];
            radius_words[pair + 1] = words.v[2];
            angle_words[pair + 1] = words.v[3];
          }
        box_muller_many(radius_words.data(), angle_words.data(), pairs, first.data(),
                        second.data());
        for (std::size_t r = 0; r < count; ++r)
          for (std::size_t l = 0; l < latent; ++l) {
            const std::size_t pair = 2 * (r * blocks + l / 4) + (l % 4) / 2;
            eps[(r0 + r) * latent + l] = static_cast<T>(l % 2 == 0 ? first[pair] : second[pair]);
          }
      });
}

template <class T>
std::optional<std::size_t> CpuModel<T>::first_non_finite_gradient() const {
  for (std::size_t i = 0; i < grads_.size(); ++i)
    if (!std::isfinite(grads_[i])) return i;
  return std::nullopt;
}

template <class T>
void CpuModel<T>::set_training_data(const Matrix& rows) {
  auto copy = std::make_shared<MatrixT<T>>(rows.rows, rows.cols);
  std::copy(rows.values.begin(), rows.values.end(), copy->values.begin());
  share_training_data(std::move(copy));
}

template <class T>
void CpuModel<T>::share_training_data(std::shared_ptr<const MatrixT<T>> rows) {
  require_features(rows->cols, layout_.architecture, "training rows");
  require(rows->rows > 0, "no training rows");
  train_rows_ = std::move(rows);
}

template <class T>
EpochResult CpuModel<T>::train_epoch(int epoch, double kl_weight) {
  require(train_rows_ != nullptr, "train_epoch called before set_training_data");
  const MatrixT<T>& train_rows = *train_rows_;
  const std::size_t n = train_rows.rows, features = train_rows.cols;
  const auto batch_size = static_cast<std::size_t>(config_.batch_size);
  const std::vector<std::size_t> order = keyed_permutation(
      n, CounterRng{config_.seed, RandomStream::shuffle}, static_cast<std::uint32_t>(epoch));
  reserve(std::min(n, batch_size));
  T* x = buffer(plan_.x);

  EpochResult result;
  for (std::size_t start = 0; start < n; start += batch_size, ++result.steps) {
    stop_if_requested();
    const std::size_t rows = std::min(batch_size, n - start);
    // The batch's rows gathered (copies: any split over the threads gives the same bits).
    parallel_ranges(pool(), rows, static_cast<double>(rows * features),
                    [&](std::size_t begin, std::size_t end) {
                      for (std::size_t r = begin; r < end; ++r)
                        std::copy_n(train_rows.row(order[start + r]), features, x + r * features);
                    });
    draw_eps(rows, step_);
    const LossParts parts = loss_and_gradients(x, rows, buffer(plan_.eps), kl_weight);
    if (!std::isfinite(parts.loss)) {
      result.non_finite = NonFinite{result.steps, "loss"};
      break;
    }
    if (const auto bad = first_non_finite_gradient()) {
      result.non_finite = NonFinite{result.steps, "gradient of " + layout_.describe(*bad)};
      break;
    }
    adam_update();
    const auto weight = static_cast<double>(rows);
    result.mean.loss += parts.loss * weight;
    result.mean.reconstruction += parts.reconstruction * weight;
    result.mean.kl += parts.kl * weight;
  }
  const double seen =
      static_cast<double>(std::min(n, static_cast<std::size_t>(result.steps) * batch_size));
  if (seen > 0) {
    result.mean.loss /= seen;
    result.mean.reconstruction /= seen;
    result.mean.kl /= seen;
  }
  return result;
}

template <class T>
LossParts CpuModel<T>::train_step(const Matrix& batch, const Matrix* eps, double kl_weight) {
  require_step_inputs(layout_.architecture, batch, eps);
  reserve(batch.rows);
  T* x = buffer(plan_.x);
  std::copy(batch.values.begin(), batch.values.end(), x);
  if (eps != nullptr)
    std::copy(eps->values.begin(), eps->values.end(), buffer(plan_.eps));
  else
    draw_eps(batch.rows, step_);
  const LossParts parts = loss_and_gradients(x, batch.rows, buffer(plan_.eps), kl_weight);
  // As train_epoch: a non-finite loss or gradient takes no step (and the step count stays).
  if (std::isfinite(parts.loss) && !first_non_finite_gradient()) adam_update();
  return parts;
}

template <class T>
void CpuModel<T>::score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) {
  const auto features = static_cast<std::size_t>(layout_.architecture.input_dim);
  require_features(rows.cols, layout_.architecture, "rows to score");
  require(scores.size() == rows.rows, "one score per row is needed");
  if (per_feature != nullptr) *per_feature = Matrix(rows.rows, features);
  constexpr std::size_t kChunk = 2048;
  for (std::size_t start = 0; start < rows.rows; start += kChunk) {
    const std::size_t count = std::min(kChunk, rows.rows - start);
    reserve(count);
    T* x = buffer(plan_.x);
    std::copy_n(rows.row(start), count * features, x);
    forward(x, count, nullptr);  // z = mu: deterministic
    const T* x_hat = buffer(plan_.x_hat);
    parallel_for(pool(), count, static_cast<double>(count * features), [&](std::size_t r) {
      scores[start + r] =
          reconstruction_score(x + r * features, x_hat + r * features, static_cast<int>(features),
                               per_feature == nullptr ? nullptr : per_feature->row(start + r));
    });
  }
}

template class CpuModel<float>;
template class CpuModel<double>;

}  // namespace vaead::cpu

#include "cuda/cuda_engine.hpp"

#include <algorithm>
#include <utility>

#include "cuda/engine_factory.hpp"
#include "cuda_check.cuh"
#include "data/synthetic_rows.hpp"
#include "dense.cuh"
#include "rows.cuh"
#include "synthetic.cuh"
#include "vae_ops.cuh"
#include "vaead/device.hpp"
#include "vaead/error.hpp"
#include "vaead/philox.hpp"

namespace vaead {

std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config) {
  const CudaStatus status = query_cuda();
  if (status.devices.empty())
    throw InputError("the cuda engine needs a CUDA device, and none answers: " + status.reason);
  return std::make_unique<cuda::CudaEngine>(config);
}

namespace cuda {
namespace {

constexpr std::size_t kScoreChunk = 16384;  // rows per forward pass when scoring

int as_int(std::size_t value, const char* what) {
  require(value <= static_cast<std::size_t>(1) << 30,
          std::string(what) + " is too large for the CUDA engine: " + std::to_string(value));
  return static_cast<int>(value);
}

}  // namespace

void CudaEngine::GraphDeleter::operator()(cudaGraphExec_t graph) const {
  cudaGraphExecDestroy(graph);
}

CudaEngine::CudaEngine(const EngineConfig& config)
    : config_(config), layout_(make_layout(config.architecture)) {
  config_.validate();
  CUDA_CHECK(cudaStreamCreate(&stream_));
  params_.resize(layout_.size);
  grads_.resize(layout_.size);
  adam_m_.resize(layout_.size);
  adam_v_.resize(layout_.size);
  state_.resize(1);
  status_.resize(1);
  step_totals_.resize(2);
  set_parameters(initial_parameters(layout_, config.seed));
}

CudaEngine::~CudaEngine() {
  drop_graphs();
  if (stream_ != nullptr) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
}

std::vector<float> CudaEngine::parameters() const {
  return params_.to_host(stream_);
}

std::vector<float> CudaEngine::gradients() const {
  return grads_.to_host(stream_);
}

void CudaEngine::set_parameters(std::span<const float> values) {
  require(values.size() == layout_.size, "expected " + std::to_string(layout_.size) +
                                             " parameters, got " + std::to_string(values.size()));
  params_.upload(values.data(), values.size(), stream_);
  adam_m_.zero(stream_);
  adam_v_.zero(stream_);
  reset_state(state_.data(), status_.data(), stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

void CudaEngine::drop_graphs() {
  full_step_.reset();
  last_step_.reset();
}

void CudaEngine::reserve(Activations& act, std::size_t rows) {
  if (rows <= act.capacity) return;
  if (&act == &train_act_) drop_graphs();  // the graphs hold the old addresses
  const Architecture& arch = layout_.architecture;
  const auto latent = static_cast<std::size_t>(arch.latent_dim);
  const std::size_t widest = layout_.widest_activation();
  act.encoder.resize(layout_.encoder.size());
  for (std::size_t e = 0; e < layout_.encoder.size(); ++e) {
    act.encoder[e].resize(rows * static_cast<std::size_t>(layout_.encoder[e].out));
  }
  act.decoder.resize(layout_.decoder.size());
  for (std::size_t d = 0; d < layout_.decoder.size(); ++d) {
    act.decoder[d].resize(rows * static_cast<std::size_t>(layout_.decoder[d].out));
  }
  for (auto* buffer :
       {&act.mu, &act.logvar_raw, &act.logvar, &act.z, &act.eps, &act.grad_mu, &act.grad_logvar})
    buffer->resize(rows * latent);
  act.grad_a.resize(rows * widest);
  act.grad_b.resize(rows * widest);
  act.batch.resize(rows * static_cast<std::size_t>(arch.input_dim));
  act.reconstruction.resize(rows);
  act.kl.resize(rows);
  act.capacity = rows;
  if (&act == &train_act_) {
    // The split count grows with the rows, so the capacity's workspace serves every smaller batch.
    std::size_t workspace = 0;
    for (const LinearLayout* l : layout_.layers())
      workspace = std::max(workspace,
                           dense_backward_params_workspace(as_int(rows, "batch"), l->in, l->out));
    workspace_.reserve(workspace);
  }
}

void CudaEngine::enqueue_forward(Activations& act, const float* x, int rows, const float* eps) {
  const float* input = x;
  for (std::size_t e = 0; e < layout_.encoder.size(); ++e) {
    const LinearLayout& l = layout_.encoder[e];
    dense_forward(input, rows, l.in, weights(l), bias(l), l.out, true, act.encoder[e].data(),
                  stream_);
    input = act.encoder[e].data();
  }
  const int latent = layout_.architecture.latent_dim;
  dense_forward(input, rows, layout_.mu.in, weights(layout_.mu), bias(layout_.mu), latent, false,
                act.mu.data(), stream_);
  dense_forward(input, rows, layout_.logvar.in, weights(layout_.logvar), bias(layout_.logvar),
                latent, false, act.logvar_raw.data(), stream_);
  reparameterize_forward(act.mu.data(), act.logvar_raw.data(), eps, rows, latent,
                         static_cast<float>(config_.logvar_min),
                         static_cast<float>(config_.logvar_max), act.logvar.data(), act.z.data(),
                         stream_);
  input = act.z.data();
  for (std::size_t d = 0; d < layout_.decoder.size(); ++d) {
    const LinearLayout& l = layout_.decoder[d];
    const bool relu = d + 1 < layout_.decoder.size();
    dense_forward(input, rows, l.in, weights(l), bias(l), l.out, relu, act.decoder[d].data(),
                  stream_);
    input = act.decoder[d].data();
  }
}

// The CPU engine's backward, layer by layer; act.grad_a holds dLoss/dx_hat on entry.
void CudaEngine::enqueue_backward(Activations& act, const float* x, int rows) {
  float* grad = act.grad_a.data();
  float* spare = act.grad_b.data();
  auto params_grad = [&](const LinearLayout& l, const float* gy, const float* input) {
    dense_backward_params(gy, input, rows, l.in, l.out, grads_.data() + l.weight_offset,
                          grads_.data() + l.bias_offset, workspace_.data(), stream_);
  };
  auto input_grad = [&](const LinearLayout& l, const float* gy, bool accumulate,
                        const float* relu_output, float* gx) {
    dense_backward_input(gy, rows, l.out, weights(l), l.in, accumulate, relu_output, gx, stream_);
  };
  for (std::size_t d = layout_.decoder.size(); d-- > 0;) {
    const float* input = d == 0 ? act.z.data() : act.decoder[d - 1].data();
    params_grad(layout_.decoder[d], grad, input);
    input_grad(layout_.decoder[d], grad, false, d == 0 ? nullptr : input, spare);
    std::swap(grad, spare);
  }
  reparameterize_backward(
      grad, act.mu.data(), act.logvar.data(), act.logvar_raw.data(), act.eps.data(), rows,
      layout_.architecture.latent_dim, state_.data(), static_cast<float>(config_.logvar_min),
      static_cast<float>(config_.logvar_max), act.grad_mu.data(), act.grad_logvar.data(), stream_);
  const float* hidden = act.encoder.back().data();
  params_grad(layout_.mu, act.grad_mu.data(), hidden);
  params_grad(layout_.logvar, act.grad_logvar.data(), hidden);
  input_grad(layout_.mu, act.grad_mu.data(), false, nullptr, grad);
  input_grad(layout_.logvar, act.grad_logvar.data(), true, hidden, grad);
  for (std::size_t e = layout_.encoder.size(); e-- > 0;) {
    const float* input = e == 0 ? x : act.encoder[e - 1].data();
    params_grad(layout_.encoder[e], grad, input);
    if (e == 0) break;
    input_grad(layout_.encoder[e], grad, false, input, spare);
    std::swap(grad, spare);
  }
}

// One training step, all on `stream_`, nothing waiting on the host.
void CudaEngine::enqueue_step(int rows, BatchSource batch, NoiseSource noise) {
  Activations& act = train_act_;
  const int features = layout_.architecture.input_dim;
  const int latent = layout_.architecture.latent_dim;
  if (batch == BatchSource::gather)
    gather_batch(train_rows_.data(), shuffle_.order(), state_.data(), config_.batch_size, rows,
                 features, act.batch.data(), stream_);
  if (noise == NoiseSource::drawn)
    draw_eps(config_.seed, state_.data(), rows, latent, act.eps.data(), stream_);
  enqueue_forward(act, act.batch.data(), rows, act.eps.data());
  loss_forward_backward(act.batch.data(), act.decoder.back().data(), act.mu.data(),
                        act.logvar.data(), rows, features, latent, act.reconstruction.data(),
                        act.kl.data(), act.grad_a.data(), stream_);
  sum_loss_parts(act.reconstruction.data(), act.kl.data(), rows, state_.data(), step_totals_.data(),
                 stream_);
  enqueue_backward(act, act.batch.data(), rows);
  check_finite(step_totals_.data(), grads_.data(), layout_.size, state_.data(), status_.data(),
               stream_);
  const AdamConfig& adam = config_.adam;
  adam_update(params_.data(), grads_.data(), adam_m_.data(), adam_v_.data(), layout_.size,
              AdamHyper{adam.learning_rate, adam.beta1, adam.beta2, adam.epsilon}, state_.data(),
              status_.data(), stream_);
  advance_step(state_.data(), stream_);
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
  cudaGraphExec_t exec = nullptr;
  const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  CUDA_CHECK(instantiated);
  return Graph(exec);
}

void CudaEngine::set_training_data(const Matrix& rows) {
  require(rows.cols == static_cast<std::size_t>(layout_.architecture.input_dim),
          "training rows have " + std::to_string(rows.cols) + " features, the model expects " +
              std::to_string(layout_.architecture.input_dim));
  require(rows.rows > 0, "no training rows");
  drop_graphs();
  train_rows_.resize(rows.values.size());
  train_rows_.upload(rows.values.data(), rows.values.size(), stream_);
  train_count_ = rows.rows;
  shuffle_.reserve(train_count_);
  const std::size_t batch = static_cast<std::size_t>(config_.batch_size);
  step_totals_.reserve(2 * ((train_count_ + batch - 1) / batch));
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

EpochResult CudaEngine::train_epoch(int epoch, double kl_weight) {
  require(train_count_ > 0, "train_epoch called before set_training_data");
  const auto batch = static_cast<std::size_t>(config_.batch_size);
  const std::size_t full = train_count_ / batch, last = train_count_ % batch;
  const std::size_t steps = full + (last > 0 ? 1 : 0);
  reserve(train_act_, std::min(train_count_, batch));
  if (full > 0 && !full_step_) full_step_ = capture_step(config_.batch_size);
  if (last > 0 && !last_step_) last_step_ = capture_step(static_cast<int>(last));

  begin_epoch(state_.data(), kl_weight, status_.data(), stream_);
  shuffle_.compute(config_.seed, static_cast<std::uint32_t>(Stream::shuffle),
                   static_cast<std::uint32_t>(epoch), train_count_, stream_);
  for (std::size_t s = 0; s < full; ++s)
    CUDA_CHECK(cudaGraphLaunch(full_step_.get(), stream_));
  if (last > 0) CUDA_CHECK(cudaGraphLaunch(last_step_.get(), stream_));

  std::vector<double> totals(2 * steps);
  TrainingStatus status{};
  step_totals_.download(totals.data(), totals.size(), stream_);
  status_.download(&status, 1, stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));  // the epoch's one synchronisation

  EpochResult result;
  result.steps = status.failed_step >= 0 ? status.failed_step : static_cast<int>(steps);
  double seen = 0.0;
  for (int s = 0; s < result.steps; ++s) {
    const double rows =
        static_cast<std::size_t>(s) < full ? static_cast<double>(batch) : static_cast<double>(last);
    const double reconstruction = totals[2 * s] / rows, kl = totals[2 * s + 1] / rows;
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
    result.non_finite = NonFinite{
        status.failed_step,
        status.loss_non_finite != 0
            ? std::string("loss")
            : "gradient of " + layout_.describe(static_cast<std::size_t>(status.bad_gradient))};
  return result;
}

LossParts CudaEngine::train_step(const Matrix& batch, const Matrix* eps, double kl_weight) {
  const auto latent = static_cast<std::size_t>(layout_.architecture.latent_dim);
  require(batch.cols == static_cast<std::size_t>(layout_.architecture.input_dim) && batch.rows > 0,
          "a training batch needs rows of " + std::to_string(layout_.architecture.input_dim) +
              " features");
  require(eps == nullptr || (eps->rows == batch.rows && eps->cols == latent),
          "eps must be batch rows x latent_dim");
  reserve(train_act_, batch.rows);
  train_act_.batch.upload(batch.values.data(), batch.values.size(), stream_);
  if (eps != nullptr) train_act_.eps.upload(eps->values.data(), eps->values.size(), stream_);
  begin_epoch(state_.data(), kl_weight, status_.data(), stream_);  // loss slot 0
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

void CudaEngine::score_device_rows(const float* rows, std::size_t count, float* scores,
                                   float* per_feature) {
  const int features = layout_.architecture.input_dim;
  for (std::size_t start = 0; start < count; start += kScoreChunk) {
    const int chunk = static_cast<int>(std::min(kScoreChunk, count - start));
    const float* x = rows + start * static_cast<std::size_t>(features);
    enqueue_forward(score_act_, x, chunk, nullptr);  // z = mu: deterministic
    reconstruction_scores(
        x, score_act_.decoder.back().data(), chunk, features, scores + start,
        per_feature == nullptr ? nullptr : per_feature + start * static_cast<std::size_t>(features),
        stream_);
  }
}

void CudaEngine::score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) {
  const auto features = static_cast<std::size_t>(layout_.architecture.input_dim);
  require(rows.cols == features, "rows to score have " + std::to_string(rows.cols) +
                                     " features, the model expects " + std::to_string(features));
  require(scores.size() == rows.rows, "one score per row is needed");
  if (rows.rows == 0) return;
  reserve(score_act_, std::min(kScoreChunk, rows.rows));
  DeviceBuffer<float> device_rows(rows.values.size()), device_scores(rows.rows);
  DeviceBuffer<float> device_errors(per_feature != nullptr ? rows.values.size() : 0);
  device_rows.upload(rows.values.data(), rows.values.size(), stream_);
  score_device_rows(device_rows.data(), rows.rows, device_scores.data(),
                    per_feature != nullptr ? device_errors.data() : nullptr);
  device_scores.download(scores.data(), rows.rows, stream_);
  if (per_feature != nullptr) {
    *per_feature = Matrix(rows.rows, features);
    device_errors.download(per_feature->data(), per_feature->values.size(), stream_);
  }
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

ResidentSplits CudaEngine::load_synthetic(const SyntheticConfig& config) {
  const synthetic::Params p = synthetic::params_of(config);
  const int features = layout_.architecture.input_dim;
  require(static_cast<int>(p.features) == features,
          "the synthetic data has " + std::to_string(p.features) + " features, the model " +
              std::to_string(features));
  drop_graphs();
  DeviceBuffer<float> loadings(static_cast<std::size_t>(p.factors) * p.features);
  synthetic_loadings(p, loadings.data(), stream_);
  const auto draw = [&](DeviceBuffer<float>& rows, std::uint32_t split, int count) {
    rows.resize(static_cast<std::size_t>(count) * p.features);
    synthetic_normal_rows(p, loadings.data(), split, count, rows.data(), stream_);
  };
  draw(train_rows_, synthetic::kTrain, config.train_rows);
  draw(validation_rows_, synthetic::kValidation, config.validation_rows);
  draw(test_rows_, synthetic::kTest, config.test_rows);

  // Moments of the raw training rows: the anomalies' sigma_j and the standardizer.
  DeviceBuffer<double> mean(p.features), std(p.features), scale(p.features);
  column_moments(train_rows_.data(), config.train_rows, features, mean.data(), std.data(), stream_);
  DevicePermutation layout;
  layout.compute(config.seed, static_cast<std::uint32_t>(Stream::anomaly_layout), 0,
                 static_cast<std::size_t>(config.test_rows), stream_);
  DeviceBuffer<std::uint8_t> kinds(static_cast<std::size_t>(config.test_rows));
  assign_anomaly_kinds(layout.order(), config.test_rows, anomaly_counts(config), kinds.data(),
                       stream_);
  plant_anomalies(p, kinds.data(), std.data(), config.test_rows, test_rows_.data(), stream_);

  ResidentSplits splits;
  splits.standardizer = Standardizer::from_moments(mean.to_host(stream_), std.to_host(stream_));
  scale.upload(splits.standardizer.scale.data(), p.features, stream_);
  standardize(train_rows_.data(), config.train_rows, features, mean.data(), scale.data(), stream_);
  standardize(validation_rows_.data(), config.validation_rows, features, mean.data(), scale.data(),
              stream_);
  standardize(test_rows_.data(), config.test_rows, features, mean.data(), scale.data(), stream_);
  const std::vector<std::uint8_t> kind_codes = kinds.to_host(stream_);

  train_count_ = static_cast<std::size_t>(config.train_rows);
  validation_count_ = static_cast<std::size_t>(config.validation_rows);
  test_count_ = static_cast<std::size_t>(config.test_rows);
  shuffle_.reserve(train_count_);
  const auto batch = static_cast<std::size_t>(config_.batch_size);
  step_totals_.reserve(2 * ((train_count_ + batch - 1) / batch));
  splits.train_rows = train_count_;
  splits.validation_rows = validation_count_;
  splits.test_rows = test_count_;
  for (std::uint8_t code : kind_codes) {
    splits.test_kinds.push_back(static_cast<AnomalyKind>(code));
    splits.test_labels.push_back(code != 0 ? 1 : 0);
  }
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return splits;
}

std::vector<float> CudaEngine::score_resident(ResidentSplit split) {
  const bool validation = split == ResidentSplit::validation;
  const std::size_t count = validation ? validation_count_ : test_count_;
  require(count > 0, "score_resident called before load_synthetic");
  reserve(score_act_, std::min(kScoreChunk, count));
  scores_.reserve(count);
  score_device_rows(validation ? validation_rows_.data() : test_rows_.data(), count, scores_.data(),
                    nullptr);
  std::vector<float> scores(count);
  scores_.download(scores.data(), count, stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return scores;
}

}  // namespace cuda
}  // namespace vaead

#include "cuda/cuda_engine.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "cuda/engine_factory.hpp"
#include "cuda_check.cuh"
#include "synthetic.cuh"
#include "vae_ops.cuh"
#include "vaead/device.hpp"
#include "vaead/error.hpp"
#include "vaead/philox.hpp"
#include "vaead/synthetic_rows.hpp"

namespace vaead {

std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config) {
  const CudaStatus status = query_cuda();
  if (status.devices.empty())
    throw InputError("the cuda engine needs a CUDA device, and none answers: " + status.reason);
  return std::make_unique<cuda::CudaEngine>(config);
}

namespace cuda {
namespace {

constexpr std::size_t kScoreRows = 16384;  // rows of all models together per scoring pass

int as_int(std::size_t value, const char* what) {
  require(value <= static_cast<std::size_t>(1) << 30,
          std::string(what) + " is too large for the CUDA engine: " + std::to_string(value));
  return static_cast<int>(value);
}

std::vector<ModelSpec> one_model(const EngineConfig& config) {
  return {ModelSpec{config.architecture.latent_dim, config.seed, 0}};
}

}  // namespace

void CudaEngine::GraphDeleter::operator()(cudaGraphExec_t graph) const {
  cudaGraphExecDestroy(graph);
}

CudaEngine::CudaEngine(const EngineConfig& config) : CudaEngine(config, one_model(config), 1) {}

CudaEngine::CudaEngine(const EngineConfig& config, std::vector<ModelSpec> models, int data_slots)
    : config_(config),
      specs_(std::move(models)),
      models_(static_cast<int>(specs_.size())),
      data_slots_(data_slots) {
  require(!specs_.empty() && specs_.size() <= 65535,
          "the CUDA engine trains 1 to 65535 models at once, not " + std::to_string(specs_.size()));
  require(data_slots >= 1, "at least one data slot is needed");
  Architecture padded = config.architecture;
  padded.latent_dim = 0;
  for (const ModelSpec& spec : specs_) {
    require(spec.latent_dim >= 1, "latent sizes must be at least 1");
    require(spec.data_slot >= 0 && spec.data_slot < data_slots,
            "a model's data slot is out of range: " + std::to_string(spec.data_slot));
    padded.latent_dim = std::max(padded.latent_dim, spec.latent_dim);
  }
  config_.architecture = padded;
  config_.seed = specs_[0].seed;
  config_.validate();
  layout_ = make_layout(padded);
  std::map<std::uint64_t, int> order_slot_of;
  std::vector<std::uint64_t> seeds;
  std::vector<int> latents, slots, order_slots;
  for (const ModelSpec& spec : specs_) {
    Architecture own = padded;
    own.latent_dim = spec.latent_dim;
    model_layouts_.push_back(make_layout(own));
    const auto [it, added] =
        order_slot_of.emplace(spec.seed, static_cast<int>(order_seeds_.size()));
    if (added) order_seeds_.push_back(spec.seed);
    seeds.push_back(spec.seed);
    latents.push_back(spec.latent_dim);
    slots.push_back(spec.data_slot);
    order_slots.push_back(it->second);
  }

  // Non-blocking: the engine's work never waits for (nor holds up) the legacy default stream.
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  const auto count = static_cast<std::size_t>(models_);
  model_seed_.resize(count);
  model_latent_.resize(count);
  data_slot_.resize(count);
  order_slot_.resize(count);
  kl_weights_.resize(count);
  frozen_.resize(count);
  model_seed_.upload(seeds.data(), count, stream_);
  model_latent_.upload(latents.data(), count, stream_);
  data_slot_.upload(slots.data(), count, stream_);
  order_slot_.upload(order_slots.data(), count, stream_);
  for (auto* buffer : {&params_, &grads_, &adam_m_, &adam_v_})
    buffer->resize(count * layout_.size);
  state_.resize(count);
  status_.resize(count);
  step_totals_.resize(count * totals_stride_);
  std::vector<float> initial(count * layout_.size);
  for (std::size_t m = 0; m < count; ++m) {
    const std::vector<float> padded_values = embed_parameters(
        model_layouts_[m], layout_, initial_parameters(model_layouts_[m], specs_[m].seed));
    std::copy(padded_values.begin(), padded_values.end(),
              initial.begin() + static_cast<std::ptrdiff_t>(m * layout_.size));
  }
  params_.upload(initial.data(), initial.size(), stream_);
  adam_m_.zero(stream_);
  adam_v_.zero(stream_);
  grads_.zero(stream_);
  reset_state(state_.data(), status_.data(), models_, stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

CudaEngine::~CudaEngine() {
  drop_graphs();
  if (stream_ != nullptr) {
    cudaStreamSynchronize(stream_);
    cudaStreamDestroy(stream_);
  }
}

ModelTable CudaEngine::model_table() const {
  return ModelTable{models_, model_seed_.data(), model_latent_.data()};
}

DataSlots CudaEngine::train_slots() const {
  const auto features = static_cast<long long>(layout_.architecture.input_dim);
  return DataSlots{models_, data_slot_.data(), order_slot_.data(),
                   static_cast<long long>(train_count_) * features,
                   static_cast<long long>(train_count_)};
}

ModelStrides CudaEngine::strides(int rows, int in, int out) const {
  return ModelStrides{models_, static_cast<long long>(rows) * in,
                      static_cast<long long>(rows) * out, static_cast<long long>(layout_.size)};
}

std::vector<float> CudaEngine::parameters_of(int model) const {
  require(model >= 0 && model < models_, "no model " + std::to_string(model));
  std::vector<float> padded(layout_.size);
  params_.download(padded.data(), padded.size(), stream_,
                   static_cast<std::size_t>(model) * layout_.size);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  return embed_parameters(layout_, model_layouts_[static_cast<std::size_t>(model)], padded);
}

// Index `padded_index` of the padded layout, named in model m's own layout (as the CPU engine
// names it for the model alone).
std::string CudaEngine::describe_gradient(std::size_t model, int padded_index) const {
  const ParameterLayout& own = model_layouts_[model];
  const std::optional<std::size_t> index =
      index_in_layout(layout_, static_cast<std::size_t>(padded_index), own);
  return index ? own.describe(*index) : layout_.describe(static_cast<std::size_t>(padded_index));
}

std::vector<float> CudaEngine::gradients() const {
  require(models_ == 1, "gradients() is for a single-model engine");
  return grads_.to_host(stream_);
}

void CudaEngine::set_parameters(std::span<const float> values) {
  require(models_ == 1, "set_parameters is for a single-model engine");
  require(values.size() == layout_.size, "expected " + std::to_string(layout_.size) +
                                             " parameters, got " + std::to_string(values.size()));
  params_.upload(values.data(), values.size(), stream_);
  adam_m_.zero(stream_);
  adam_v_.zero(stream_);
  reset_state(state_.data(), status_.data(), models_, stream_);
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
  const auto models = static_cast<std::size_t>(models_);
  const std::size_t cells = models * rows;  // rows of every model
  const auto latent = static_cast<std::size_t>(arch.latent_dim);
  const std::size_t widest = layout_.widest_activation();
  act.encoder.resize(layout_.encoder.size());
  for (std::size_t e = 0; e < layout_.encoder.size(); ++e)
    act.encoder[e].resize(cells * static_cast<std::size_t>(layout_.encoder[e].out));
  act.decoder.resize(layout_.decoder.size());
  for (std::size_t d = 0; d < layout_.decoder.size(); ++d)
    act.decoder[d].resize(cells * static_cast<std::size_t>(layout_.decoder[d].out));
  for (auto* buffer :
       {&act.mu, &act.logvar_raw, &act.logvar, &act.z, &act.eps, &act.grad_mu, &act.grad_logvar})
    buffer->resize(cells * latent);
  act.grad_a.resize(cells * widest);
  act.grad_b.resize(cells * widest);
  act.batch.resize(cells * static_cast<std::size_t>(arch.input_dim));
  act.reconstruction.resize(cells);
  act.kl.resize(cells);
  act.scores.resize(cells);
  act.capacity = rows;
  if (&act == &train_act_) {
    // The split count grows with the rows, so the capacity's workspace serves every smaller batch.
    std::size_t workspace = 0;
    for (const LinearLayout* l : layout_.layers())
      workspace = std::max(workspace, dense_backward_params_workspace(as_int(rows, "batch"), l->in,
                                                                      l->out, models_));
    workspace_.reserve(workspace);
  }
}

// Everything an epoch over `train_rows` rows needs, allocated before any graph is captured.
void CudaEngine::reserve_epoch(std::size_t train_rows) {
  shuffle_.reserve(train_rows);
  if (orders_.size() < order_seeds_.size() * train_rows) {
    drop_graphs();  // the graphs gather through the old address
    orders_.reserve(order_seeds_.size() * train_rows);
  }
  const auto batch = static_cast<std::size_t>(config_.batch_size);
  const std::size_t stride = 2 * ((train_rows + batch - 1) / batch);
  if (stride > totals_stride_) {
    drop_graphs();
    totals_stride_ = stride;
    step_totals_.resize(static_cast<std::size_t>(models_) * totals_stride_);
  }
}

void CudaEngine::enqueue_forward(Activations& act, const float* x, int rows, const float* eps) {
  const float* input = x;
  for (std::size_t e = 0; e < layout_.encoder.size(); ++e) {
    const LinearLayout& l = layout_.encoder[e];
    dense_forward(input, rows, l.in, weights(l), bias(l), l.out, true, act.encoder[e].data(),
                  stream_, strides(rows, l.in, l.out));
    input = act.encoder[e].data();
  }
  const int latent = layout_.architecture.latent_dim;
  const LinearLayout& mu = layout_.mu;
  dense_forward(input, rows, mu.in, weights(mu), bias(mu), latent, false, act.mu.data(), stream_,
                strides(rows, mu.in, latent));
  const LinearLayout& lv = layout_.logvar;
  dense_forward(input, rows, lv.in, weights(lv), bias(lv), latent, false, act.logvar_raw.data(),
                stream_, strides(rows, lv.in, latent));
  reparameterize_forward(act.mu.data(), act.logvar_raw.data(), eps, models_ * rows, latent,
                         static_cast<float>(config_.logvar_min),
                         static_cast<float>(config_.logvar_max), act.logvar.data(), act.z.data(),
                         stream_);
  input = act.z.data();
  for (std::size_t d = 0; d < layout_.decoder.size(); ++d) {
    const LinearLayout& l = layout_.decoder[d];
    const bool relu = d + 1 < layout_.decoder.size();
    dense_forward(input, rows, l.in, weights(l), bias(l), l.out, relu, act.decoder[d].data(),
                  stream_, strides(rows, l.in, l.out));
    input = act.decoder[d].data();
  }
}

// The CPU engine's backward, layer by layer; act.grad_a holds dLoss/dx_hat on entry.
void CudaEngine::enqueue_backward(Activations& act, const float* x, int rows) {
  float* grad = act.grad_a.data();
  float* spare = act.grad_b.data();
  auto params_grad = [&](const LinearLayout& l, const float* gy, const float* input) {
    dense_backward_params(gy, input, rows, l.in, l.out, grads_.data() + l.weight_offset,
                          grads_.data() + l.bias_offset, workspace_.data(), stream_,
                          strides(rows, l.in, l.out));
  };
  auto input_grad = [&](const LinearLayout& l, const float* gy, bool accumulate,
                        const float* relu_output, float* gx) {
    dense_backward_input(gy, rows, l.out, weights(l), l.in, accumulate, relu_output, gx, stream_,
                         strides(rows, l.in, l.out));
  };
  for (std::size_t d = layout_.decoder.size(); d-- > 0;) {
    const float* input = d == 0 ? act.z.data() : act.decoder[d - 1].data();
    params_grad(layout_.decoder[d], grad, input);
    input_grad(layout_.decoder[d], grad, false, d == 0 ? nullptr : input, spare);
    std::swap(grad, spare);
  }
  reparameterize_backward(
      grad, act.mu.data(), act.logvar.data(), act.logvar_raw.data(), act.eps.data(), models_, rows,
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

// One training step of every model, all on `stream_`, nothing waiting on the host.
void CudaEngine::enqueue_step(int rows, BatchSource batch, NoiseSource noise) {
  Activations& act = train_act_;
  const int features = layout_.architecture.input_dim;
  const int latent = layout_.architecture.latent_dim;
  if (batch == BatchSource::gather)
    gather_batch(train_rows_.data(), orders_.data(), state_.data(), config_.batch_size, rows,
                 features, act.batch.data(), stream_, train_slots());
  if (noise == NoiseSource::drawn)
    draw_eps(model_table(), state_.data(), rows, latent, act.eps.data(), stream_);
  enqueue_forward(act, act.batch.data(), rows, act.eps.data());
  loss_forward_backward(act.batch.data(), act.decoder.back().data(), act.mu.data(),
                        act.logvar.data(), models_, rows, features, latent, model_latent_.data(),
                        act.reconstruction.data(), act.kl.data(), act.grad_a.data(), stream_);
  sum_loss_parts(act.reconstruction.data(), act.kl.data(), models_, rows, state_.data(),
                 step_totals_.data(), totals_stride_, stream_);
  enqueue_backward(act, act.batch.data(), rows);
  check_finite(step_totals_.data(), totals_stride_, grads_.data(), layout_.size, models_,
               latent_padding(layout_), model_latent_.data(), state_.data(), status_.data(),
               stream_);
  const AdamConfig& adam = config_.adam;
  adam_update(params_.data(), grads_.data(), adam_m_.data(), adam_v_.data(), layout_.size, models_,
              AdamHyper{adam.learning_rate, adam.beta1, adam.beta2, adam.epsilon}, state_.data(),
              status_.data(), stream_);
  advance_step(state_.data(), status_.data(), models_, stream_);
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
  require(data_slots_ == 1, "set_training_data gives every model the same rows: one data slot");
  drop_graphs();
  train_rows_.resize(rows.values.size());
  train_rows_.upload(rows.values.data(), rows.values.size(), stream_);
  train_count_ = rows.rows;
  reserve_epoch(train_count_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

EpochResult CudaEngine::train_epoch(int epoch, double kl_weight) {
  require(models_ == 1, "train_epoch is for a single-model engine; use train_epochs");
  return train_epochs(epoch, std::span<const double>(&kl_weight, 1))[0];
}

std::vector<EpochResult> CudaEngine::train_epochs(int epoch, std::span<const double> kl_weights,
                                                  std::span<const std::uint8_t> frozen) {
  require(train_count_ > 0, "train_epoch called before set_training_data");
  require(kl_weights.size() == static_cast<std::size_t>(models_), "one KL weight per model");
  require(frozen.empty() || frozen.size() == static_cast<std::size_t>(models_),
          "one frozen flag per model, or none");
  const auto batch = static_cast<std::size_t>(config_.batch_size);
  const std::size_t full = train_count_ / batch, last = train_count_ % batch;
  const std::size_t steps = full + (last > 0 ? 1 : 0);
  reserve(train_act_, std::min(train_count_, batch));
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
    shuffle_.compute(order_seeds_[o], static_cast<std::uint32_t>(Stream::shuffle),
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
  for (std::size_t m = 0; m < models; ++m) {
    const TrainingStatus& status = statuses[m];
    const double* model_totals = totals.data() + m * totals_stride_;
    EpochResult& result = results[m];
    if (status.failed_step == kFrozenStep) continue;  // took no step: nothing to report
    result.steps = status.failed_step >= 0 ? status.failed_step : static_cast<int>(steps);
    double seen = 0.0;
    for (int s = 0; s < result.steps; ++s) {
      const double rows = static_cast<std::size_t>(s) < full ? static_cast<double>(batch)
                                                             : static_cast<double>(last);
      const double reconstruction = model_totals[2 * s] / rows, kl = model_totals[2 * s + 1] / rows;
      result.mean.reconstruction += reconstruction * rows;
      result.mean.kl += kl * rows;
      result.mean.loss += (reconstruction + kl_weights[m] * kl) * rows;
      seen += rows;
    }
    if (seen > 0) {
      result.mean.loss /= seen;
      result.mean.reconstruction /= seen;
      result.mean.kl /= seen;
    }
    if (status.failed_step >= 0)
      result.non_finite = NonFinite{
          status.failed_step, status.loss_non_finite != 0
                                  ? std::string("loss")
                                  : "gradient of " + describe_gradient(m, status.bad_gradient)};
  }
  return results;
}

LossParts CudaEngine::train_step(const Matrix& batch, const Matrix* eps, double kl_weight) {
  require(models_ == 1, "train_step is for a single-model engine");
  const auto latent = static_cast<std::size_t>(layout_.architecture.latent_dim);
  require(batch.cols == static_cast<std::size_t>(layout_.architecture.input_dim) && batch.rows > 0,
          "a training batch needs rows of " + std::to_string(layout_.architecture.input_dim) +
              " features");
  require(eps == nullptr || (eps->rows == batch.rows && eps->cols == latent),
          "eps must be batch rows x latent_dim");
  reserve(train_act_, batch.rows);
  train_act_.batch.upload(batch.values.data(), batch.values.size(), stream_);
  if (eps != nullptr) train_act_.eps.upload(eps->values.data(), eps->values.size(), stream_);
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

void CudaEngine::score_device_rows(const float* rows, const DataSlots& slots, std::size_t count,
                                   float* scores, float* per_feature) {
  const int features = layout_.architecture.input_dim;
  const std::size_t rows_per_pass =
      std::max<std::size_t>(256, kScoreRows / static_cast<std::size_t>(models_));
  reserve(score_act_, std::min(rows_per_pass, count));
  for (std::size_t start = 0; start < count; start += rows_per_pass) {
    const int chunk = static_cast<int>(std::min(rows_per_pass, count - start));
    gather_chunk(rows, slots, start, chunk, features, score_act_.batch.data(), stream_);
    enqueue_forward(score_act_, score_act_.batch.data(), chunk, nullptr);  // z = mu
    reconstruction_scores(
        score_act_.batch.data(), score_act_.decoder.back().data(), models_ * chunk, features,
        score_act_.scores.data(),
        per_feature == nullptr ? nullptr : per_feature + start * static_cast<std::size_t>(features),
        stream_);
    // [models][chunk] -> columns start .. start + chunk of [models][count]
    CUDA_CHECK(cudaMemcpy2DAsync(scores + start, count * sizeof(float), score_act_.scores.data(),
                                 static_cast<std::size_t>(chunk) * sizeof(float),
                                 static_cast<std::size_t>(chunk) * sizeof(float),
                                 static_cast<std::size_t>(models_), cudaMemcpyDeviceToDevice,
                                 stream_));
  }
  scored_count_ = count;
}

std::vector<std::vector<float>> CudaEngine::last_scores(std::size_t count) const {
  std::vector<float> flat(static_cast<std::size_t>(models_) * count);
  scores_.download(flat.data(), flat.size(), stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  std::vector<std::vector<float>> out;
  for (std::size_t m = 0; m < static_cast<std::size_t>(models_); ++m)
    out.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(m * count),
                     flat.begin() + static_cast<std::ptrdiff_t>((m + 1) * count));
  return out;
}

void CudaEngine::score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) {
  require(models_ == 1, "score is for a single-model engine; use score_models");
  require(scores.size() == rows.rows, "one score per row is needed");
  if (rows.rows == 0) return;
  if (per_feature == nullptr) {
    const std::vector<std::vector<float>> all = score_models(rows);
    std::copy(all[0].begin(), all[0].end(), scores.begin());
    return;
  }
  const auto features = static_cast<std::size_t>(layout_.architecture.input_dim);
  require(rows.cols == features, "rows to score have " + std::to_string(rows.cols) +
                                     " features, the model expects " + std::to_string(features));
  DeviceBuffer<float> device_rows(rows.values.size()), device_errors(rows.values.size());
  device_rows.upload(rows.values.data(), rows.values.size(), stream_);
  scores_.reserve(rows.rows);
  score_device_rows(device_rows.data(), DataSlots{1}, rows.rows, scores_.data(),
                    device_errors.data());
  scores_.download(scores.data(), rows.rows, stream_);
  *per_feature = Matrix(rows.rows, features);
  device_errors.download(per_feature->data(), per_feature->values.size(), stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

std::vector<std::vector<float>> CudaEngine::score_models(const Matrix& rows) {
  const auto features = static_cast<std::size_t>(layout_.architecture.input_dim);
  require(rows.cols == features, "rows to score have " + std::to_string(rows.cols) +
                                     " features, the model expects " + std::to_string(features));
  require(rows.rows > 0, "no rows to score");
  DeviceBuffer<float> device_rows(rows.values.size());
  device_rows.upload(rows.values.data(), rows.values.size(), stream_);
  scores_.reserve(static_cast<std::size_t>(models_) * rows.rows);
  score_device_rows(device_rows.data(), DataSlots{models_}, rows.rows, scores_.data(), nullptr);
  return last_scores(rows.rows);
}

std::vector<std::vector<float>> CudaEngine::score_resident_models(ResidentSplit split) {
  const bool validation = split == ResidentSplit::validation;
  const std::size_t count = validation ? validation_count_ : test_count_;
  require(count > 0, "score_resident called before load_synthetic");
  const auto features = static_cast<long long>(layout_.architecture.input_dim);
  const DataSlots slots{models_, data_slot_.data(), nullptr,
                        static_cast<long long>(count) * features, 0};
  scores_.reserve(static_cast<std::size_t>(models_) * count);
  score_device_rows(validation ? validation_rows_.data() : test_rows_.data(), slots, count,
                    scores_.data(), nullptr);
  return last_scores(count);
}

std::vector<float> CudaEngine::score_resident(ResidentSplit split) {
  require(models_ == 1, "score_resident is for a single-model engine");
  return score_resident_models(split)[0];
}

std::vector<RankingMetrics> CudaEngine::rank_last_scores(
    const std::vector<std::vector<std::uint8_t>>& labels) {
  require(labels.size() == static_cast<std::size_t>(models_), "one label vector per model");
  const std::size_t count = scored_count_;
  require(count > 0, "rank_last_scores needs scores");
  std::vector<std::uint8_t> flat;
  for (const auto& model_labels : labels) {
    require(model_labels.size() == count, "one label per scored row is needed");
    flat.insert(flat.end(), model_labels.begin(), model_labels.end());
  }
  labels_.reserve(flat.size());
  labels_.upload(flat.data(), flat.size(), stream_);
  return device_ranking_metrics_segmented(
      scores_.data(), labels_.data(), static_cast<std::size_t>(models_), count, stream_, &ranking_);
}

ResidentSplits CudaEngine::load_synthetic(const SyntheticConfig& config) {
  require(data_slots_ == 1, "load_synthetic fills one data slot; use load_synthetic_slots");
  return load_synthetic_slots(std::span<const SyntheticConfig>(&config, 1))[0];
}

std::vector<ResidentSplits> CudaEngine::load_synthetic_slots(
    std::span<const SyntheticConfig> configs) {
  require(configs.size() == static_cast<std::size_t>(data_slots_), "one configuration per slot");
  const int features = layout_.architecture.input_dim;
  const SyntheticConfig& first = configs[0];
  for (const SyntheticConfig& config : configs)
    require(config.train_rows == first.train_rows &&
                config.validation_rows == first.validation_rows &&
                config.test_rows == first.test_rows,
            "every data slot needs the same row counts");
  drop_graphs();
  const auto per_slot = [&](int rows) {
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(features);
  };
  const auto slots = configs.size();
  train_rows_.resize(slots * per_slot(first.train_rows));
  validation_rows_.resize(slots * per_slot(first.validation_rows));
  test_rows_.resize(slots * per_slot(first.test_rows));

  std::vector<ResidentSplits> all;
  for (std::size_t s = 0; s < slots; ++s) {
    const SyntheticConfig& config = configs[s];
    const synthetic::Params p = synthetic::params_of(config);
    require(static_cast<int>(p.features) == features,
            "the synthetic data has " + std::to_string(p.features) + " features, the model " +
                std::to_string(features));
    float* train = train_rows_.data() + s * per_slot(config.train_rows);
    float* validation = validation_rows_.data() + s * per_slot(config.validation_rows);
    float* test = test_rows_.data() + s * per_slot(config.test_rows);
    DeviceBuffer<float> loadings(static_cast<std::size_t>(p.factors) * p.features);
    synthetic_loadings(p, loadings.data(), stream_);
    synthetic_normal_rows(p, loadings.data(), synthetic::kTrain, config.train_rows, train, stream_);
    synthetic_normal_rows(p, loadings.data(), synthetic::kValidation, config.validation_rows,
                          validation, stream_);
    synthetic_normal_rows(p, loadings.data(), synthetic::kTest, config.test_rows, test, stream_);

    // Moments of the raw training rows: the anomalies' sigma_j and the standardizer.
    DeviceBuffer<double> mean(p.features), std(p.features), scale(p.features);
    column_moments(train, config.train_rows, features, mean.data(), std.data(), stream_);
    DevicePermutation layout;
    layout.compute(config.seed, static_cast<std::uint32_t>(Stream::anomaly_layout), 0,
                   static_cast<std::size_t>(config.test_rows), stream_);
    DeviceBuffer<std::uint8_t> kinds(static_cast<std::size_t>(config.test_rows));
    assign_anomaly_kinds(layout.order(), config.test_rows, anomaly_counts(config), kinds.data(),
                         stream_);
    plant_anomalies(p, kinds.data(), std.data(), config.test_rows, test, stream_);

    ResidentSplits splits;
    splits.standardizer = Standardizer::from_moments(mean.to_host(stream_), std.to_host(stream_));
    scale.upload(splits.standardizer.scale.data(), p.features, stream_);
    standardize(train, config.train_rows, features, mean.data(), scale.data(), stream_);
    standardize(validation, config.validation_rows, features, mean.data(), scale.data(), stream_);
    standardize(test, config.test_rows, features, mean.data(), scale.data(), stream_);
    const std::vector<std::uint8_t> kind_codes = kinds.to_host(stream_);
    splits.train_rows = static_cast<std::size_t>(config.train_rows);
    splits.validation_rows = static_cast<std::size_t>(config.validation_rows);
    splits.test_rows = static_cast<std::size_t>(config.test_rows);
    for (std::uint8_t code : kind_codes) {
      splits.test_kinds.push_back(static_cast<AnomalyKind>(code));
      splits.test_labels.push_back(code != 0 ? 1 : 0);
    }
    CUDA_CHECK(cudaStreamSynchronize(stream_));  // the slot's temporaries are freed next
    all.push_back(std::move(splits));
  }
  train_count_ = static_cast<std::size_t>(first.train_rows);
  validation_count_ = static_cast<std::size_t>(first.validation_rows);
  test_count_ = static_cast<std::size_t>(first.test_rows);
  reserve_epoch(train_count_);
  return all;
}

}  // namespace cuda
}  // namespace vaead

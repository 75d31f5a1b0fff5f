// The CUDA engine's state: construction, parameters and optimizer moments, activation buffers.
#include "cuda/cuda_engine.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include "cuda/engine_factory.hpp"
#include "cuda/fused_layout.hpp"
#include "cuda/sizes.hpp"
#include "cuda_check.cuh"
#include "dense.cuh"
#include "fused_step.cuh"
#include "vae_ops.cuh"
#include "vaead/train/device.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

// Floats of the tiled step's weight-gradient partials for `models` models at a batch of `rows`
// (the heads' pair counted as one product). The chunks never grow when the rows shrink, so this
// serves every smaller batch too.
std::size_t weight_gradient_workspace(const NetworkPlan& plan, int rows, int models) {
  std::size_t workspace = 0;
  for (const PlanStep& step : plan.backward)
    if (step.op == PlanOp::dense_params_grad)
      workspace = std::max(
          workspace, cuda::dense_backward_params_workspace(
                         rows, step.layer.in, step.layer.out * (step.with_next ? 2 : 1), models));
  return workspace;
}

}  // namespace

std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config) {
  const CudaStatus status = query_cuda();
  if (status.devices.empty())
    throw InputError("the cuda engine needs a CUDA device, and none answers: " + status.reason);
  return std::make_unique<cuda::CudaEngine>(config);
}

std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config, const EngineModels& models) {
  const CudaStatus status = query_cuda();
  if (status.devices.empty())
    throw InputError("the cuda engine needs a CUDA device, and none answers: " + status.reason);
  return std::make_unique<cuda::CudaEngine>(config, models.specs, models.data_slots);
}

std::string cuda_training_path(const EngineConfig& config) {
  if (config.gpu_math == GpuMath::fp32) return "tiled fp32";
  const cuda::FusedLayout fused = cuda::make_fused_layout(make_layout(config.architecture));
  if (!fused.unfit.empty())
    return "tiled fp32 (the fused step cannot take this network: " + fused.unfit + ")";
  return std::string("fused ") + gpu_math_name(config.gpu_math);
}

CudaFootprint cuda_footprint(const EngineConfig& config, const DataShape& data) {
  const ParameterLayout layout = make_layout(config.architecture);
  const NetworkPlan plan = make_plan(layout);
  std::size_t widths = 0;  // floats of one row of every activation buffer
  for (const PlanBuffer& buffer : plan.buffers)
    widths += static_cast<std::size_t>(buffer.width);
  const auto batch = static_cast<std::size_t>(config.batch_size);
  const std::size_t scored = std::max(data.validation_rows, data.test_rows);
  const auto floats = [](std::size_t count) { return count * sizeof(float); };
  CudaFootprint out;
  // Parameters, gradients, Adam's two moments; a batch's activations, its loss terms and scores.
  out.per_model = floats(4 * layout.size) + batch * (floats(widths) + 2 * sizeof(double) + 4);
  // The tiled step's weight-gradient partials, or the fused step's packed copy and partials.
  out.per_model += floats(weight_gradient_workspace(plan, cuda::as_int(batch, "batch"), 1));
  if (config.gpu_math != GpuMath::fp32) {
    const cuda::FusedLayout fused = cuda::make_fused_layout(layout);
    if (fused.unfit.empty())
      out.per_model += floats(static_cast<std::size_t>(fused.shape.packed_size) *
                              (1 + static_cast<std::size_t>(cuda::fused_blocks_per_model(
                                       cuda::as_int(batch, "batch")))));
  }
  // Scores and labels of the validation or test rows, their ranking's keys (CUB sort), the epoch's
  // loss sums, and scoring activations: a pass holds min(scored, max(256, kScoreRows / models))
  // rows of each model: at most 256 of each, and kScoreRows more in all (in `fixed`).
  out.per_model += scored * (sizeof(float) + 1 + 16) +
                   floats(std::min<std::size_t>(scored, 256) * widths) +
                   2 * sizeof(double) * (data.train_rows / batch + 1);
  // Its data slot (every split, the shuffle's order, the test rows' kinds).
  const auto features = static_cast<std::size_t>(data.features);
  out.per_model += floats(features * (data.train_rows + data.validation_rows + data.test_rows) +
                          data.train_rows) +
                   data.test_rows;
  // Scoring passes of kScoreRows rows of every model together; the epoch's shuffle.
  out.fixed = floats((scored > 256 ? cuda::kScoreRows : 0) * widths + data.train_rows);
  return out;
}

std::size_t cuda_free_memory() {
  std::size_t free = 0, total = 0;
  CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return free;
}

namespace cuda {
namespace {

std::vector<ModelSpec> one_model(const EngineConfig& config) {
  return {
      ModelSpec{.latent_dim = config.architecture.latent_dim, .seed = config.seed, .data_slot = 0}};
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
  plan_ = make_plan(layout_);
  for (const ModelSpec& spec : specs_) {
    Architecture own = padded;
    own.latent_dim = spec.latent_dim;
    model_layouts_.push_back(make_layout(own));
  }
  // Non-blocking: the engine's work never waits for (nor holds up) the legacy default stream.
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  // A constructor that throws runs no destructor: the stream is given back here (the buffers
  // free themselves). The device being full is what a sweep's waves recover from.
  try {
    upload_model_table();
    initialize_parameters();
    if (config_.gpu_math != GpuMath::fp32) {
      fused_layout_ = make_fused_layout(layout_);
      fused_ = fused_layout_.unfit.empty();
    }
    if (fused_) prepare_fused_copy();
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  } catch (...) {
    cudaStreamDestroy(stream_);
    throw;
  }
}

void CudaEngine::upload_model_table() {
  std::map<std::uint64_t, int> order_slot_of;
  std::vector<std::uint64_t> seeds;
  std::vector<int> latents, slots, order_slots;
  for (const ModelSpec& spec : specs_) {
    const auto [it, added] =
        order_slot_of.emplace(spec.seed, static_cast<int>(order_seeds_.size()));
    if (added) order_seeds_.push_back(spec.seed);
    seeds.push_back(spec.seed);
    latents.push_back(spec.latent_dim);
    slots.push_back(spec.data_slot);
    order_slots.push_back(it->second);
  }
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
}

void CudaEngine::initialize_parameters() {
  const auto count = static_cast<std::size_t>(models_);
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
}

void CudaEngine::prepare_fused_copy() {
  const FusedShape& shape = fused_layout_.shape;
  prepare_fused_step(shape, tensor_math());
  packed_index_.resize(layout_.size);
  packed_index_.upload(fused_layout_.packed_index.data(), layout_.size, stream_);
  packed_.resize(static_cast<std::size_t>(models_) * static_cast<std::size_t>(shape.packed_size));
  packed_.zero(stream_);
  pack_parameters(params_.data(), layout_.size, packed_index_.data(), shape.packed_size, models_,
                  packed_.data(), stream_);
}

std::string CudaEngine::training_path() const {
  return cuda_training_path(config_);
}

void CudaEngine::reserve_fused(std::size_t rows) {
  if (!fused_) return;
  const int blocks = fused_blocks_per_model(as_int(rows, "batch"));
  const std::size_t needed = static_cast<std::size_t>(models_) * static_cast<std::size_t>(blocks) *
                             static_cast<std::size_t>(fused_layout_.shape.packed_size);
  if (needed > partials_.size()) {
    drop_graphs();  // the graphs hold the old address
    partials_.reserve(needed);
  }
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

OptimizerState CudaEngine::optimizer_state(int model) const {
  require(model >= 0 && model < models_, "no model " + std::to_string(model));
  const std::size_t offset = static_cast<std::size_t>(model) * layout_.size;
  const ParameterLayout& own = model_layouts_[static_cast<std::size_t>(model)];
  OptimizerState out;
  for (auto [buffer, values] :
       {std::pair{&params_, &out.parameters}, std::pair{&adam_m_, &out.first_moment},
        std::pair{&adam_v_, &out.second_moment}}) {
    std::vector<float> padded(layout_.size);
    buffer->download(padded.data(), padded.size(), stream_, offset);
    CUDA_CHECK(cudaStreamSynchronize(stream_));
    *values = embed_parameters(layout_, own, padded);
  }
  const std::vector<StepState> states = state_.to_host(stream_);
  out.steps = states[static_cast<std::size_t>(model)].global_step;
  return out;
}

void CudaEngine::set_optimizer_state(int model, const OptimizerState& state) {
  require(model >= 0 && model < models_, "no model " + std::to_string(model));
  const ParameterLayout& own = model_layouts_[static_cast<std::size_t>(model)];
  require(state.parameters.size() == own.size && state.first_moment.size() == own.size &&
              state.second_moment.size() == own.size && state.steps >= 0,
          "an optimizer state of " + std::to_string(state.parameters.size()) +
              " parameters for a model of " + std::to_string(own.size));
  const std::size_t offset = static_cast<std::size_t>(model) * layout_.size;
  for (auto [buffer, values] :
       {std::pair{&params_, &state.parameters}, std::pair{&adam_m_, &state.first_moment},
        std::pair{&adam_v_, &state.second_moment}}) {
    const std::vector<float> padded = embed_parameters(own, layout_, *values);
    buffer->upload(padded.data(), padded.size(), stream_, offset);
    CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  std::vector<StepState> states = state_.to_host(stream_);
  states[static_cast<std::size_t>(model)].global_step = state.steps;
  states[static_cast<std::size_t>(model)].step_in_epoch = 0;
  state_.upload(states.data(), states.size(), stream_);
  if (fused_)
    pack_parameters(params_.data(), layout_.size, packed_index_.data(),
                    fused_layout_.shape.packed_size, models_, packed_.data(), stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
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
  if (fused_)
    pack_parameters(params_.data(), layout_.size, packed_index_.data(),
                    fused_layout_.shape.packed_size, models_, packed_.data(), stream_);
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
  const std::size_t cells = static_cast<std::size_t>(models_) * rows;  // rows of every model
  act.buffers.resize(plan_.buffers.size());
  for (std::size_t id = 0; id < act.buffers.size(); ++id)
    act.buffers[id].resize(cells * static_cast<std::size_t>(plan_.buffers[id].width));
  act.reconstruction.resize(cells);
  act.kl.resize(cells);
  act.scores.resize(cells);
  act.capacity = rows;
  if (&act == &train_act_) {
    workspace_.reserve(weight_gradient_workspace(plan_, as_int(rows, "batch"), models_));
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

}  // namespace cuda
}  // namespace vaead

// The Engine: the one seam between the algorithm and the hardware. It owns the parameters, the
// optimizer state and the resident training rows; everything above it (trainer, scorer, metrics,
// experiment) is shared by every engine.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vaead/data/dataset.hpp"
#include "vaead/data/matrix.hpp"
#include "vaead/data/standardizer.hpp"
#include "vaead/data/synthetic.hpp"
#include "vaead/model/model.hpp"

namespace vaead {

struct AdamConfig {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
};

// How the CUDA engine multiplies in training: fp32 runs the tiled FP32 kernels (a launch per
// layer and pass); tf32 and tf32x3 run the fused step (the whole network in one kernel on the
// tensor cores; TF32 operands, or three TF32 products that are as accurate as FP32), where the
// network fits it. The CPU engine ignores it.
enum class GpuMath { fp32, tf32, tf32x3 };

struct EngineConfig {
  Architecture architecture;
  AdamConfig adam;
  double logvar_min = -10.0;  // logvar is clamped to [logvar_min, logvar_max] (torch.clamp)
  double logvar_max = 10.0;
  int batch_size = 256;
  std::uint64_t seed = 0;  // initial parameters, the epoch shuffles and the eps draws
  int threads = 0;         // CPU threads; 0 = every core
  GpuMath gpu_math = GpuMath::fp32;

  // Throws InputError naming the first invalid value.
  void validate() const;
};

// Means over the samples of a batch (or an epoch): loss = reconstruction + kl_weight * kl.
struct LossParts {
  double loss = 0.0;
  double reconstruction = 0.0;  // sum over features of (x - xhat)^2
  double kl = 0.0;              // KL(q(z|x) || N(0, I)), unweighted
};

// The first non-finite value training met: at which step of the epoch, in which quantity.
struct NonFinite {
  std::int64_t step = -1;
  std::string quantity;  // "loss" or "gradient of encoder.0.weight[17]"
};

struct EpochResult {
  LossParts mean;  // over the samples of the epoch
  int steps = 0;
  std::optional<NonFinite> non_finite;  // set: the epoch stopped there, no update was applied
  // The model's own time in the epoch where the engine measures it (the CPU engine, whose models
  // train on threads of their own); 0 where it cannot (the CUDA engine, whose models share every
  // kernel): the trainer then takes the wall time of the epoch of every model.
  double seconds = 0.0;
};

enum class EngineKind { cpu, cuda };

// What the user asked for with --device.
enum class DeviceChoice { automatic, cpu, cuda };

// automatic: cuda when this build has CUDA and a device answers, otherwise cpu. cuda where none
// answers is an InputError that says why.
EngineKind resolve_device(DeviceChoice choice);
const char* engine_kind_name(EngineKind kind);  // "cpu", "cuda"
const char* gpu_math_name(GpuMath math);        // "fp32", "tf32", "3xtf32"
// The GpuMath gpu_math_name gives `name`; nullopt for any other text.
std::optional<GpuMath> gpu_math_named(std::string_view name);
// The rows and features a sweep's models train and are scored on.
struct DataShape {
  std::size_t train_rows = 0, validation_rows = 0, test_rows = 0;
  int features = 0;
};

// Device memory the CUDA engine needs (cuda_footprint): per model, and for the engine itself.
struct CudaFootprint {
  std::size_t per_model = 0, fixed = 0;
};

// How many of `count` models of `config` the engine of `kind` trains at once in its memory: on the
// GPU, as many as the device's free memory holds by cuda_footprint (at least 1); every model on
// the CPU.
std::size_t models_that_fit(EngineKind kind, const EngineConfig& config, const DataShape& data,
                            std::size_t count);

// How the CUDA engine trains this configuration's network: "fused tf32", "fused 3xtf32", or
// "tiled fp32" (with why, where the fused step was asked for and cannot take the network).
std::string cuda_training_path(const EngineConfig& config);

// For one of `local_size` processes on a node (MPI ranks), `local_rank` among them: its share of
// the node's engines of `kind`, the devices in turn by local rank (this process's current device),
// or the cores divided among the processes (into config.threads, when that is 0 = every core).
void take_node_share(EngineKind kind, int local_rank, int local_size, EngineConfig& config);

// Synthetic splits drawn and standardized inside an engine: what the host needs of them.
struct ResidentSplits {
  std::size_t train_rows = 0;
  std::size_t validation_rows = 0;
  std::size_t test_rows = 0;
  std::vector<std::uint8_t> test_labels;
  std::vector<AnomalyKind> test_kinds;
  Standardizer standardizer;  // fit on the raw training rows
};

enum class ResidentSplit { validation, test };

// One of the models an engine trains side by side (a point of a sweep).
struct ModelSpec {
  int latent_dim = 1;
  std::uint64_t seed = 0;
  int data_slot = 0;  // the resident data set it trains on and is scored on
};

// Several models in one engine: the models, the data sets they train on and, on the CPU, how many
// train at once (0: one per core, each with the remaining cores' share of the threads; 1: one after
// another, each with every thread). Results do not depend on `concurrency`.
struct EngineModels {
  std::vector<ModelSpec> specs;
  int data_slots = 1;
  int concurrency = 0;
};

// ROC-AUC and average precision of a model's scores, computed by an engine where they live.
struct Ranking {
  double roc_auc = 0.0;
  double average_precision = 0.0;
};

// What a model's training carries from one epoch to the next: with it, training goes on as if it
// had never stopped (the shuffles and the noise are functions of the seed, the epoch and the step).
struct OptimizerState {
  std::vector<float> parameters, first_moment, second_moment;  // the model's own layout
  std::int64_t steps = 0;  // Adam updates taken: its bias correction, and the noise's counter
};

// One model, or several side by side: every model shares the engine's configuration but for its
// latent size, its seed (initial parameters, shuffles, noise) and its data slot. The CPU engine
// spreads the models over its threads; the CUDA engine makes the model a launch dimension of every
// kernel.
class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::string name() const = 0;

  // ---- Every model.
  virtual int models() const = 0;
  // Model m's parameters in its own layout.
  virtual std::vector<float> parameters_of(int model) const = 0;
  // Model m's parameters and Adam's state, between epochs; and the same set back (a training
  // resumed from its checkpoint).
  virtual OptimizerState optimizer_state(int model) const = 0;
  virtual void set_optimizer_state(int model, const OptimizerState& state) = 0;
  // Makes standardized training rows resident: every model trains on them (one data slot).
  virtual void set_training_data(const Matrix& rows) = 0;
  // Draws data slot s with configs[s] where the engine computes (the CUDA engine on the device),
  // fits each slot's standardizer on its training rows, standardizes every split, and makes the
  // training rows resident. Both engines draw the same rows.
  virtual std::vector<ResidentSplits> load_synthetic_slots(
      std::span<const SyntheticConfig> configs) = 0;
  // Training rows of a data slot (every slot holds as many).
  virtual std::size_t training_rows() const = 0;
  // One pass of every model over its resident rows in an order shuffled by (its seed, epoch):
  // batches of batch_size, the last one partial; each batch is forward, backward and one Adam
  // update. Model m trains with kl_weights[m]; a model with frozen[m] set (empty: none) takes no
  // step and keeps its parameters, and its result is empty.
  virtual std::vector<EpochResult> train_epochs(int epoch, std::span<const double> kl_weights,
                                                std::span<const std::uint8_t> frozen = {}) = 0;
  // Deterministic scores [model][row] (see score) of `rows`, or of each model's own slot's
  // resident validation or test rows.
  virtual std::vector<std::vector<float>> score_models(const Matrix& rows) = 0;
  virtual std::vector<std::vector<float>> score_resident_models(ResidentSplit split) = 0;
  // The metrics' accelerator: ROC-AUC and AP of each model's last scores (score_models or
  // score_resident_models) computed where the scores live, against `labels` (one per scored row,
  // the same for every model) or, when `labels` is empty, against the labels of the resident test
  // rows the scores came from, which then never leave the engine. nullopt when the engine has no
  // accelerator (the metrics code ranks on the host); a model whose rows lack a class, or whose
  // scores hold a NaN, gets NaN.
  virtual std::optional<std::vector<Ranking>> rank_last_scores(
      std::span<const std::uint8_t> labels) {
    (void)labels;
    return std::nullopt;
  }

  // ---- An engine of one model (models() == 1).
  virtual const ParameterLayout& layout() const = 0;
  std::vector<float> parameters() const { return parameters_of(0); }
  // Replaces every parameter and resets the optimizer (moments and step count).
  virtual void set_parameters(std::span<const float> values) = 0;
  // Gradients of the last train_step or of the last step of train_epoch.
  virtual std::vector<float> gradients() const = 0;
  EpochResult train_epoch(int epoch, double kl_weight);
  // One forward, backward and Adam update on `batch`. With `eps` (rows x latent_dim) the noise of
  // the reparameterization is taken from it; without, it is drawn as train_epoch draws it. As in
  // train_epoch, a non-finite loss or gradient takes no update and does not advance the step.
  virtual LossParts train_step(const Matrix& batch, const Matrix* eps, double kl_weight) = 0;
  ResidentSplits load_synthetic(const SyntheticConfig& config);
  std::vector<float> score_resident(ResidentSplit split);
  // Deterministic scores (Scorer): mean over features of (x - decoder(mu(x)))^2, one per row; with
  // `per_feature`, also each feature's squared error (resized to rows x features).
  virtual void score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) = 0;
};

// The engines' checks of what they are given, with the same words for every engine: InputError
// unless `cols` is the architecture's input width ("<what> have 3 features, the model expects 5"),
// and unless `batch` (at least one row) and `eps` (none, or batch rows x latent_dim) fit a step.
void require_features(std::size_t cols, const Architecture& architecture, const std::string& what);
void require_step_inputs(const Architecture& architecture, const Matrix& batch, const Matrix* eps);

// An engine of `kind` with freshly initialized parameters; throws InputError when `kind` is not
// available in this build or on this machine.
std::unique_ptr<Engine> make_engine(EngineKind kind, const EngineConfig& config);
// An engine of `kind` training `models` side by side (config's latent_dim and seed are not used).
std::unique_ptr<Engine> make_engine(EngineKind kind, const EngineConfig& config,
                                    const EngineModels& models);

}  // namespace vaead

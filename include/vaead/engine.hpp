// The Engine: the one seam between the algorithm and the hardware. It owns the parameters, the
// optimizer state and the resident training rows; everything above it (trainer, scorer, metrics,
// experiment) is shared by every engine.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vaead/dataset.hpp"
#include "vaead/matrix.hpp"
#include "vaead/model.hpp"
#include "vaead/standardizer.hpp"
#include "vaead/synthetic.hpp"

namespace vaead {

struct AdamConfig {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
};

struct EngineConfig {
  Architecture architecture;
  AdamConfig adam;
  double logvar_min = -10.0;  // logvar is clamped to [logvar_min, logvar_max] (torch.clamp)
  double logvar_max = 10.0;
  int batch_size = 256;
  std::uint64_t seed = 0;  // initial parameters, the epoch shuffles and the eps draws
  int threads = 0;         // CPU threads; 0 = every core

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
};

enum class EngineKind { cpu, cuda };

// What the user asked for with --device.
enum class DeviceChoice { automatic, cpu, cuda };

// automatic: cuda when this build has CUDA and a device answers, otherwise cpu. cuda where none
// answers is an InputError that says why.
EngineKind resolve_device(DeviceChoice choice);
const char* engine_kind_name(EngineKind kind);  // "cpu", "cuda"

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

class Engine {
 public:
  virtual ~Engine() = default;

  virtual std::string name() const = 0;
  virtual const ParameterLayout& layout() const = 0;

  virtual std::vector<float> parameters() const = 0;
  // Replaces every parameter and resets the optimizer (moments and step count).
  virtual void set_parameters(std::span<const float> values) = 0;
  // Gradients of the last train_step or of the last step of train_epoch.
  virtual std::vector<float> gradients() const = 0;

  // Makes standardized training rows resident in the engine.
  virtual void set_training_data(const Matrix& rows) = 0;
  // One pass over the resident rows in an order shuffled by (seed, epoch): batches of batch_size,
  // the last one partial; each batch is forward, backward and one Adam update.
  virtual EpochResult train_epoch(int epoch, double kl_weight) = 0;
  // One forward, backward and Adam update on `batch`. With `eps` (rows x latent_dim) the noise of
  // the reparameterization is taken from it; without, it is drawn as train_epoch draws it. As in
  // train_epoch, a non-finite loss or gradient takes no update and does not advance the step.
  virtual LossParts train_step(const Matrix& batch, const Matrix* eps, double kl_weight) = 0;

  // Draws the synthetic splits where the engine computes (the CUDA engine on the device), fits the
  // standardizer on the training rows, standardizes every split, and makes the training rows
  // resident as set_training_data does. Both engines draw the same rows.
  virtual ResidentSplits load_synthetic(const SyntheticConfig& config) = 0;
  // Scores of the resident validation or test rows of load_synthetic.
  virtual std::vector<float> score_resident(ResidentSplit split) = 0;
  // Rows made resident by set_training_data or load_synthetic.
  virtual std::size_t training_rows() const = 0;

  // Deterministic scores: mean over features of (x - decoder(mu(x)))^2, one per row; with
  // `per_feature`, also each feature's squared error (resized to rows x features).
  virtual void score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) = 0;
};

// An engine of `kind` with freshly initialized parameters; throws InputError when `kind` is not
// available in this build or on this machine.
std::unique_ptr<Engine> make_engine(EngineKind kind, const EngineConfig& config);

}  // namespace vaead

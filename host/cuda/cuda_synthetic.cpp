// The CUDA engine's synthetic data: drawn, standardized and kept on the device, one slot per data
// seed.

#include <utility>

#include "cuda/cuda_engine.hpp"
#include "cuda/sizes.hpp"
#include "cuda_check.cuh"
#include "data/synthetic_params.hpp"
#include "synthetic.cuh"
#include "vaead/util/error.hpp"

namespace vaead {
namespace cuda {

// Slot s's rows drawn where they stay (its part of the resident buffers), its test anomalies
// planted, every split standardized with the training rows' moments.
ResidentSplits CudaEngine::draw_slot(std::size_t s, const SyntheticConfig& config) {
  const int features = layout_.architecture.input_dim;
  const auto per_slot = [&](int rows) {
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(features);
  };
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
  layout.compute(config.seed, static_cast<std::uint32_t>(RandomStream::anomaly_layout), 0,
                 static_cast<std::size_t>(config.test_rows), stream_);
  std::uint8_t* kinds = test_kinds_.data() + s * static_cast<std::size_t>(config.test_rows);
  assign_anomaly_kinds(layout.order(), config.test_rows, anomaly_counts(config), kinds, stream_);
  plant_anomalies(p, kinds, std.data(), config.test_rows, test, stream_);

  ResidentSplits splits;
  splits.standardizer = Standardizer::from_moments(mean.to_host(stream_), std.to_host(stream_));
  scale.upload(splits.standardizer.scale.data(), p.features, stream_);
  standardize(train, config.train_rows, features, mean.data(), scale.data(), stream_);
  standardize(validation, config.validation_rows, features, mean.data(), scale.data(), stream_);
  standardize(test, config.test_rows, features, mean.data(), scale.data(), stream_);
  std::vector<std::uint8_t> kind_codes(static_cast<std::size_t>(config.test_rows));
  test_kinds_.download(kind_codes.data(), kind_codes.size(), stream_,
                       s * static_cast<std::size_t>(config.test_rows));
  splits.train_rows = static_cast<std::size_t>(config.train_rows);
  splits.validation_rows = static_cast<std::size_t>(config.validation_rows);
  splits.test_rows = static_cast<std::size_t>(config.test_rows);
  for (std::uint8_t code : kind_codes) {
    splits.test_kinds.push_back(static_cast<AnomalyKind>(code));
    splits.test_labels.push_back(code != 0 ? 1 : 0);
  }
  CUDA_CHECK(cudaStreamSynchronize(stream_));  // the slot's temporaries are freed next
  return splits;
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
  test_kinds_.resize(slots * static_cast<std::size_t>(first.test_rows));

  std::vector<ResidentSplits> all;
  for (std::size_t s = 0; s < slots; ++s)
    all.push_back(draw_slot(s, configs[s]));
  train_count_ = static_cast<std::size_t>(first.train_rows);
  validation_count_ = static_cast<std::size_t>(first.validation_rows);
  test_count_ = static_cast<std::size_t>(first.test_rows);
  reserve_epoch(train_count_);
  return all;
}

}  // namespace cuda
}  // namespace vaead

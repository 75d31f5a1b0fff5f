// ExperimentConfig: its checks and the models and data of a study.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "vaead/study/experiment.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/limits.hpp"

namespace vaead {

void ExperimentConfig::validate() const {
  require(!latent_dims.empty(), "at least one latent size is needed");
  for (int latent : latent_dims)
    require_within(latent, 1, limits::kWidth, "latent size");
  require_within(seed_count, 1, limits::kSeeds, "seeds per configuration");
  require(first_seed <= std::numeric_limits<std::uint64_t>::max() -
                            static_cast<std::uint64_t>(seed_count - 1),
          "the seeds " + std::to_string(first_seed) + " .. + " + std::to_string(seed_count - 1) +
              " pass 2^64 - 1: give a smaller first seed");
  const std::size_t grid = latent_dims.size() * std::max<std::size_t>(betas.size(), 1) *
                           static_cast<std::size_t>(seed_count);
  require(models.size() > 0 || grid <= limits::kGridPoints,
          "the grid has " + std::to_string(grid) + " models (latent sizes x betas x seeds), more " +
              "than " + std::to_string(limits::kGridPoints) + ": split it into several sweeps");
  std::vector<int> sorted = latent_dims;
  std::sort(sorted.begin(), sorted.end());
  require(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(),
          "latent sizes must be distinct");
  for (double beta : betas)
    require(std::isfinite(beta) && beta >= 0,
            "betas must be finite and not negative, got " + std::to_string(beta));
  std::vector<double> sorted_betas = betas;
  std::sort(sorted_betas.begin(), sorted_betas.end());
  require(std::adjacent_find(sorted_betas.begin(), sorted_betas.end()) == sorted_betas.end(),
          "betas must be distinct");
  require_within(concurrency, 0, limits::kThreads, "concurrency");
  engine.validate();
  train.validate();
}

std::vector<double> ExperimentConfig::beta_values() const {
  return betas.empty() ? std::vector<double>{train.beta} : betas;
}

std::vector<SweepPoint> ExperimentConfig::points() const {
  if (!models.empty()) return models;
  std::vector<SweepPoint> out;
  for (int latent : latent_dims)
    for (double beta : beta_values())
      for (std::uint64_t seed : seeds())
        out.push_back({latent, beta, seed});
  return out;
}

int ExperimentConfig::features() const {
  return table ? static_cast<int>(table->train.cols) : data.features;
}

std::vector<std::uint64_t> ExperimentConfig::seeds() const {
  std::vector<std::uint64_t> out;
  for (int i = 0; i < seed_count; ++i)
    out.push_back(first_seed + static_cast<std::uint64_t>(i));
  return out;
}

SyntheticConfig ExperimentConfig::data_for(std::uint64_t seed) const {
  SyntheticConfig config = data;
  config.seed = data_seed.value_or(seed);
  return config;
}

}  // namespace vaead

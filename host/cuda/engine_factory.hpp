// The CUDA side as the host library sees it: defined by host/cuda/ when CUDA is built, by
// host/no_cuda/ (which throws) otherwise. No CUDA type appears here.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vaead/engine.hpp"
#include "vaead/experiment.hpp"

namespace vaead {

std::unique_ptr<Engine> make_cuda_engine(const EngineConfig& config);

// One model of a study trained on the device beside the others: what it learnt and its scores.
struct DeviceRun {
  std::vector<float> parameters;  // the model's own layout
  TrainingReport training;
  std::vector<float> validation_scores, test_scores;
  std::vector<std::uint8_t> test_labels;
  std::vector<AnomalyKind> test_kinds;  // empty for a table
  Standardizer standardizer;
  // ROC-AUC and AP from the one segmented pass over every model's test scores on the device;
  // unset when the test rows lack a class.
  std::optional<double> roc_auc, pr_auc;
  std::string failure;  // why its training stopped; empty when it finished
};

// Every point of `config` trained concurrently in one CUDA engine (models as a launch dimension);
// in points order.
std::vector<DeviceRun> train_on_device(const ExperimentConfig& config,
                                       const std::vector<SweepPoint>& points,
                                       const ExperimentCallbacks& callbacks);

}  // namespace vaead

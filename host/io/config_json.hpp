// The training hyperparameters as JSON, one spelling for every file that records them (the
// experiment's results and the model file).
#pragma once

#include <nlohmann/json.hpp>

#include "vaead/train/engine.hpp"
#include "vaead/train/trainer.hpp"

namespace vaead {

inline nlohmann::json training_config_json(const EngineConfig& engine, const TrainConfig& train) {
  return {{"epochs", train.epochs},
          {"batch_size", engine.batch_size},
          {"beta", train.beta},
          {"kl_warmup_epochs", train.kl_warmup_epochs},
          {"learning_rate", engine.adam.learning_rate},
          {"adam_betas", {engine.adam.beta1, engine.adam.beta2}},
          {"adam_epsilon", engine.adam.epsilon},
          {"logvar_clamp", {engine.logvar_min, engine.logvar_max}}};
}

}  // namespace vaead

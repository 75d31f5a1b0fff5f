// Training checkpoints: every number exact, a SHA-256 of the content, the training's fingerprint.
#include "io/training_checkpoint.hpp"

#include <nlohmann/json.hpp>

#include "io/exact_json.hpp"
#include "io/sha256.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/version.hpp"

namespace vaead {
namespace {

using nlohmann::json;

constexpr const char* kKind = "vaead-training-checkpoint";
constexpr int kFormat = 1;

}  // namespace

std::string serialize_training_checkpoint(const TrainingCheckpoint& checkpoint,
                                          const std::string& fingerprint) {
  json models = json::array();
  for (std::size_t m = 0; m < checkpoint.states.size(); ++m) {
    const ModelTraining& trained = checkpoint.progress.trained.at(m);
    const OptimizerState& state = checkpoint.states[m];
    models.push_back({{"failure", trained.failure},
                      {"epochs", epochs_json(trained.report.epochs)},
                      {"seconds", exact(trained.report.seconds)},
                      {"samples", trained.report.samples},
                      {"parameters", float_bytes(state.parameters)},
                      {"first_moment", float_bytes(state.first_moment)},
                      {"second_moment", float_bytes(state.second_moment)},
                      {"steps", state.steps}});
  }
  json j{{"kind", kKind},
         {"format", kFormat},
         {"vaead_version", std::string(version())},
         {"fingerprint", fingerprint},
         {"epochs_done", checkpoint.progress.epochs_done},
         {"models", models}};
  j["sha256"] = sha256_hex(j.dump());
  return j.dump();
}

TrainingCheckpoint parse_training_checkpoint(std::string_view text, const std::string& source,
                                             const std::string& fingerprint) {
  try {
    json j = json::parse(text);
    require(j.is_object() && j.value("kind", "") == kKind,
            "not a training checkpoint (vaead train --checkpoint writes them)");
    const std::string sum = j.at("sha256").get<std::string>();
    j.erase("sha256");
    require(sha256_hex(j.dump()) == sum,
            "its content does not match its checksum (sha256): the file was changed or damaged");
    require(j.at("format").get<int>() == kFormat &&
                j.at("vaead_version").get<std::string>() == std::string(version()),
            "written by vaead " + j.at("vaead_version").get<std::string>() + ", this is vaead " +
                std::string(version()));
    require(j.at("fingerprint").get<std::string>() == fingerprint,
            "written for another training (other data, model, schedule, seed or device)");
    TrainingCheckpoint checkpoint;
    checkpoint.progress.epochs_done = j.at("epochs_done").get<int>();
    for (const json& m : j.at("models")) {
      ModelTraining trained;
      trained.failure = m.at("failure").get<std::string>();
      trained.report.epochs = epochs_from(m.at("epochs"));
      trained.report.seconds = exact_double(m.at("seconds"));
      trained.report.samples = m.at("samples").get<std::size_t>();
      checkpoint.progress.trained.push_back(std::move(trained));
      checkpoint.states.push_back({floats_from(m.at("parameters").get<std::string>()),
                                   floats_from(m.at("first_moment").get<std::string>()),
                                   floats_from(m.at("second_moment").get<std::string>()),
                                   m.at("steps").get<std::int64_t>()});
    }
    return checkpoint;
  } catch (const json::exception& error) {
    throw InputError(source + ": not a readable training checkpoint (" + error.what() + ")");
  } catch (const InputError& error) {
    throw InputError(source + ": " + error.what());
  }
}

}  // namespace vaead

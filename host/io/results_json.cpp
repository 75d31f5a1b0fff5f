#include <cmath>
#include <nlohmann/json.hpp>

#include "io/config_json.hpp"
#include "vaead/detector.hpp"
#include "vaead/io.hpp"
#include "vaead/version.hpp"

namespace vaead {
namespace {

using nlohmann::json;

json number_or_null(double value) {
  return std::isfinite(value) ? json(value) : json(nullptr);
}

json curve_json(const Curve& curve, const char* x, const char* y) {
  return {{x, curve.x}, {y, curve.y}};
}

json config_json(const ExperimentConfig& c) {
  const SyntheticConfig& d = c.data;
  const EngineConfig& e = c.engine;
  return {
      {"data",
       {{"features", d.features},
        {"latent_factors", d.latent_factors},
        {"noise_std", d.noise_std},
        {"train_rows", d.train_rows},
        {"validation_rows", d.validation_rows},
        {"test_rows", d.test_rows},
        {"anomaly_fraction", d.anomaly_fraction},
        {"mean_shift_features", d.mean_shift_features},
        {"mean_shift_sigmas", d.mean_shift_sigmas},
        {"variance_explosion_sigmas", d.variance_explosion_sigmas},
        {"data_seed", c.data_seed ? json(*c.data_seed) : json("same as the run seed")}}},
      {"model",
       {{"encoder_hidden", e.architecture.encoder_hidden},
        {"decoder_hidden", e.architecture.decoder_hidden}}},
      {"training",
       [&] {
         json training = training_config_json(e, c.train);
         training["threads"] = e.threads;
         return training;
       }()},
      {"threshold", {{"rule", c.threshold.to_string()}, {"description", c.threshold.describe()}}},
      {"device", engine_kind_name(c.device)},
      {"latent_dims", c.latent_dims},
      {"seeds", c.seeds()},
      {"vaead_version", std::string(version())},
  };
}

json run_json(const RunResult& run) {
  json per_kind = json::object();
  for (std::size_t k = 0; k < run.per_kind_roc_auc.size(); ++k)
    per_kind[std::string(anomaly_kind_name(kAnomalyKinds[k]))] =
        number_or_null(run.per_kind_roc_auc[k]);
  json epochs = json::array();
  for (const EpochRecord& e : run.training.epochs)
    epochs.push_back({{"epoch", e.epoch + 1},
                      {"kl_weight", e.kl_weight},
                      {"loss", e.mean.loss},
                      {"reconstruction", e.mean.reconstruction},
                      {"kl", e.mean.kl},
                      {"seconds", e.seconds}});
  const Confusion& c = run.at_threshold;
  return {{"latent_dim", run.latent_dim},
          {"seed", run.seed},
          {"roc_auc", run.roc_auc},
          {"pr_auc", run.pr_auc},
          {"precision", c.precision()},
          {"recall", c.recall()},
          {"f1", c.f1()},
          {"threshold", run.threshold},
          {"confusion",
           {{"true_positives", c.true_positives},
            {"false_positives", c.false_positives},
            {"true_negatives", c.true_negatives},
            {"false_negatives", c.false_negatives}}},
          {"per_kind_roc_auc", per_kind},
          {"train_seconds", run.training.seconds},
          {"samples_per_second", run.training.samples_per_second()},
          {"epochs", epochs},
          {"roc_curve", curve_json(run.roc, "fpr", "tpr")},
          {"pr_curve", curve_json(run.pr, "recall", "precision")},
          {"score_histogram",
           {{"edges", run.histogram_edges},
            {"normal", run.histogram_counts[0]},
            {"mean_shift", run.histogram_counts[1]},
            {"correlation_break", run.histogram_counts[2]},
            {"variance_explosion", run.histogram_counts[3]}}}};
}

}  // namespace

std::string evaluation_json(const Evaluation& e, const std::string& model,
                            const std::string& data) {
  const Confusion& c = e.at_threshold;
  json out = {
      {"model", model},
      {"data", data},
      {"rows", e.rows},
      {"anomalies", e.anomalies},
      {"roc_auc", e.roc_auc},
      {"pr_auc", e.pr_auc},
      {"threshold", {{"rule", e.rule.to_string()}, {"value", e.threshold}}},
      {"precision", c.precision()},
      {"recall", c.recall()},
      {"f1", c.f1()},
      {"confusion",
       {{"true_positives", c.true_positives},
        {"false_positives", c.false_positives},
        {"true_negatives", c.true_negatives},
        {"false_negatives", c.false_negatives}}},
      {"roc_curve", curve_json(e.roc, "fpr", "tpr")},
      {"pr_curve", curve_json(e.pr, "recall", "precision")},
      {"score_histogram",
       {{"edges", e.histogram_edges}, {"normal", e.normal_counts}, {"anomaly", e.anomaly_counts}}},
      {"feature_names", e.feature_names},
      {"top_rows", json::array()}};
  for (const RankedRow& row : e.top)
    out["top_rows"].push_back({{"row", row.row},
                               {"score", row.score},
                               {"anomaly", row.anomaly},
                               {"feature_errors", row.feature_errors}});
  out["kind"] = "evaluation";
  return out.dump(2) + "\n";
}

std::string experiment_json(const ExperimentResult& result) {
  json runs = json::array();
  for (const RunResult& run : result.runs)
    runs.push_back(run_json(run));
  return json{{"kind", "experiment"}, {"config", config_json(result.config)}, {"runs", runs}}.dump(
             2) +
         "\n";
}

}  // namespace vaead

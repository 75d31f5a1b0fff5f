// `vaead train`: a detector from the normal rows of a table, kept as a model file.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/console.hpp"
#include "cli/shared_options.hpp"
#include "cli/table_input.hpp"
#include "vaead/detector/train.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/util/limits.hpp"

namespace vaead::cli {
namespace {

struct TrainOptions {
  DataOptions data;
  std::shared_ptr<std::string> config;
  DetectorOptions detector;
  DeviceChoice device = DeviceChoice::automatic;
  std::string out;
  bool progress = false;
};

void run(TrainOptions& options, const CLI::App& command) {
  // --beta alone trains every member with that KL weight; --betas gives the members' in turn.
  if (command.count("--beta") > 0 && command.count("--betas") == 0)
    options.detector.betas = {options.detector.train.beta};
  std::vector<NamedPath> named = inputs(options.data, *options.config);
  check_output("--out", options.out, named);
  if (!options.detector.checkpoint.empty()) {
    named.emplace_back("--out", options.out);
    check_output("--checkpoint", options.detector.checkpoint, named);
  }
  const Table table = load_table(options.data);
  DetectorOptions& detector = options.detector;
  detector.device = resolve_device(options.device);
  // The progress line needs the number of epochs, which the schedule chooses from the rows.
  const Schedule planned = plan_schedule(table.data.normal_rows(), detector, table.source);
  const TrainedDetector trained =
      train_detector(table, detector, epoch_progress(options.progress, "training", planned.epochs));
  const Schedule& plan = trained.schedule;
  for (const std::string& note : trained.notes)
    std::cerr << "vaead: note: " << note << '\n';
  write_model(options.out, trained.model);
  if (!detector.checkpoint.empty()) {  // the model is written: the training is done
    std::error_code ignored;
    std::filesystem::remove(detector.checkpoint, ignored);
  }

  const ModelFile& m = trained.model;
  std::size_t flagged = 0;
  for (float s : m.holdout_scores)
    flagged += s > m.threshold ? 1 : 0;
  std::cout << "trained on " << m.training_rows << " normal rows of " << table.source;
  if (m.dropped_anomalies > 0)
    std::cout << " (left out " << m.dropped_anomalies << " rows labelled anomalous)";
  std::cout << "; " << m.holdout_rows << " normal rows held out for the threshold\n";
  if (plan.members > 1) {
    std::cout << "an ensemble of " << plan.members << " models (seed, beta:";
    for (std::size_t k = 0; k < m.members(); ++k)
      std::cout << (k ? "; " : " ") << m.member_seeds[k] << ", " << m.member_betas[k];
    std::cout << "), each ";
    std::cout.flush();
  }
  std::printf(
      "%d epochs of batch %d (%lld steps) in %.1f s (%.0f samples/s) on the %s engine; "
      "final loss %.4f\n",
      plan.epochs, plan.batch_size, static_cast<long long>(plan.steps()), trained.report.seconds,
      trained.report.samples_per_second(), engine_kind_name(detector.device),
      trained.report.epochs.back().mean.loss);
  if (detector.device == EngineKind::cuda)
    std::cout << "CUDA training path: " << cuda_training_path(m.engine) << '\n';
  if (m.threshold_rule.kind == ThresholdRule::Kind::contamination)
    std::cout << "threshold: " << m.threshold_rule.describe() << ", set when scoring\n";
  else
    std::printf("threshold: %s = %.6g (flags %.2f%% of the held-out normal rows)\n",
                m.threshold_rule.describe().c_str(), m.threshold,
                100.0 * static_cast<double>(flagged) / static_cast<double>(m.holdout_rows));
  std::cout << "model: " << options.out << " (" << m.feature_names.size() << " features, latent "
            << m.engine.architecture.latent_dim << ")\n";
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* command =
      app.add_subcommand("train", "Train a detector on the normal rows of a table; write a model");
  add_data_file_options(*command, options->data, false);
  command->add_option("--out", options->out, "Model file to write (.safetensors)")
      ->required()
      ->check(a_path());
  EngineConfig& engine = options->detector.engine;
  command->add_option("--latent", engine.architecture.latent_dim, "Latent size L")
      ->check(a_seed_count())
      ->capture_default_str();
  command->add_option("--seed", engine.seed, "Seed of the initial weights, shuffles and hold-out")
      ->check(a_seed())
      ->capture_default_str();
  command
      ->add_option("--holdout", options->detector.holdout_fraction,
                   "Share of the normal rows held out to set the threshold (default: 0.2, at "
                   "least 10 rows where a third of the rows allows)")
      ->check(open_unit_interval());
  command
      ->add_option("--members", options->detector.members,
                   "Models in the ensemble, seeds --seed, --seed + 1, ... (default: 4, fewer "
                   "where the table is large: as many as 4 million training samples allow)")
      ->check(CLI::Range(1, static_cast<int>(kMaxMembers)));
  command
      ->add_option("--betas", options->detector.betas,
                   "KL weights of the ensemble's members in turn (default: 1,0.1; --beta B alone: "
                   "B for every member)")
      ->delimiter(',')
      ->check(not_negative());
  add_threshold_option(*command, options->detector.threshold);
  add_model_options(*command, engine, &options->detector);
  add_training_options(*command, options->detector.train, &options->detector);
  add_threads_option(*command, engine.threads);
  add_device_option(*command, options->device);
  command->add_flag("--progress", options->progress, "Report each epoch on stderr");
  command
      ->add_option("--checkpoint", options->detector.checkpoint,
                   "Keep the training's state in this file every --checkpoint-every epochs; the "
                   "same command after a kill resumes from it to the same model file (removed "
                   "once the model is written)")
      ->check(a_path());
  command
      ->add_option("--checkpoint-every", options->detector.checkpoint_every,
                   "Epochs between two checkpoints")
      ->check(a_whole_number(1, static_cast<std::uint64_t>(limits::kEpochs)))
      ->capture_default_str();
  options->config = add_config_option(*command);
  return {command, [options, command] { run(*options, *command); }, options->config};
}

}  // namespace vaead::cli

// `vaead sweep`: every latent size x beta x seed, trained concurrently; a table per configuration,
// the label-free choice beside the best by ROC-AUC, JSON / CSV, and the chosen models as files.
// Over MPI ranks each rank trains a share and rank 0 writes; with --shard I/N one job of a
// scheduler's array trains a share into a part, and `vaead sweep merge` writes from the parts.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <set>

#include "cli/commands.hpp"
#include "cli/console.hpp"
#include "cli/ranks.hpp"
#include "cli/report.hpp"
#include "cli/shared_options.hpp"
#include "cli/table_input.hpp"
#include "cpu/worker_pool.hpp"
#include "vaead/detector.hpp"
#include "vaead/device.hpp"
#include "vaead/error.hpp"
#include "vaead/experiment.hpp"
#include "vaead/io.hpp"
#include "vaead/sweep_part.hpp"
#include "vaead/version.hpp"

namespace vaead::cli {
namespace {

struct SweepOptions {
  ExperimentConfig config;
  std::shared_ptr<std::string> config_file;
  DataOptions data;
  double validation_fraction = 0.2;
  double test_fraction = 0.2;
  DeviceChoice device = DeviceChoice::automatic;
  std::optional<std::uint64_t> data_seed;
  std::string json_path, csv_path, save_best_dir, report_dir;
  std::string shard, part_path;  // --shard I/N, --part FILE
  bool progress = false;

  SweepOptions() { config.betas = {1.0, 0.1, 0.01}; }
};

std::string configuration(const SweepCell& cell) {
  std::ostringstream text;
  text << "latent " << cell.latent_dim << ", beta " << cell.beta;
  return text.str();
}

void print_table(std::ostream& out, const ExperimentResult& result,
                 std::span<const SweepCell> cells, const SweepChoice& choice, double seconds) {
  const ExperimentConfig& c = result.config;
  out << "vaead sweep: " << result.runs.size() << " models (" << c.latent_dims.size()
      << " latent sizes x " << c.beta_values().size() << " betas x " << c.seed_count
      << " seeds) on the " << engine_kind_name(c.device) << " engine; ";
  if (c.table)
    out << c.table->source << ": " << c.table->train.rows << " train / " << c.table->validation.rows
        << " validation / " << c.table->test.rows << " test rows";
  else
    out << "synthetic data: " << c.data.train_rows << " train / " << c.data.validation_rows
        << " validation / " << c.data.test_rows << " test rows";
  out << "; " << c.train.epochs << " epochs, batch " << c.engine.batch_size << "\n";
  out << "threshold: " << c.threshold.describe()
      << " (validation rows); values are mean ± std over seeds; validation error is the mean "
         "score of the validation rows (all normal)\n\n";
  constexpr std::size_t kWidth = 16;
  out << pad("latent", 7) << pad("beta", 7);
  for (const char* name : {"ROC-AUC", "PR-AUC", "precision", "recall", "val. error"})
    out << pad(name, kWidth);
  out << '\n';
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const SweepCell& cell = cells[i];
    std::ostringstream beta;
    beta << cell.beta;
    out << pad(std::to_string(cell.latent_dim), 7) << pad(beta.str(), 7);
    for (const Spread* s : {&cell.roc_auc, &cell.pr_auc, &cell.precision, &cell.recall})
      out << pad(cell.runs == 0 ? "failed" : mean_std(*s, 3), kWidth);
    out << pad(cell.runs == 0 ? "failed" : mean_std(cell.validation_error, 4), kWidth);
    if (cell.failed > 0)
      out << " (" << cell.failed << " of " << cell.failed + cell.runs << " failed)";
    if (i == choice.label_free) out << " <- label-free choice";
    if (choice.best_roc_auc && i == *choice.best_roc_auc) out << " <- best ROC-AUC";
    out << '\n';
  }
  const SweepCell& picked = cells[choice.label_free];
  out << "\nlabel-free choice (lowest validation error): " << configuration(picked);
  if (std::isfinite(picked.roc_auc.mean)) out << ", ROC-AUC " << mean_std(picked.roc_auc, 3);
  out << '\n';
  if (choice.best_roc_auc) {
    const SweepCell& best = cells[*choice.best_roc_auc];
    out << "best by ROC-AUC (needs labels): " << configuration(best) << ", ROC-AUC "
        << mean_std(best.roc_auc, 3) << '\n';
  } else {
    out << "no labelled test rows: no ROC-AUC (give --label-column)\n";
  }
  double samples = 0.0;
  for (const RunResult& run : result.runs)
    samples += static_cast<double>(run.training.samples);
  out << "trained " << result.runs.size() << " models in " << fixed(seconds, 1)
      << " s: " << fixed(samples / seconds, 0) << " model-samples/s\n";
}

// The chosen configurations' models, one file per seed: L<latent>_beta<beta>_seed<seed>.
void save_best(const ExperimentResult& result, std::span<const SweepCell> cells,
               const SweepChoice& choice, const std::string& directory) {
  std::vector<std::size_t> chosen{choice.label_free};
  if (choice.best_roc_auc && *choice.best_roc_auc != choice.label_free)
    chosen.push_back(*choice.best_roc_auc);
  for (std::size_t index : chosen) {
    const SweepCell& cell = cells[index];
    for (const RunResult& run : result.runs) {
      if (run.latent_dim != cell.latent_dim || run.beta != cell.beta || !run.failure.empty())
        continue;
      std::ostringstream name;
      name << "L" << run.latent_dim << "_beta" << run.beta << "_seed" << run.seed << ".safetensors";
      const std::filesystem::path path = std::filesystem::path(directory) / name.str();
      write_model(path, model_of_run(result.config, run));
      std::cout << "model: " << path.string()
                << (index == choice.label_free ? " (label-free choice)" : " (best ROC-AUC)")
                << '\n';
    }
  }
}

// The value of `flag` when the command line or the configuration file gave it.
template <class T>
std::optional<T> given(const CLI::App& command, const char* flag, T value) {
  return command.count(flag) > 0 ? std::optional<T>(value) : std::nullopt;
}

// The flags that say what a sweep trains (not where its results go).
void add_sweep_options(CLI::App& command, SweepOptions& options) {
  ExperimentConfig& config = options.config;
  add_data_file_options(command, options.data, false, false);
  command
      .add_option("--val-share", options.validation_fraction,
                  "--data: share of the normal rows for validation (threshold, choice)")
      ->check(open_unit_interval())
      ->capture_default_str();
  command
      .add_option("--test-share", options.test_fraction,
                  "--data with labels: share of the normal rows tested beside every anomaly")
      ->check(open_unit_interval())
      ->capture_default_str();
  command.add_option("--latents", config.latent_dims, "Latent sizes")
      ->delimiter(',')
      ->check(at_least_one())
      ->capture_default_str();
  command.add_option("--betas", config.betas, "KL weights after the warm-up")
      ->delimiter(',')
      ->check(not_negative())
      ->capture_default_str();
  command.add_option("--seeds", config.seed_count, "Seeds per configuration")
      ->check(at_least_one())
      ->capture_default_str();
  command.add_option("--seed", config.first_seed, "First seed")
      ->check(a_seed())
      ->capture_default_str();
  command
      .add_option("--data-seed", options.data_seed,
                  "Synthetic: draw every run's data with this seed (default: the run's "
                  "seed); --data: the seed of the split (default: --seed)")
      ->check(a_seed());
  command
      .add_option("--concurrency", config.concurrency,
                  "CPU: models trained at once (0 = one per core)")
      ->check(a_count())
      ->capture_default_str();
  add_threshold_option(command, config.threshold,
                       "Threshold rule on the validation rows (contamination: on the test rows)");
  add_data_options(command, config.data, "--synthetic-features");
  add_model_options(command, config.engine);
  add_training_options(command, config.train);
  add_threads_option(command, config.engine.threads);
  add_device_option(command, options.device);
}

void add_output_options(CLI::App& command, std::string& json_path, std::string& csv_path,
                        std::string& save_best_dir, std::string& report_dir) {
  command.add_option("--json", json_path, "Write the configuration, table and runs")
      ->check(a_path());
  command.add_option("--csv", csv_path, "Write the table (one row per configuration)")
      ->check(a_path());
  command
      .add_option("--save-best", save_best_dir,
                  "Write the chosen configurations' models here, one per seed")
      ->check(a_path());
  add_report_option(command, report_dir);
}

// The sweep's configuration: the device resolved (or, for merge, the parts'), the table read
// (once, at rank 0, for every rank), split and its schedule fitted.
ExperimentConfig prepare(SweepOptions& options, const CLI::App& command,
                         std::optional<EngineKind> device = std::nullopt) {
  ExperimentConfig config = options.config;
  config.device = device ? *device : resolve_device(options.device);
  config.data_seed = options.data_seed;
  config.validate();
  if (!options.data.path.empty()) {
    const Table table = load_table_on_every_rank(options.data);
    fit_sweep_schedule(config, table, options.validation_fraction, options.test_fraction,
                       given(command, "--batch-size", config.engine.batch_size),
                       given(command, "--epochs", config.train.epochs),
                       given(command, "--kl-warmup", config.train.kl_warmup_epochs));
    config.validate();
    auto splits = std::make_shared<TableSplits>(
        split_table(table, options.validation_fraction, options.test_fraction,
                    options.data_seed.value_or(config.first_seed), config.engine.batch_size));
    if (reports_errors())
      for (const std::string& note : splits->notes)
        std::cerr << "vaead: note: " << note << '\n';
    config.table = std::move(splits);
  }
  return config;
}

// The flags the sweep was given (on the command line or in its --config file) but its outputs:
// what a part keeps so that merge can rebuild the same sweep.
std::vector<std::string> grid_arguments(const CLI::App& command) {
  static const std::set<std::string> outputs{"--json",  "--csv",  "--save-best", "--report",
                                             "--shard", "--part", "--progress",  "--config"};
  std::vector<std::string> arguments;
  for (const CLI::Option* option : command.get_options()) {
    const std::string name = option->get_name();
    if (option->count() == 0 || outputs.count(name) > 0) continue;
    arguments.push_back(name);
    if (option->get_type_size() != 0)
      for (const std::string& value : option->results())
        arguments.push_back(value);
  }
  return arguments;
}

struct Shard {
  std::size_t index = 0, count = 1;
};

// "I/N": shard I (from 0) of N.
Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  Shard shard;
  try {
    std::size_t used = 0;
    if (slash == std::string::npos) throw std::invalid_argument("no /");
    shard.index = std::stoul(text.substr(0, slash), &used);
    if (used != slash) throw std::invalid_argument("index");
    shard.count = std::stoul(text.substr(slash + 1), &used);
    if (used != text.size() - slash - 1 || text[0] == '-' || text[slash + 1] == '-')
      throw std::invalid_argument("count");
  } catch (const std::logic_error&) {
    throw InputError("--shard: '" + text + "' is not I/N (shard I of N, I from 0: 0/3, 1/3, 2/3)");
  }
  require(shard.count >= 1 && shard.index < shard.count,
          "--shard " + text + ": the index counts from 0 and must be below the count (0/" +
              std::to_string(shard.count) + " to " + std::to_string(shard.count - 1) + "/" +
              std::to_string(shard.count) + ")");
  return shard;
}

// The runs of `indices` into config.points(), trained here: on this rank's GPU (the node's
// devices in turn by local rank), or with this rank's share of the node's cores.
std::vector<RunResult> train_share(const ExperimentConfig& config,
                                   const std::vector<std::size_t>& indices,
                                   const ExperimentCallbacks& callbacks) {
  if (indices.empty()) return {};
  ExperimentConfig share = config;
  const std::vector<SweepPoint> points = config.points();
  for (std::size_t i : indices)
    share.models.push_back(points[i]);
  const Ranks& r = ranks();
  if (r.local_size > 1 && share.device == EngineKind::cuda)
    select_cuda_device(r.local_rank % static_cast<int>(query_cuda().devices.size()));
  if (r.local_size > 1 && share.engine.threads == 0)
    share.engine.threads = std::max(1, cpu::available_cores() / r.local_size);
  return run_experiment(share, callbacks).runs;
}

struct Outputs {
  std::string json_path, csv_path, save_best_dir, report_dir;
};

// Checks the output paths before any work (rank 0 alone writes); creates --save-best's folder.
void check_outputs(const Outputs& out, std::vector<NamedPath> named) {
  if (!out.json_path.empty()) {
    check_output("--json", out.json_path, named);
    named.emplace_back("--json", out.json_path);  // --csv may not overwrite it either
  }
  if (!out.csv_path.empty()) check_output("--csv", out.csv_path, named);
  if (!out.save_best_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(out.save_best_dir, error);
    if (error)
      throw InputError("--save-best: cannot create " + out.save_best_dir + ": " + error.message());
  }
}

// The table, the JSON and CSV, the chosen models and the report of a finished sweep.
void write_sweep(const ExperimentResult& result, double seconds, const Outputs& out) {
  report_failed_runs(result);
  const std::vector<SweepCell> cells = summarize(result);
  const SweepChoice choice = choose(cells);
  print_table(std::cout, result, cells, choice, seconds);
  const std::string json_path = result_json_path(out.json_path, out.report_dir, "sweep.json");
  if (!json_path.empty())
    write_file_atomically(json_path,
                          [&](std::ostream& file) { file << sweep_json(result, cells, choice); });
  if (!out.csv_path.empty())
    write_file_atomically(out.csv_path, [&](std::ostream& file) { file << sweep_csv(cells); });
  if (!out.save_best_dir.empty()) save_best(result, cells, choice, out.save_best_dir);
  if (!out.report_dir.empty()) make_report(json_path, out.report_dir);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What a rank sends rank 0 instead of its part when it failed.
constexpr std::string_view kRankFailed = "vaead: rank failed: ";

void run(SweepOptions& options, const CLI::App& command) {
  const Ranks& r = ranks();
  const Outputs out{options.json_path, options.csv_path, options.save_best_dir, options.report_dir};
  const std::vector<NamedPath> named = inputs(options.data, *options.config_file);
  std::optional<Shard> shard;
  if (!options.shard.empty()) {
    shard = parse_shard(options.shard);
    require(r.size == 1,
            "--shard splits a sweep over scheduler jobs; under mpirun the ranks "
            "split it: give one or the other");
    require(!options.part_path.empty(), "--shard needs --part FILE: where the shard's runs go");
    require(out.json_path.empty() && out.csv_path.empty() && out.save_best_dir.empty() &&
                out.report_dir.empty(),
            "--shard writes its part (--part); --json, --csv, --save-best and --report are "
            "written by vaead sweep merge from every part");
    check_output("--part", options.part_path, named);
  } else {
    require(options.part_path.empty(), "--part needs --shard I/N");
    if (r.root()) check_outputs(out, named);
  }
  const ExperimentConfig config = prepare(options, command);
  ExperimentCallbacks callbacks;
  if (progress_enabled(options.progress)) {
    callbacks.on_epoch = [&config, &options](const SweepPoint& point, const EpochRecord& e) {
      std::ostringstream prefix;
      prefix << "latent " << point.latent_dim << " beta " << point.beta << " seed " << point.seed;
      epoch_progress(options.progress, prefix.str(), config.train.epochs)(e);
    };
  }
  const auto start = std::chrono::steady_clock::now();
  if (!shard && r.size == 1) {  // one process: the whole grid at once
    const ExperimentResult result = run_experiment(config, callbacks);
    write_sweep(result, seconds_since(start), out);
    return;
  }

  const std::size_t shares = shard ? shard->count : static_cast<std::size_t>(r.size);
  const std::size_t mine = shard ? shard->index : static_cast<std::size_t>(r.rank);
  const std::vector<std::size_t> indices = assign_points(config, shares)[mine];
  std::string sent;
  try {
    SweepPart part{std::string(version()),
                   mine,
                   shares,
                   grid_arguments(command),
                   grid_description(config),
                   data_fingerprint(config),
                   config.device,
                   indices,
                   {},
                   0.0};
    part.runs = train_share(config, indices, callbacks);
    part.seconds = seconds_since(start);
    sent = serialize_part(part);
  } catch (const std::bad_alloc&) {
    if (r.size == 1) throw;
    sent = std::string(kRankFailed) + "out of memory (std::bad_alloc)";
  } catch (const std::exception& error) {
    if (r.size == 1) throw;
    sent = std::string(kRankFailed) + error.what();  // rank 0 reports it, no rank waits
  }
  if (shard) {
    write_file_atomically(options.part_path, [&](std::ostream& file) { file << sent; });
    std::cout << "vaead sweep: shard " << mine << " of " << shares << ": trained " << indices.size()
              << " of " << config.points().size() << " models in " << fixed(seconds_since(start), 1)
              << " s; part: " << options.part_path << '\n';
    return;
  }
  const std::vector<std::string> texts = gather_at_root(sent);
  if (!r.root()) return;
  std::vector<SweepPart> parts;
  std::vector<std::string> sources;
  for (std::size_t k = 0; k < texts.size(); ++k) {
    sources.push_back("rank " + std::to_string(k));
    if (texts[k].starts_with(kRankFailed))
      throw InputError("rank " + std::to_string(k) + " of " + std::to_string(r.size) +
                       " failed: " + texts[k].substr(kRankFailed.size()) + "; nothing written");
    parts.push_back(parse_part(texts[k], sources.back()));
  }
  ExperimentResult result;
  result.config = config;
  result.runs = merge_parts(parts, sources, config);
  write_sweep(result, seconds_since(start), out);
}

struct MergeOptions {
  std::vector<std::string> parts;
  Outputs out;
};

// `vaead sweep merge PART...`: the sweep rebuilt from the first part's flags (its table read
// again and checked against every part's), the runs from every part, written as one sweep.
void merge(const MergeOptions& options) {
  std::vector<NamedPath> named;
  for (const std::string& path : options.parts)
    named.emplace_back("part", path);
  check_outputs(options.out, named);
  std::vector<SweepPart> parts;
  double seconds = 0.0;
  for (const std::string& path : options.parts) {
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    parts.push_back(parse_part(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path));
    seconds = std::max(seconds, parts.back().seconds);  // the shards ran side by side
  }
  CLI::App rebuilt;
  SweepOptions sweep_options;
  add_sweep_options(rebuilt, sweep_options);
  std::vector<std::string> arguments(parts.front().arguments.rbegin(),
                                     parts.front().arguments.rend());
  try {
    rebuilt.parse(arguments);
  } catch (const CLI::ParseError& error) {
    throw InputError(options.parts.front() +
                     ": its sweep's flags do not parse here: " + error.what());
  }
  ExperimentResult result;
  try {
    result.config = prepare(sweep_options, rebuilt, parts.front().device);
  } catch (const InputError& error) {
    throw InputError("rebuilding the sweep of " + options.parts.front() + ": " + error.what() +
                     " (merge reads the sweep's --data again: run it where the shards ran)");
  }
  result.runs = merge_parts(parts, options.parts, result.config);
  write_sweep(result, seconds, options.out);
}

}  // namespace

Command add_sweep_command(CLI::App& app) {
  auto options = std::make_shared<SweepOptions>();
  CLI::App* command = app.add_subcommand(
      "sweep",
      "Train every latent size x beta x seed at once; compare configurations, pick one without "
      "labels");
  add_sweep_options(*command, *options);
  command
      ->add_option("--shard", options->shard,
                   "Train only shard I of N (I from 0), for a scheduler's job array; needs --part")
      ->type_name("I/N");
  command->add_option("--part", options->part_path, "--shard: the file its runs go to")
      ->check(a_path());
  add_output_options(*command, options->json_path, options->csv_path, options->save_best_dir,
                     options->report_dir);
  command->add_flag("--progress", options->progress, "Report each epoch on stderr");
  options->config_file = add_config_option(*command);

  auto merged = std::make_shared<MergeOptions>();
  CLI::App* merge_command = command->add_subcommand(
      "merge", "Combine the parts of a sweep trained with --shard into the whole sweep's outputs");
  merge_command->add_option("parts", merged->parts, "The parts (--part files), every shard once")
      ->required()
      ->check(CLI::ExistingFile);
  add_output_options(*merge_command, merged->out.json_path, merged->out.csv_path,
                     merged->out.save_best_dir, merged->out.report_dir);
  command->require_subcommand(0, 1);
  return {command,
          [options, command, merged, merge_command] {
            if (merge_command->parsed())
              merge(*merged);
            else
              run(*options, *command);
          },
          options->config_file};
}

}  // namespace vaead::cli

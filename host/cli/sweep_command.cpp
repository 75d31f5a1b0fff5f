// `vaead sweep`: every latent size x beta x seed, trained concurrently; a table per configuration,
// the label-free choice beside the best by ROC-AUC, JSON / CSV, and the chosen models as files.
// Over MPI ranks each rank trains a share and rank 0 writes; with --shard I/N one job of a
// scheduler's array trains a share into a part, and `vaead sweep merge` writes from the parts.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <map>
#include <numeric>
#include <optional>
#include <set>

#include "cli/commands.hpp"
#include "cli/console.hpp"
#include "cli/ranks.hpp"
#include "cli/sweep.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/io/sweep_part.hpp"
#include "vaead/study/experiment.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/version.hpp"

namespace vaead::cli {
namespace {

// The flags the sweep was given (on the command line or in its --config file) but its outputs:
// what a part keeps so that merge can rebuild the same sweep.
std::vector<std::string> grid_arguments(const CLI::App& command) {
  static const std::set<std::string> outputs{"--json",     "--csv",    "--save-best",
                                             "--report",   "--shard",  "--part",
                                             "--progress", "--config", "--checkpoint"};
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
// devices in turn by local rank), or with this rank's share of the node's cores; with a
// checkpoint, in waves of as many models as train at once, each wave's runs written as it ends.
std::vector<RunResult> train_share(const ExperimentConfig& config,
                                   const std::vector<std::size_t>& indices,
                                   ExperimentCallbacks callbacks, Checkpoint* checkpoint) {
  if (indices.empty()) return {};
  ExperimentConfig share = config;
  const Ranks& r = ranks();
  take_node_share(share.device, r.local_rank, r.local_size, share.engine);
  std::size_t wave = 0;  // every model at once
  if (checkpoint != nullptr) {
    wave = models_at_once(share);
    callbacks.on_wave = [checkpoint](std::span<const std::size_t> done,
                                     std::span<const RunResult> runs) {
      checkpoint->write(done, runs);
    };
  }
  return run_waves(share, indices, wave, callbacks);
}

// The indices of `all` points that `finished` lacks, ascending.
std::vector<std::size_t> unfinished(std::size_t all, const std::vector<std::size_t>& finished) {
  std::vector<std::size_t> every(all), out;
  std::iota(every.begin(), every.end(), std::size_t{0});
  std::set_difference(every.begin(), every.end(), finished.begin(), finished.end(),
                      std::back_inserter(out));
  return out;
}

// The points a checkpoint holds, read at rank 0 (the runs there, in `finished`) and known to
// every rank.
std::vector<std::size_t> read_checkpoint(const Checkpoint& checkpoint,
                                         std::map<std::size_t, RunResult>& finished) {
  const std::vector<std::uint8_t> bytes = broadcast_from_root([&] {
    finished = checkpoint.read();
    std::vector<std::uint8_t> out;
    for (const auto& [index, run] : finished) {
      const auto value = static_cast<std::uint64_t>(index);
      for (int b = 0; b < 8; ++b)
        out.push_back(static_cast<std::uint8_t>(value >> (8 * b)));
    }
    return out;
  });
  std::vector<std::size_t> indices;
  for (std::size_t at = 0; at + 8 <= bytes.size(); at += 8) {
    std::uint64_t value = 0;
    for (int b = 0; b < 8; ++b)
      value |= static_cast<std::uint64_t>(bytes[at + static_cast<std::size_t>(b)]) << (8 * b);
    indices.push_back(static_cast<std::size_t>(value));
  }
  return indices;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What a rank sends rank 0 instead of its part when it failed.
constexpr std::string_view kRankFailed = "vaead: rank failed: ";

// The shard this process trains (none: the whole sweep or an MPI rank's share), its outputs
// checked before any work.
std::optional<Shard> check_sweep_outputs(const SweepOptions& options,
                                         const std::vector<NamedPath>& named) {
  const Outputs& out = options.out;
  if (options.shard.empty()) {
    require(options.part_path.empty(), "--part needs --shard I/N");
    if (ranks().root()) check_outputs(out, named);
    return std::nullopt;
  }
  const Shard shard = parse_shard(options.shard);
  require(ranks().size == 1,
          "--shard splits a sweep over scheduler jobs; under mpirun the ranks "
          "split it: give one or the other");
  require(!options.part_path.empty(), "--shard needs --part FILE: where the shard's runs go");
  require(out.json_path.empty() && out.csv_path.empty() && out.save_best_dir.empty() &&
              out.report_dir.empty(),
          "--shard writes its part (--part); --json, --csv, --save-best and --report are "
          "written by vaead sweep merge from every part");
  check_output("--part", options.part_path, named);
  return shard;
}

// A part of the sweep with no runs yet: share `index` of `count`, the points of `indices`.
SweepPart empty_part(const CLI::App& command, const ExperimentConfig& config, std::size_t index,
                     std::size_t count, std::vector<std::size_t> indices) {
  return SweepPart{.version = std::string(version()),
                   .shard = index,
                   .shards = count,
                   .arguments = grid_arguments(command),
                   .grid = grid_description(config),
                   .data = data_fingerprint(config),
                   .device = config.device,
                   .points = std::move(indices),
                   .runs = {},
                   .seconds = 0.0};
}

// Where a sweep stands: its checkpoint folder (when given), the runs finished before (at rank 0)
// and their indices (at every rank).
struct SweepState {
  std::optional<Checkpoint> checkpoint;
  std::map<std::size_t, RunResult> finished;
  std::vector<std::size_t> finished_indices;
};

// The runs of `missing` trained (and checkpointed) and added to the finished ones.
void train_missing(const ExperimentConfig& config, const std::vector<std::size_t>& missing,
                   const ExperimentCallbacks& callbacks, SweepState& state) {
  std::vector<RunResult> trained = train_share(config, missing, callbacks, &*state.checkpoint);
  for (std::size_t k = 0; k < missing.size(); ++k)
    state.finished.emplace(missing[k], std::move(trained[k]));
}

// One process: the whole grid at once, or what the checkpoint lacks.
ExperimentResult run_whole(const ExperimentConfig& config, const ExperimentCallbacks& callbacks,
                           SweepState& state) {
  if (!state.checkpoint) return run_experiment(config, callbacks);
  ExperimentResult result;
  result.config = config;
  train_missing(config, unfinished(config.points().size(), state.finished_indices), callbacks,
                state);
  for (auto& [index, run] : state.finished)
    result.runs.push_back(std::move(run));
  return result;
}

// The text of this share's part (its runs), or why it failed when other ranks wait for it.
std::string train_part(const ExperimentConfig& config, SweepPart part, bool sharded,
                       const ExperimentCallbacks& callbacks, SweepState& state,
                       std::chrono::steady_clock::time_point start) {
  try {
    if (sharded && state.checkpoint) {  // the share's finished runs, and the others trained
      std::vector<std::size_t> missing;
      for (std::size_t i : part.points)
        if (state.finished.count(i) == 0) missing.push_back(i);
      train_missing(config, missing, callbacks, state);
      for (std::size_t i : part.points)
        part.runs.push_back(state.finished.at(i));
    } else {
      part.runs = train_share(config, part.points, callbacks,
                              state.checkpoint ? &*state.checkpoint : nullptr);
    }
    part.seconds = seconds_since(start);
    return serialize_part(part);
  } catch (const std::bad_alloc&) {
    if (ranks().size == 1) throw;
    return std::string(kRankFailed) + "out of memory (std::bad_alloc)";
  } catch (const std::exception& error) {
    if (ranks().size == 1) throw;
    return std::string(kRankFailed) + error.what();  // rank 0 reports it, no rank waits
  }
}

// At rank 0: every rank's part read (InputError naming a rank that failed) and merged with the
// runs finished before.
ExperimentResult merge_ranks(const std::vector<std::string>& texts, const ExperimentConfig& config,
                             const std::map<std::size_t, RunResult>& finished) {
  std::vector<SweepPart> parts;
  std::vector<std::string> sources;
  for (std::size_t k = 0; k < texts.size(); ++k) {
    sources.push_back("rank " + std::to_string(k));
    if (texts[k].starts_with(kRankFailed))
      throw InputError("rank " + std::to_string(k) + " of " + std::to_string(texts.size()) +
                       " failed: " + texts[k].substr(kRankFailed.size()) + "; nothing written");
    parts.push_back(parse_part(texts[k], sources.back()));
  }
  ExperimentResult result;
  result.config = config;
  result.runs = merge_parts(parts, sources, config, finished);
  return result;
}

void run(SweepOptions& options, const CLI::App& command) {
  const Ranks& r = ranks();
  const std::optional<Shard> shard =
      check_sweep_outputs(options, inputs(options.data, *options.config_file));
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
  const std::size_t total = config.points().size();
  SweepState state;
  if (!options.checkpoint.empty()) {
    // Every point's file is the same whichever process trains it: one shard of one.
    state.checkpoint.emplace(options.checkpoint, config, empty_part(command, config, 0, 1, {}));
    state.finished_indices = read_checkpoint(*state.checkpoint, state.finished);
    if (r.root() && !state.finished.empty())
      std::cout << "vaead sweep: resuming: " << state.finished.size() << " of " << total
                << " models read from " << options.checkpoint << std::endl;
  }
  if (!shard && r.size == 1) {
    write_sweep(run_whole(config, callbacks, state), seconds_since(start), options.out);
    return;
  }
  const std::size_t shares = shard ? shard->count : static_cast<std::size_t>(r.size);
  const std::size_t mine = shard ? shard->index : static_cast<std::size_t>(r.rank);
  // A shard's share is fixed (merge expects it); ranks share what the checkpoint lacks.
  std::vector<std::size_t> indices =
      shard ? assign_points(config, shares)[mine]
            : assign_points(config, shares, unfinished(total, state.finished_indices))[mine];
  const std::size_t trained = indices.size();
  const std::string sent =
      train_part(config, empty_part(command, config, mine, shares, std::move(indices)),
                 shard.has_value(), callbacks, state, start);
  if (shard) {
    write_file_atomically(options.part_path, [&](std::ostream& file) { file << sent; });
    std::cout << "vaead sweep: shard " << mine << " of " << shares << ": trained " << trained
              << " of " << total << " models in " << fixed(seconds_since(start), 1)
              << " s; part: " << options.part_path << '\n';
    return;
  }
  const std::vector<std::string> texts = gather_at_root(sent);
  if (!r.root()) return;
  write_sweep(merge_ranks(texts, config, state.finished), seconds_since(start), options.out);
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
  command
      ->add_option("--checkpoint", options->checkpoint,
                   "Keep each finished model's run in this folder (created when missing); the "
                   "same command after a kill trains only the models it lacks")
      ->check(a_path());
  add_output_options(*command, options->out);
  command->add_flag("--progress", options->progress, "Report each epoch on stderr");
  options->config_file = add_config_option(*command);

  auto merged = std::make_shared<MergeOptions>();
  CLI::App* merge_command = command->add_subcommand(
      "merge", "Combine the parts of a sweep trained with --shard into the whole sweep's outputs");
  merge_command->add_option("parts", merged->parts, "The parts (--part files), every shard once")
      ->required()
      ->check(CLI::ExistingFile);
  add_output_options(*merge_command, merged->out);
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

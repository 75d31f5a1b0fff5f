// A sweep split over processes: MPI ranks (`mpirun -np N vaead sweep`) or scheduler jobs
// (`vaead sweep --shard I/N`, then `vaead sweep merge`). Each process trains a share of the grid's
// models, chosen by their cost so that the shares take about the same time; its runs travel as a
// part, every number exact, and the parts together are the single-process result: each run is
// the same as run_once of its point, whichever process trained it.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vaead/study/experiment.hpp"

namespace vaead {

// The indices into config.points() of each of `shares` shares: the most expensive models first,
// each to the share with the least work so far (the first such share on a tie), work counted as
// training FLOPs per sample. Every share's indices ascending; a share may be empty when there are
// fewer models than shares.
std::vector<std::vector<std::size_t>> assign_points(const ExperimentConfig& config,
                                                    std::size_t shares);
// The same for the points `among` alone (a resumed sweep's unfinished points).
std::vector<std::vector<std::size_t>> assign_points(const ExperimentConfig& config,
                                                    std::size_t shares,
                                                    std::span<const std::size_t> among);

// A share's runs and what they were trained from.
struct SweepPart {
  std::string version;                  // vaead's
  std::size_t shard = 0, shards = 1;    // this part is shard `shard` of `shards` (from 0)
  std::vector<std::string> arguments;   // the sweep's flags, without --shard and its outputs
  std::string grid;                     // grid_description of the sweep's configuration
  std::string data;                     // data_fingerprint of its data
  EngineKind device = EngineKind::cpu;  // where it trained
  std::vector<std::size_t> points;      // indices into config.points() of the runs, ascending
  std::vector<RunResult> runs;
  double seconds = 0.0;  // the wall time of the share
};

// What must agree for runs to belong to one sweep: every setting of the configuration (data,
// model, training, threshold, device, grid) but the CPU threads, as canonical JSON text.
std::string grid_description(const ExperimentConfig& config);

// A fingerprint of the data the runs saw: a 64-bit FNV-1a hash (hex) of a table's standardized
// splits and test labels, or "synthetic" (the configuration describes generated data fully).
std::string data_fingerprint(const ExperimentConfig& config);

// JSON; floats and doubles exactly (float arrays as the base64 of their bytes, NaN and infinities
// spelled out), with the SHA-256 of the rest of its content.
std::string serialize_part(const SweepPart& part);
// InputError naming `source` when the text is not a part this version can read, or when its
// content does not match its checksum.
SweepPart parse_part(std::string_view text, const std::string& source);

// InputError naming `source` unless `run` is the model of config.points()[index]: its latent
// size, beta and seed, and as many parameters as that model has.
void check_run_is_point(const RunResult& run, std::size_t index, const ExperimentConfig& config,
                        const std::string& source);

// Every run of the sweep, in config.points() order, from parts that together hold each point
// once. InputError naming the part (sources[k]) when parts come from different versions, grids or
// data, when a shard is missing or given twice, or when a run is not the point it stands for.
// `finished` holds the runs a resumed sweep read from its checkpoint (by index into
// config.points()): the parts then share the other points.
std::vector<RunResult> merge_parts(std::span<const SweepPart> parts,
                                   std::span<const std::string> sources,
                                   const ExperimentConfig& config,
                                   const std::map<std::size_t, RunResult>& finished = {});

}  // namespace vaead

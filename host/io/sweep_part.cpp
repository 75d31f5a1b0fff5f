// Parts of a sweep: the share of each process, a part's exact JSON, and the merge.
#include "vaead/io/sweep_part.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "io/exact_json.hpp"
#include "io/sha256.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/version.hpp"

namespace vaead {
namespace {

using nlohmann::json;

constexpr const char* kPartKind = "vaead-sweep-part";
constexpr int kPartFormat = 2;  // 2: the sha256 of the part's content

// ---- runs
// -----------------------------------------------------------------------------------------
json run_state(const RunResult& run) {
  const Confusion& c = run.at_threshold;
  json counts = json::array();
  for (const auto& bins : run.histogram_counts)
    counts.push_back(bins);
  return {
      {"latent_dim", run.latent_dim},
      {"beta", exact(run.beta)},
      {"seed", run.seed},
      {"failure", run.failure},
      {"roc_auc", exact(run.roc_auc)},
      {"pr_auc", exact(run.pr_auc)},
      {"validation_error", exact(run.validation_error)},
      {"threshold", exact(run.threshold)},
      {"labelled", run.labelled},
      {"confusion", {c.true_positives, c.false_positives, c.true_negatives, c.false_negatives}},
      {"per_kind_roc_auc", exact_array({run.per_kind_roc_auc.begin(), run.per_kind_roc_auc.end()})},
      {"epochs", epochs_json(run.training.epochs)},
      {"train_seconds", exact(run.training.seconds)},
      {"samples", run.training.samples},
      {"roc", {exact_array(run.roc.x), exact_array(run.roc.y)}},
      {"pr", {exact_array(run.pr.x), exact_array(run.pr.y)}},
      {"histogram_edges", exact_array(run.histogram_edges)},
      {"histogram_counts", counts},
      {"parameters", float_bytes(run.parameters)},
      {"validation_scores", float_bytes(run.validation_scores)},
      {"standardizer",
       {{"mean", exact_array(run.standardizer.mean)},
        {"scale", exact_array(run.standardizer.scale)},
        {"constant_columns", run.standardizer.constant_columns}}}};
}

RunResult run_from(const json& j) {
  RunResult run;
  run.latent_dim = j.at("latent_dim").get<int>();
  run.beta = exact_double(j.at("beta"));
  run.seed = j.at("seed").get<std::uint64_t>();
  run.failure = j.at("failure").get<std::string>();
  run.roc_auc = exact_double(j.at("roc_auc"));
  run.pr_auc = exact_double(j.at("pr_auc"));
  run.validation_error = exact_double(j.at("validation_error"));
  run.threshold = exact_double(j.at("threshold"));
  run.labelled = j.at("labelled").get<bool>();
  const auto counts = j.at("confusion").get<std::vector<std::size_t>>();
  require(counts.size() == 4, "confusion needs 4 counts");
  run.at_threshold = Confusion{counts[0], counts[1], counts[2], counts[3]};
  const std::vector<double> per_kind = exact_doubles(j.at("per_kind_roc_auc"));
  require(per_kind.size() == run.per_kind_roc_auc.size(), "per_kind_roc_auc needs 3 values");
  std::copy(per_kind.begin(), per_kind.end(), run.per_kind_roc_auc.begin());
  run.training.epochs = epochs_from(j.at("epochs"));
  run.training.seconds = exact_double(j.at("train_seconds"));
  run.training.samples = j.at("samples").get<std::size_t>();
  run.roc = Curve{exact_doubles(j.at("roc").at(0)), exact_doubles(j.at("roc").at(1))};
  run.pr = Curve{exact_doubles(j.at("pr").at(0)), exact_doubles(j.at("pr").at(1))};
  run.histogram_edges = exact_doubles(j.at("histogram_edges"));
  const json& bins = j.at("histogram_counts");
  require(bins.size() == run.histogram_counts.size(), "histogram_counts needs 4 arrays");
  for (std::size_t k = 0; k < run.histogram_counts.size(); ++k)
    run.histogram_counts[k] = bins[k].get<std::vector<std::size_t>>();
  run.parameters = floats_from(j.at("parameters").get<std::string>());
  run.validation_scores = floats_from(j.at("validation_scores").get<std::string>());
  const json& s = j.at("standardizer");
  run.standardizer.mean = exact_doubles(s.at("mean"));
  run.standardizer.scale = exact_doubles(s.at("scale"));
  run.standardizer.constant_columns = s.at("constant_columns").get<std::vector<std::size_t>>();
  return run;
}

std::uint64_t fnv1a(std::uint64_t hash, const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) {
    hash ^= p[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

std::vector<std::vector<std::size_t>> assign_points(const ExperimentConfig& config,
                                                    std::size_t shares) {
  std::vector<std::size_t> every(config.points().size());
  std::iota(every.begin(), every.end(), std::size_t{0});
  return assign_points(config, shares, every);
}

std::vector<std::vector<std::size_t>> assign_points(const ExperimentConfig& config,
                                                    std::size_t shares,
                                                    std::span<const std::size_t> among) {
  require(shares >= 1, "a sweep needs at least one share");
  const std::vector<SweepPoint> points = config.points();
  std::vector<double> cost(points.size());
  std::map<int, double> by_latent;
  for (std::size_t i : among) {
    require(i < points.size(), "point " + std::to_string(i) + " lies outside the grid");
    auto [at, added] = by_latent.try_emplace(points[i].latent_dim, 0.0);
    if (added) {
      Architecture architecture = config.engine.architecture;
      architecture.input_dim = config.features();
      architecture.latent_dim = points[i].latent_dim;
      at->second = make_layout(architecture).training_flops_per_sample();
    }
    cost[i] = at->second;
  }
  std::vector<std::size_t> order(among.begin(), among.end());
  std::sort(order.begin(), order.end());
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
  std::vector<std::vector<std::size_t>> assigned(shares);
  std::vector<double> work(shares, 0.0);
  for (std::size_t i : order) {
    const auto share =
        static_cast<std::size_t>(std::min_element(work.begin(), work.end()) - work.begin());
    assigned[share].push_back(i);
    work[share] += cost[i];
  }
  for (std::vector<std::size_t>& share : assigned)
    std::sort(share.begin(), share.end());
  return assigned;
}

std::string data_fingerprint(const ExperimentConfig& config) {
  if (!config.table) return "synthetic";
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const Matrix* m : {&config.table->train, &config.table->validation, &config.table->test}) {
    const std::uint64_t shape[2] = {m->rows, m->cols};
    hash = fnv1a(hash, shape, sizeof shape);
    hash = fnv1a(hash, m->data(), m->values.size() * sizeof(float));
  }
  hash = fnv1a(hash, config.table->test_labels.data(), config.table->test_labels.size());
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

std::string serialize_part(const SweepPart& part) {
  json runs = json::array();
  for (const RunResult& run : part.runs)
    runs.push_back(run_state(run));
  json j{{"kind", kPartKind},
         {"format", kPartFormat},
         {"vaead_version", part.version},
         {"shard", {part.shard, part.shards}},
         {"arguments", part.arguments},
         {"grid", part.grid},
         {"data", part.data},
         {"device", engine_kind_name(part.device)},
         {"points", part.points},
         {"seconds", exact(part.seconds)},
         {"runs", runs}};
  // The sum of everything else, as the canonical text merge makes of what it reads (keys sorted,
  // numbers in their shortest exact form): any change to a value changes it.
  j["sha256"] = sha256_hex(j.dump());
  return j.dump();
}

SweepPart parse_part(std::string_view text, const std::string& source) {
  try {
    json j = json::parse(text);
    require(j.is_object() && j.value("kind", "") == kPartKind,
            "not a part of a sweep (vaead sweep --shard writes them)");
    require(j.at("format").get<int>() == kPartFormat, "part format " + j.at("format").dump() +
                                                          ", this vaead reads format " +
                                                          std::to_string(kPartFormat));
    const std::string sum = j.at("sha256").get<std::string>();
    j.erase("sha256");
    require(sha256_hex(j.dump()) == sum,
            "its content does not match its checksum (sha256): the file was changed or "
            "damaged after it was written; train the shard again");
    SweepPart part;
    part.version = j.at("vaead_version").get<std::string>();
    const auto shard = j.at("shard").get<std::vector<std::size_t>>();
    require(shard.size() == 2 && shard[0] < shard[1], "a bad shard " + j.at("shard").dump());
    part.shard = shard[0];
    part.shards = shard[1];
    part.arguments = j.at("arguments").get<std::vector<std::string>>();
    part.grid = j.at("grid").get<std::string>();
    part.data = j.at("data").get<std::string>();
    const std::string device = j.at("device").get<std::string>();
    require(device == "cpu" || device == "cuda", "an unknown device '" + device + "'");
    part.device = device == "cuda" ? EngineKind::cuda : EngineKind::cpu;
    part.points = j.at("points").get<std::vector<std::size_t>>();
    part.seconds = exact_double(j.at("seconds"));
    for (const json& run : j.at("runs"))
      part.runs.push_back(run_from(run));
    require(part.runs.size() == part.points.size(),
            "the part holds " + std::to_string(part.runs.size()) + " runs for " +
                std::to_string(part.points.size()) + " points");
    return part;
  } catch (const json::exception& error) {
    throw InputError(source + ": not a readable part of a sweep (" + error.what() + ")");
  } catch (const InputError& error) {
    throw InputError(source + ": " + error.what());
  }
}

void check_run_is_point(const RunResult& run, std::size_t index, const ExperimentConfig& config,
                        const std::string& source) {
  const std::vector<SweepPoint> points = config.points();
  require(index < points.size(), source + ": point " + std::to_string(index) +
                                     " lies outside the sweep's grid of " +
                                     std::to_string(points.size()) + " models");
  const SweepPoint& point = points[index];
  std::ostringstream names;
  names << "latent " << run.latent_dim << ", beta " << run.beta << ", seed " << run.seed;
  require(run.latent_dim == point.latent_dim && run.beta == point.beta && run.seed == point.seed,
          source + ": the run of point " + std::to_string(index) + " is " + names.str() +
              ", not a model of the sweep's grid there (latent " +
              std::to_string(point.latent_dim) + ", seed " + std::to_string(point.seed) + ")");
  Architecture architecture = config.engine.architecture;
  architecture.input_dim = config.features();
  architecture.latent_dim = point.latent_dim;
  const std::size_t expected = make_layout(architecture).size;
  require(run.parameters.size() == expected,
          source + ": the run " + names.str() + " holds " + std::to_string(run.parameters.size()) +
              " parameters, its model has " + std::to_string(expected));
}

std::vector<RunResult> merge_parts(std::span<const SweepPart> parts,
                                   std::span<const std::string> sources,
                                   const ExperimentConfig& config,
                                   const std::map<std::size_t, RunResult>& finished) {
  require(!parts.empty() && parts.size() == sources.size(), "merge needs at least one part");
  const SweepPart& first = parts.front();
  const std::string grid = grid_description(config);
  const std::string data = data_fingerprint(config);
  const std::size_t total = config.points().size();
  std::vector<std::size_t> missing;
  for (std::size_t i = 0; i < total; ++i)
    if (finished.count(i) == 0) missing.push_back(i);
  const std::vector<std::vector<std::size_t>> shares = assign_points(config, first.shards, missing);
  std::vector<int> seen(first.shards, -1);
  std::vector<RunResult> runs(total);
  for (const auto& [index, run] : finished)
    runs.at(index) = run;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const SweepPart& part = parts[k];
    const std::string& source = sources[k];
    require(part.version == std::string(version()),
            source + ": written by vaead " + part.version + ", this is vaead " +
                std::string(version()) + "; merge parts of one version");
    require(part.shards == first.shards, source + ": shard " + std::to_string(part.shard) + " of " +
                                             std::to_string(part.shards) + ", but " + sources[0] +
                                             " is one of " + std::to_string(first.shards));
    require(part.grid == grid,
            source + ": a different sweep (grid, model, training or threshold) from " + sources[0]);
    require(part.data == data, source + ": trained on different data (fingerprint " + part.data +
                                   ", " + sources[0] + " has " + data + ")");
    if (seen[part.shard] >= 0)
      throw InputError(source + ": shard " + std::to_string(part.shard) + " of " +
                       std::to_string(part.shards) + " is given twice (also " +
                       sources[static_cast<std::size_t>(seen[part.shard])] + ")");
    seen[part.shard] = static_cast<int>(k);
    require(part.points == shares[part.shard],
            source + ": its models are not shard " + std::to_string(part.shard) + "'s");
    for (std::size_t i = 0; i < part.points.size(); ++i) {
      check_run_is_point(part.runs[i], part.points[i], config, source);
      runs[part.points[i]] = part.runs[i];
    }
  }
  for (std::size_t s = 0; s < seen.size(); ++s)
    require(seen[s] >= 0, "shard " + std::to_string(s) + " of " + std::to_string(first.shards) +
                              " is missing (give every part of the sweep)");
  return runs;
}

}  // namespace vaead

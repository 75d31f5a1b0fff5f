// bench_sweep: sweep throughput (models x training samples per second) of M models trained
// concurrently by `vaead sweep`'s machinery, against the same M models trained one after another
// (each alone, with every thread, as M separate `vaead` runs would). Wall time of whole runs:
// data, training and scoring; the median of several repeats after a warm-up run.
//   bench_sweep [--device cpu|cuda] [--models 1,8,32,128] [--train-rows 8192] [--epochs 2]
//               [--threads N] [--repeats 3] [--json FILE]
// Models: latent sizes 2, 4, 8, 16 (8 alone for M = 1) x M / 4 seeds, beta 1, batch 256, every
// model on the same data (--data-seed 0), which bench/peers/torch_sweep.py reads as train.csv.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "vaead/study/experiment.hpp"

namespace {

using namespace vaead;
using bench::median;
using Clock = std::chrono::steady_clock;

ExperimentConfig sweep_of(int models, int train_rows, int epochs, int threads, EngineKind device) {
  ExperimentConfig config;
  config.device = device;
  config.data.train_rows = train_rows;
  config.data.validation_rows = 1024;
  config.data.test_rows = 1024;
  config.data_seed = 0;
  config.train.epochs = epochs;
  config.train.kl_warmup_epochs = 1;
  config.engine.threads = threads;
  config.latent_dims = models % 4 == 0 ? std::vector<int>{2, 4, 8, 16} : std::vector<int>{8};
  config.seed_count = models % 4 == 0 ? models / 4 : models;
  return config;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + 1e-6 * t.tv_usec; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

struct Timing {
  double wall = 0.0;
  double busy_cores = 0.0;  // CPU seconds of this process per wall second
};

// The whole study, concurrent (the sweep) or one model after another.
Timing time_of(const ExperimentConfig& config, bool concurrent) {
  const double cpu_start = cpu_seconds();
  const auto start = Clock::now();
  if (concurrent) {
    run_experiment(config);
  } else {
    ExperimentConfig alone = config;
    alone.concurrency = 1;  // CPU: each model with every thread
    for (const SweepPoint& point : config.points())
      run_once(alone, point);
  }
  const double wall = std::chrono::duration<double>(Clock::now() - start).count();
  return {wall, (cpu_seconds() - cpu_start) / wall};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sweep throughput: M models at once against M single runs"};
  std::string device = "cpu", json_path;
  int threads = 0, repeats = 3, train_rows = 8192, epochs = 2;
  std::vector<int> model_counts{1, 8, 32, 128};
  app.add_option("--device", device)->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--models", model_counts, "Model counts M (1 or multiples of 4)")->delimiter(',');
  app.add_option("--train-rows", train_rows);
  app.add_option("--epochs", epochs);
  app.add_option("--threads", threads, "CPU threads (0 = every core)");
  app.add_option("--repeats", repeats, "Timed runs per point (the median counts)");
  app.add_option("--json", json_path);
  CLI11_PARSE(app, argc, argv);
  const EngineKind kind = device == "cuda" ? EngineKind::cuda : EngineKind::cpu;

  run_experiment(sweep_of(1, 1024, 1, threads, kind));  // warm-up: threads, context, allocator
  nlohmann::json results = nlohmann::json::array();
  std::printf("%-6s %6s %22s %22s %8s %12s\n", "engine", "models", "sweep model-samples/s",
              "one-by-one samples/s", "ratio", "busy cores");
  for (int models : model_counts) {
    const ExperimentConfig config = sweep_of(models, train_rows, epochs, threads, kind);
    const double samples = static_cast<double>(models) * train_rows * epochs;
    std::vector<double> together, apart, busy;
    for (int r = 0; r < repeats; ++r) {
      const Timing sweep = time_of(config, true);
      together.push_back(sweep.wall);
      busy.push_back(sweep.busy_cores);
      apart.push_back(time_of(config, false).wall);
    }
    const double sweep_rate = samples / median(together), single_rate = samples / median(apart);
    std::printf("%-6s %6d %22.0f %22.0f %8.2f %12.2f\n", device.c_str(), models, sweep_rate,
                single_rate, sweep_rate / single_rate, median(busy));
    std::fflush(stdout);
    results.push_back({{"engine", device},
                       {"models", models},
                       {"train_rows", train_rows},
                       {"epochs", epochs},
                       {"threads", threads},
                       {"sweep_seconds", median(together)},
                       {"sweep_busy_cores", median(busy)},
                       {"sequential_seconds", median(apart)},
                       {"sweep_model_samples_per_second", sweep_rate},
                       {"sequential_model_samples_per_second", single_rate}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << results.dump(1) << '\n';
}

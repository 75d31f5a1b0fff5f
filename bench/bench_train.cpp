// bench_train: training samples/s (forward + backward + Adam, whole epochs: shuffle, gather and
// the step) of an engine, in steady state: one warm-up epoch, then the median of several timed
// epochs. Also GFLOP/s from the counted FLOPs of a step
// (ParameterLayout::training_flops_per_sample).
//   bench_train [--device cpu|cuda] [--threads N] [--batches 256,4096] [--latents 8,16]
//               [--repeats 5] [--json FILE]
// The data is the seed study's training split (seed 0), standardized: the rows `vaead generate`
// writes to train.csv, which bench/peers/torch_train.py reads.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "vaead/data/standardizer.hpp"
#include "vaead/data/synthetic.hpp"
#include "vaead/train/engine.hpp"

namespace {

using namespace vaead;
using bench::median;

// The training rows, tiled to at least `rows` so that large batches make several steps.
Matrix tiled(const Matrix& base, std::size_t rows) {
  Matrix out(std::max(rows, base.rows), base.cols);
  for (std::size_t r = 0; r < out.rows; ++r)
    std::copy(base.row(r % base.rows), base.row(r % base.rows) + base.cols, out.row(r));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Training throughput of a vaead engine"};
  std::string device = "cpu", json_path, gpu_math = "fp32";
  int threads = 0, repeats = 5;
  std::vector<int> batches{256, 1024, 4096, 16384, 65536}, latents{2, 8, 16};
  app.add_option("--device", device)->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--threads", threads, "CPU threads (0 = every core)");
  app.add_option("--batches", batches)->delimiter(',');
  app.add_option("--latents", latents)->delimiter(',');
  app.add_option("--repeats", repeats, "Timed epochs per point (the median counts)");
  app.add_option("--json", json_path);
  app.add_option("--gpu-math", gpu_math, "CUDA training path: fp32 (tiled), tf32, 3xtf32 (fused)")
      ->check(CLI::IsMember({"fp32", "tf32", "3xtf32"}));
  CLI11_PARSE(app, argc, argv);

  SyntheticConfig data;  // seed 0: vaead generate's train.csv
  Matrix base = generate_synthetic(data).train.features;
  Standardizer::fit(base).apply(base);
  nlohmann::json results = nlohmann::json::array();
  std::printf("%-6s %7s %7s %7s %14s %10s %9s\n", "engine", "threads", "latent", "batch",
              "samples/s", "GFLOP/s", "epoch ms");
  for (int latent : latents) {
    for (int batch : batches) {
      EngineConfig config;
      config.architecture.latent_dim = latent;
      config.batch_size = batch;
      config.threads = threads;
      config.gpu_math = *gpu_math_named(gpu_math);  // checked by --gpu-math
      const auto engine =
          make_engine(device == "cuda" ? EngineKind::cuda : EngineKind::cpu, config);
      const Matrix rows = tiled(base, 4 * static_cast<std::size_t>(batch));
      engine->set_training_data(rows);
      engine->train_epoch(0, 1.0);  // warm-up: allocation, graph capture, caches
      std::vector<double> rates;
      for (int r = 0; r < repeats; ++r) {
        const auto start = std::chrono::steady_clock::now();
        const EpochResult epoch = engine->train_epoch(r + 1, 1.0);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (epoch.non_finite) {
          std::fprintf(stderr, "bench_train: training diverged\n");
          return 1;
        }
        rates.push_back(static_cast<double>(rows.rows) / seconds);
      }
      const double rate = median(rates);
      const double gflops = rate * engine->layout().training_flops_per_sample() / 1e9;
      const int used_threads = device == "cpu" ? (threads > 0 ? threads : -1) : 0;
      std::printf("%-6s %7d %7d %7d %14.0f %10.1f %9.2f\n", device.c_str(), used_threads, latent,
                  batch, rate, gflops, 1e3 * static_cast<double>(rows.rows) / rate);
      results.push_back({{"engine", device},
                         {"gpu_math", gpu_math},
                         {"threads", used_threads},
                         {"latent_dim", latent},
                         {"batch_size", batch},
                         {"samples_per_second", rate},
                         {"gflops", gflops},
                         {"rows_per_epoch", rows.rows},
                         {"repeats", repeats}});
    }
  }
  if (!json_path.empty()) std::ofstream(json_path) << nlohmann::json{{"results", results}}.dump(1);
  return 0;
}

// bench_step: where a CPU training step's time goes, per row: the forward pass with the loss, the
// backward pass, and Adam, on N threads, for the default network (30 -> 128 -> 64 -> L -> 64 ->
// 128 -> 30). The best of R steps counts (the least disturbed by the machine's other tenants:
// this measures what the code can do, not what a noisy minute lets it do); bench_train and
// bench/cpu_rounds.sh measure whole epochs. --slices varies the rows of the backward pass's slices
// (the bits never depend on them) to choose CpuModel::kBackwardRows.
//   bench_step [--threads 2] [--batches 4096,16384] [--latents 8,16] [--slices 2048] [--repeats 40]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "cpu/cpu_model.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"A CPU training step's parts, per row, best of several steps"};
  int threads = 2, repeats = 40;
  std::vector<std::size_t> batches{4096, 16384}, slices{vaead::cpu::CpuModel<float>::kBackwardRows};
  std::vector<int> latents{8, 16};
  app.add_option("--threads", threads)->check(CLI::Range(1, 256));
  app.add_option("--batches", batches)->delimiter(',');
  app.add_option("--latents", latents)->delimiter(',');
  app.add_option("--slices", slices, "Rows of a backward slice")->delimiter(',');
  app.add_option("--repeats", repeats, "Timed steps (the best counts)")
      ->check(CLI::Range(1, 10000));
  CLI11_PARSE(app, argc, argv);

  std::printf("%7s %6s %6s %6s %12s %12s %10s %10s  (ns a row, best of %d)\n", "threads", "latent",
              "batch", "slice", "forward+loss", "backward", "adam", "step", repeats);
  std::mt19937 generator(1);
  std::normal_distribution<float> normal;
  for (const int latent : latents)
    for (const std::size_t batch : batches)
      for (const std::size_t slice : slices) {
        vaead::EngineConfig config;
        config.architecture.latent_dim = latent;
        config.batch_size = static_cast<int>(batch);
        config.threads = threads;
        vaead::cpu::CpuModel<float> model(config, vaead::cpu::TeamPolicy::kWorkPerThread, slice);
        std::vector<float> x(batch * static_cast<std::size_t>(config.architecture.input_dim));
        std::vector<float> eps(batch * static_cast<std::size_t>(latent));
        for (float& v : x)
          v = normal(generator);
        for (float& v : eps)
          v = normal(generator);
        double forward = 1e30, step = 1e30, adam = 1e30;
        for (int r = 0; r <= repeats; ++r) {  // the first is a warm-up
          auto start = Clock::now();
          model.loss(x.data(), batch, eps.data(), 0.5);
          const double f = seconds_since(start);
          start = Clock::now();
          model.loss_and_gradients(x.data(), batch, eps.data(), 0.5);
          const double s = seconds_since(start);
          start = Clock::now();
          model.adam_update();
          const double a = seconds_since(start);
          if (r == 0) continue;
          forward = std::min(forward, f);
          step = std::min(step, s);
          adam = std::min(adam, a);
        }
        const double per_row = 1e9 / static_cast<double>(batch);
        std::printf("%7d %6d %6zu %6zu %12.0f %12.0f %10.0f %10.0f\n", threads, latent, batch,
                    slice, forward * per_row, (step - forward) * per_row, adam * per_row,
                    (step + adam) * per_row);
      }
  return 0;
}

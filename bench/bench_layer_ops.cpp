// bench_layer_ops: GFLOP/s of the CPU engine's three layer ops (forward, input gradient, weight
// gradient) for each Linear shape of the default network at latent 8 and 16, on one thread: where
// a step's time goes, to be read against bench_cpu_peak --threads 1.
//   bench_layer_ops [--rows N] [--repeats R]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "cpu/dense_ops.hpp"

namespace {

template <class F>
double best_seconds(int repeats, const F& op) {
  op();  // warm-up
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    op();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"GFLOP/s of the CPU layer ops, one thread"};
  std::size_t rows = 4096;
  int repeats = 7;
  app.add_option("--rows", rows);
  app.add_option("--repeats", repeats, "Timed calls per op (the best counts)");
  CLI11_PARSE(app, argc, argv);
  using vaead::cpu::linear_backward_input, vaead::cpu::linear_backward_params,
      vaead::cpu::linear_forward;
  // in -> out of every Linear of 30 -> 128 -> 64 -> (L, L) -> 64 -> 128 -> 30, L = 8 and 16.
  const std::size_t shapes[][2] = {{30, 128}, {128, 64}, {64, 16}, {16, 64},
                                   {64, 128}, {128, 30}, {64, 8},  {8, 64}};
  std::mt19937 generator(1);
  std::normal_distribution<float> normal;
  std::printf("rows %zu, 1 thread, GFLOP/s (best of %d)\n", rows, repeats);
  std::printf("  in -> out   forward  input-gradient  weight-gradient\n");
  for (const auto& shape : shapes) {
    const std::size_t in = shape[0], out = shape[1];
    std::vector<float> x(rows * in), wt(in * out), w(out * in), bias(out), y(rows * out),
        gy(rows * out), gx(rows * in), gw(out * in), gb(out);
    for (auto* values : {&x, &wt, &w, &bias, &gy})
      for (float& v : *values)
        v = normal(generator);
    for (float& v : x)
      v = std::max(v, 0.0f);  // a ReLU output: the input gradient's mask
    const double flops = 2.0 * static_cast<double>(rows * in * out);
    const double forward = best_seconds(repeats, [&] {
      linear_forward(x.data(), rows, in, wt.data(), bias.data(), out, true, y.data(), nullptr);
    });
    const double input = best_seconds(repeats, [&] {
      linear_backward_input(gy.data(), rows, out, w.data(), in, false, x.data(), gx.data(),
                            nullptr);
    });
    const double params = best_seconds(repeats, [&] {
      linear_backward_params(gy.data(), x.data(), rows, in, out, gw.data(), gb.data(), nullptr);
    });
    std::printf("%4zu -> %4zu  %8.1f  %14.1f  %15.1f\n", in, out, flops / forward / 1e9,
                flops / input / 1e9, flops / params / 1e9);
  }
  return 0;
}

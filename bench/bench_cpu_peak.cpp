// bench_cpu_peak: this machine's FP32 FMA ceiling on N threads, for GFLOP/s figures to be read
// against. Each thread runs independent fused multiply-adds on as many accumulators of the widest
// vectors the compiler targets as cover the FMA latency and still fit the register file (12 of 8
// floats for AVX2's 16 registers, 24 of 16 for AVX-512's 32), written as std::fma so that the
// figure does not depend on the compiler's contraction; the median of several repeats counts.
//   bench_cpu_peak [--threads N] [--repeats R] [--json FILE]
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

#if defined(__AVX512F__)
constexpr int kWidth = 16;         // floats per accumulator: one AVX-512 register
constexpr int kAccumulators = 24;  // independent chains: 2 ports x 4 cycles' latency, and more
#else
constexpr int kWidth = 8;  // one AVX register
constexpr int kAccumulators = 12;
#endif

// 2 * kWidth * kAccumulators FLOPs per iteration; the compiler keeps the accumulators in
// registers and emits one vector FMA per (accumulator, iteration).
float fma_loop(long long iterations, float seed) {
  float acc[kAccumulators][kWidth];
  for (int a = 0; a < kAccumulators; ++a)
    for (int i = 0; i < kWidth; ++i)
      acc[a][i] = seed + 0.001f * static_cast<float>(a + i);
  const float scale = 0.999999f, shift = 1e-7f;
  for (long long it = 0; it < iterations; ++it)
    for (int a = 0; a < kAccumulators; ++a)
#pragma omp simd
      for (int i = 0; i < kWidth; ++i)
        acc[a][i] = std::fma(acc[a][i], scale, shift);
  float sum = 0.0f;
  for (int a = 0; a < kAccumulators; ++a)
    for (int i = 0; i < kWidth; ++i)
      sum += acc[a][i];
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"FP32 FMA throughput ceiling"};
  int threads = 0, repeats = 5;
  app.add_option("--threads", threads, "Threads (0 = every core)");
  app.add_option("--repeats", repeats);
  std::string json_path;
  app.add_option("--json", json_path, "Also write {\"threads\": N, \"gflops\": X} here");
  CLI11_PARSE(app, argc, argv);
  if (threads <= 0) threads = omp_get_num_procs();
  const long long iterations = 50'000'000;
  std::vector<double> rates;
  float sink = 0.0f;
  for (int r = 0; r <= repeats; ++r) {  // the first is a warm-up
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    sink += fma_loop(iterations, static_cast<float>(omp_get_thread_num()));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r > 0)
      rates.push_back(2.0 * kWidth * kAccumulators * static_cast<double>(iterations) * threads /
                      seconds / 1e9);
  }
  std::sort(rates.begin(), rates.end());
  const double median = rates[rates.size() / 2];
  std::printf("FP32 FMA ceiling on %d thread(s): %.1f GFLOP/s (median of %d; checksum %g)\n",
              threads, median, repeats, static_cast<double>(sink));
  if (!json_path.empty())
    std::ofstream(json_path) << "{\"threads\": " << threads << ", \"gflops\": " << median << "}\n";
  return 0;
}

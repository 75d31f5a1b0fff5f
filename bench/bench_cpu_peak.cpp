// bench_cpu_peak: this machine's FP32 FMA ceiling on N threads, for GFLOP/s figures to be read
// against. Each thread runs independent fused multiply-adds on as many accumulators of the widest
// vectors the target has as cover the FMA latency and still fit the register file (12 of 8
// floats for AVX2's 16 registers, 24 of 16 for AVX-512's 32), as FMA intrinsics; the median of
// several repeats counts.
//   bench_cpu_peak [--threads N] [--repeats R] [--json FILE]
#include <omp.h>

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
// GCC 12's own avx512fintrin.h trips -Wuninitialized (its _mm256_undefined_pd) when the lane sum
// below is vectorized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

// 2 * kWidth * kAccumulators FLOPs per iteration, one vector FMA per (accumulator, iteration), in
// intrinsics: a compiler left to vectorize a plain loop may pick narrower vectors than the target
// has (GCC for Zen 4 prefers 256 bits) and then spill twice the accumulators.
#if defined(__AVX512F__)
constexpr int kWidth = 16;         // floats per accumulator: one AVX-512 register
constexpr int kAccumulators = 24;  // independent chains: 2 ports x 4 cycles' latency, and more
using Vector = __m512;
inline Vector splat(float v) {
  return _mm512_set1_ps(v);
}
inline Vector fused(Vector a, Vector b, Vector c) {
  return _mm512_fmadd_ps(a, b, c);
}
inline float total(Vector v) {
  return _mm512_reduce_add_ps(v);
}
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kWidth = 8;  // one AVX register
constexpr int kAccumulators = 12;
using Vector = __m256;
inline Vector splat(float v) {
  return _mm256_set1_ps(v);
}
inline Vector fused(Vector a, Vector b, Vector c) {
  return _mm256_fmadd_ps(a, b, c);
}
inline float total(Vector v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  float sum = 0.0f;
  for (float lane : lanes)
    sum += lane;
  return sum;
}
#else
constexpr int kWidth = 1;  // no vector FMA: std::fma (a libm call without FMA hardware)
constexpr int kAccumulators = 8;
using Vector = float;
inline Vector splat(float v) {
  return v;
}
inline Vector fused(Vector a, Vector b, Vector c) {
  return std::fma(a, b, c);
}
inline float total(Vector v) {
  return v;
}
#endif

float fma_loop(long long iterations, float seed) {
  Vector acc[kAccumulators];
  for (int a = 0; a < kAccumulators; ++a)
    acc[a] = splat(seed + 0.001f * static_cast<float>(a));
  const Vector scale = splat(0.999999f), shift = splat(1e-7f);
  for (long long it = 0; it < iterations; ++it) {
#pragma GCC unroll 32  // the accumulators stay in registers only when this loop is unrolled
    for (int a = 0; a < kAccumulators; ++a)
      acc[a] = fused(acc[a], scale, shift);
  }
  float sum = 0.0f;
  for (int a = 0; a < kAccumulators; ++a)
    sum += total(acc[a]);
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

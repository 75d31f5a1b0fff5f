// bench_auc: vaead's device ROC-AUC + average precision (one radix sort, tie groups, scans and
// reductions; exact) for 10^6, 10^7 and 10^8 scores, against a bare cub::DeviceRadixSort::SortPairs
// of the same scores with their labels: the floor any sort-based exact AUC stands on. Both keep
// their device memory between calls (the sort its temporary storage, vaead a RankingWorkspace);
// vaead's time includes bringing the results to the host. Target: within 1.5x of the
// bare sort at 10^8.
//   bench_auc [--sizes 1000000,10000000,100000000] [--json FILE]
#include <cub/device/device_radix_sort.cuh>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "auc.cuh"
#include "device_buffer.cuh"
#include "device_timer.hpp"
#include "launch.cuh"

namespace {

using vaead::bench::check;
using vaead::bench::seconds_per_call;
using vaead::cuda::DeviceBuffer;

// Scores with ties (rounded to 2^-12) and 10% anomalies scoring a little higher.
__global__ void fill(float* scores, std::uint8_t* labels, std::size_t n) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  unsigned h = static_cast<unsigned>(i) * 2654435761u;
  h ^= h >> 16;
  h *= 2246822519u;
  h ^= h >> 13;
  const bool anomaly = h % 10 == 0;
  const float u = static_cast<float>(h >> 8) / 16777216.0f;
  scores[i] = rintf((u + (anomaly ? 0.3f : 0.0f)) * 4096.0f) / 4096.0f;
  labels[i] = anomaly ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Device ROC-AUC / AP against a bare radix sort"};
  std::vector<long long> sizes{1000000, 10000000, 100000000};
  std::string json_path;
  app.add_option("--sizes", sizes)->delimiter(',');
  app.add_option("--json", json_path);
  CLI11_PARSE(app, argc, argv);
  cudaStream_t stream = nullptr;
  check(cudaStreamCreate(&stream), "cudaStreamCreate");
  nlohmann::json results = nlohmann::json::array();
  std::printf("%12s %14s %14s %8s %10s\n", "scores", "vaead AUC+AP s", "bare sort s", "ratio",
              "ROC-AUC");
  for (long long size : sizes) {
    const auto n = static_cast<std::size_t>(size);
    DeviceBuffer<float> scores(n), sorted_scores(n);
    DeviceBuffer<std::uint8_t> labels(n), sorted_labels(n);
    vaead::cuda::launch("fill", fill, vaead::cuda::blocks_for(size), vaead::cuda::kBlock, stream,
                        scores.data(), labels.data(), n);
    std::size_t temp_bytes = 0;
    cub::DeviceRadixSort::SortPairsDescending(nullptr, temp_bytes, scores.data(),
                                              sorted_scores.data(), labels.data(),
                                              sorted_labels.data(), size, 0, 32, stream);
    DeviceBuffer<unsigned char> temp(temp_bytes);
    const double sort_s = seconds_per_call(
        [&] {
          cub::DeviceRadixSort::SortPairsDescending(temp.data(), temp_bytes, scores.data(),
                                                    sorted_scores.data(), labels.data(),
                                                    sorted_labels.data(), size, 0, 32, stream);
        },
        stream, 3, 5);
    vaead::cuda::RankingMetrics metrics;
    vaead::cuda::RankingWorkspace workspace;  // kept between calls, as the bare sort's temp is
    const double auc_s = seconds_per_call(
        [&] {
          metrics = vaead::cuda::device_ranking_metrics(scores.data(), labels.data(), n, stream,
                                                        &workspace);
        },
        stream, 1, 5);
    std::printf("%12lld %14.5f %14.5f %8.2f %10.6f\n", size, auc_s, sort_s, auc_s / sort_s,
                metrics.roc_auc);
    std::fflush(stdout);
    results.push_back({{"scores", size},
                       {"vaead_seconds", auc_s},
                       {"bare_sort_seconds", sort_s},
                       {"ratio", auc_s / sort_s},
                       {"roc_auc", metrics.roc_auc},
                       {"average_precision", metrics.average_precision}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << results.dump(1) << '\n';
  cudaStreamDestroy(stream);
  return 0;
}

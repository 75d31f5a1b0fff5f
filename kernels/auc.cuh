// Exact ROC-AUC and average precision on the device, by sorting the scores.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace vaead::cuda {

struct RankingMetrics {
  double roc_auc = 0.0;
  double average_precision = 0.0;
  std::size_t positives = 0;
  std::size_t negatives = 0;
  std::size_t nan_scores = 0;  // NaN scores make both metrics NaN
};

// Device memory the ranking metrics keep from call to call: with one, a repeated call of the same
// size allocates nothing (without, each call allocates and frees its own).
class RankingWorkspace {
 public:
  RankingWorkspace();
  ~RankingWorkspace();
  RankingWorkspace(const RankingWorkspace&) = delete;
  RankingWorkspace& operator=(const RankingWorkspace&) = delete;
  struct Impl;  // defined where the metrics are (auc.cu)
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

// The CPU metrics' definitions exactly: ties count one half in ROC-AUC and form one threshold in
// average precision. Throws std::invalid_argument when a score is NaN or a class is absent.
//   scores [n], labels [n] (1 = anomaly): device memory
RankingMetrics device_ranking_metrics(const float* scores, const std::uint8_t* labels,
                                      std::size_t n, cudaStream_t stream,
                                      RankingWorkspace* workspace = nullptr);

// The same for `segments` sets of n scores each ([segments][n], e.g. one per model) in one sort and
// one pass; a segment without both classes, or with a NaN score, gets NaN metrics (the other
// segments are not affected). Only the results cross to the host.
std::vector<RankingMetrics> device_ranking_metrics_segmented(const float* scores,
                                                             const std::uint8_t* labels,
                                                             std::size_t segments, std::size_t n,
                                                             cudaStream_t stream,
                                                             RankingWorkspace* workspace = nullptr);

}  // namespace vaead::cuda

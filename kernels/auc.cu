// Device ROC-AUC and average precision: one radix sort (scores descending, labels along), then
// runs of equal scores collapsed into groups with (size, anomalies), a scan over the groups, and
// two reductions. With groups g in descending order, covering sorted positions [s_g, e_g):
//   ROC-AUC: the anomalies of g hold ascending ranks n - e_g + 1 .. n - s_g, mean
//            (2n - e_g - s_g + 1) / 2; AUC = (sum of anomaly ranks - P (P + 1) / 2) / (P N),
//            kept exact as an integer sum of doubled ranks.
//   AP:      sum over g of (anomalies of g / P) * (anomalies up to g / e_g).
#include <thrust/count.h>
#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/functional.h>
#include <thrust/iterator/constant_iterator.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/zip_iterator.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sort.h>
#include <thrust/transform.h>
#include <thrust/transform_reduce.h>

#include <string>

#include "auc.cuh"
#include "cuda_check.cuh"

namespace vaead::cuda {
namespace {

using Count = unsigned long long;

struct IsNan {
  __device__ bool operator()(float value) const { return isnan(value); }
};

struct PositiveZero {  // -0 and +0 are one score: sort them as one key
  __device__ float operator()(float value) const { return value == 0.0f ? 0.0f : value; }
};

struct AsCount {
  __device__ Count operator()(std::uint8_t label) const { return label != 0 ? 1ull : 0ull; }
};

struct AddPairs {
  __device__ thrust::tuple<Count, Count> operator()(const thrust::tuple<Count, Count>& a,
                                                    const thrust::tuple<Count, Count>& b) const {
    return {thrust::get<0>(a) + thrust::get<0>(b), thrust::get<1>(a) + thrust::get<1>(b)};
  }
};

// Twice the summed ascending ranks of group g's anomalies.
struct DoubledRankSum {
  const Count* size;
  const Count* anomalies;
  const Count* end;  // inclusive scan of size: e_g
  Count n;
  __device__ Count operator()(Count g) const {
    const Count e = end[g], s = e - size[g];
    return anomalies[g] * (2 * n - e - s + 1);
  }
};

struct PrecisionStep {
  const Count* anomalies;
  const Count* anomalies_through;  // inclusive scan of anomalies
  const Count* end;
  __device__ double operator()(Count g) const {
    return static_cast<double>(anomalies[g]) * static_cast<double>(anomalies_through[g]) /
           static_cast<double>(end[g]);
  }
};

}  // namespace

RankingMetrics device_ranking_metrics(const float* scores, const std::uint8_t* labels,
                                      std::size_t n, cudaStream_t stream) {
  check_argument(n > 0, "device_ranking_metrics: no scores");
  const auto policy = thrust::cuda::par.on(stream);
  const thrust::device_ptr<const float> score_ptr(scores);
  const thrust::device_ptr<const std::uint8_t> label_ptr(labels);
  const auto nan_count = thrust::count_if(policy, score_ptr, score_ptr + n, IsNan{});
  check_argument(nan_count == 0,
                 "device_ranking_metrics: " + std::to_string(nan_count) + " scores are NaN");

  thrust::device_vector<float> keys(n);
  thrust::device_vector<std::uint8_t> sorted_labels(label_ptr, label_ptr + n);
  thrust::transform(policy, score_ptr, score_ptr + n, keys.begin(), PositiveZero{});
  thrust::sort_by_key(policy, keys.begin(), keys.end(), sorted_labels.begin(),
                      thrust::greater<float>());

  // Groups of equal scores: (size, anomalies).
  thrust::device_vector<float> group_keys(n);
  thrust::device_vector<Count> size(n), anomalies(n);
  const auto values = thrust::make_zip_iterator(
      thrust::make_tuple(thrust::make_constant_iterator<Count>(1),
                         thrust::make_transform_iterator(sorted_labels.begin(), AsCount{})));
  const auto ends = thrust::reduce_by_key(
      policy, keys.begin(), keys.end(), values, group_keys.begin(),
      thrust::make_zip_iterator(thrust::make_tuple(size.begin(), anomalies.begin())),
      thrust::equal_to<float>(), AddPairs{});
  const auto groups = static_cast<std::size_t>(ends.first - group_keys.begin());

  thrust::device_vector<Count> end(groups), anomalies_through(groups);
  thrust::inclusive_scan(policy, size.begin(), size.begin() + groups, end.begin());
  thrust::inclusive_scan(policy, anomalies.begin(), anomalies.begin() + groups,
                         anomalies_through.begin());
  const Count positives = anomalies_through.back();
  RankingMetrics metrics;
  metrics.positives = positives;
  metrics.negatives = n - positives;
  check_argument(positives > 0 && positives < n,
                 "device_ranking_metrics needs both classes; found " + std::to_string(positives) +
                     " anomalies in " + std::to_string(n) + " rows");

  const thrust::counting_iterator<Count> first(0);
  const Count doubled_rank_sum =
      thrust::transform_reduce(policy, first, first + groups,
                               DoubledRankSum{thrust::raw_pointer_cast(size.data()),
                                              thrust::raw_pointer_cast(anomalies.data()),
                                              thrust::raw_pointer_cast(end.data()), n},
                               Count{0}, thrust::plus<Count>());
  const double precision_sum =
      thrust::transform_reduce(policy, first, first + groups,
                               PrecisionStep{thrust::raw_pointer_cast(anomalies.data()),
                                             thrust::raw_pointer_cast(anomalies_through.data()),
                                             thrust::raw_pointer_cast(end.data())},
                               0.0, thrust::plus<double>());
  const auto p = static_cast<double>(positives), q = static_cast<double>(n - positives);
  // 2U = doubled rank sum - P (P + 1): an integer, exact.
  const Count twice_u = doubled_rank_sum - positives * (positives + 1);
  metrics.roc_auc = static_cast<double>(twice_u) / (2.0 * p * q);
  metrics.average_precision = precision_sum / p;
  return metrics;
}

}  // namespace vaead::cuda

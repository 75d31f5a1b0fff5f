// Device ROC-AUC and average precision: one radix sort of (segment, score descending) keys with the
// labels along, so every model's scores are ranked in the same pass; then runs of equal keys
// collapsed into groups with (size, anomalies), scans over each segment's groups, and reductions
// by segment. With a segment's groups g in descending order, covering its sorted positions
// [s_g, e_g):
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
#include <thrust/iterator/transform_iterator.h>
#include <thrust/iterator/zip_iterator.h>
#include <thrust/reduce.h>
#include <thrust/scan.h>
#include <thrust/sort.h>
#include <thrust/transform.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "auc.cuh"
#include "cuda_check.cuh"

namespace vaead::cuda {
namespace {

using Count = unsigned long long;
// Sort keys: the descending score order in the low 32 bits and, with several segments, the segment
// in the high 32 (one segment sorts 32-bit keys: half the radix passes).
template <class Key>
constexpr bool kSegmented = sizeof(Key) == 8;

struct IsNan {
  __device__ bool operator()(float value) const { return isnan(value); }
};

// Ascending order of the keys = segment order, then descending scores; -0 and +0 are one score.
template <class Key>
struct SegmentScoreKey {
  const float* scores;
  std::size_t n;
  __device__ Key operator()(std::size_t i) const {
    const float value = scores[i] == 0.0f ? 0.0f : scores[i];
    const unsigned bits = __float_as_uint(value);
    const unsigned ascending = (bits & 0x80000000u) != 0 ? ~bits : (bits | 0x80000000u);
    if constexpr (kSegmented<Key>)
      return (static_cast<Key>(i / n) << 32) | static_cast<Key>(~ascending);
    else
      return ~ascending;
  }
};

template <class Key>
struct SegmentOf {
  __host__ __device__ Count operator()(Key key) const {
    if constexpr (kSegmented<Key>)
      return key >> 32;
    else
      return 0;
  }
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

// Group g's share of both metrics: twice the summed ascending ranks of its anomalies, its
// precision step (anomalies of g x anomalies through g / e_g), and its anomalies.
struct GroupTerms {
  const Count* size;
  const Count* anomalies;
  const Count* end;                // inclusive scan of size within the segment: e_g
  const Count* anomalies_through;  // inclusive scan of anomalies within the segment
  Count n;
  __host__ __device__ thrust::tuple<Count, double, Count> operator()(Count g) const {
    const Count e = end[g], s = e - size[g];
    return {anomalies[g] * (2 * n - e - s + 1),
            static_cast<double>(anomalies[g]) * static_cast<double>(anomalies_through[g]) /
                static_cast<double>(e),
            anomalies[g]};
  }
};

struct AddTerms {
  __host__ __device__ thrust::tuple<Count, double, Count> operator()(
      const thrust::tuple<Count, double, Count>& a,
      const thrust::tuple<Count, double, Count>& b) const {
    return {thrust::get<0>(a) + thrust::get<0>(b), thrust::get<1>(a) + thrust::get<1>(b),
            thrust::get<2>(a) + thrust::get<2>(b)};
  }
};

}  // namespace

namespace {

template <class Key>
std::vector<RankingMetrics> ranking_metrics(const float* scores, const std::uint8_t* labels,
                                            std::size_t segments, std::size_t n,
                                            cudaStream_t stream) {
  const std::size_t total = segments * n;
  const auto policy = thrust::cuda::par.on(stream);
  const thrust::device_ptr<const float> score_ptr(scores);
  const thrust::device_ptr<const std::uint8_t> label_ptr(labels);
  const auto nan_count = thrust::count_if(policy, score_ptr, score_ptr + total, IsNan{});
  check_argument(nan_count == 0,
                 "device_ranking_metrics: " + std::to_string(nan_count) + " scores are NaN");

  thrust::device_vector<Key> keys(total);
  thrust::device_vector<std::uint8_t> sorted_labels(label_ptr, label_ptr + total);
  const thrust::counting_iterator<std::size_t> index(0);
  thrust::transform(policy, index, index + total, keys.begin(), SegmentScoreKey<Key>{scores, n});
  thrust::sort_by_key(policy, keys.begin(), keys.end(), sorted_labels.begin());  // radix sort

  // Groups of equal (segment, score): (size, anomalies); a group never spans two segments.
  thrust::device_vector<Key> group_keys(total);
  thrust::device_vector<Count> size(total), anomalies(total);
  const auto values = thrust::make_zip_iterator(
      thrust::make_tuple(thrust::make_constant_iterator<Count>(1),
                         thrust::make_transform_iterator(sorted_labels.begin(), AsCount{})));
  const auto ends = thrust::reduce_by_key(
      policy, keys.begin(), keys.end(), values, group_keys.begin(),
      thrust::make_zip_iterator(thrust::make_tuple(size.begin(), anomalies.begin())),
      thrust::equal_to<Key>(), AddPairs{});
  const auto groups = static_cast<std::size_t>(ends.first - group_keys.begin());
  const auto group_segment = thrust::make_transform_iterator(group_keys.begin(), SegmentOf<Key>{});

  thrust::device_vector<Count> end(groups), anomalies_through(groups);
  thrust::inclusive_scan_by_key(policy, group_segment, group_segment + groups, size.begin(),
                                end.begin());
  thrust::inclusive_scan_by_key(policy, group_segment, group_segment + groups, anomalies.begin(),
                                anomalies_through.begin());

  // Per segment: doubled anomaly rank sum, precision sum, anomalies.
  const thrust::counting_iterator<Count> first(0);
  const auto terms = thrust::make_transform_iterator(
      first,
      GroupTerms{thrust::raw_pointer_cast(size.data()), thrust::raw_pointer_cast(anomalies.data()),
                 thrust::raw_pointer_cast(end.data()),
                 thrust::raw_pointer_cast(anomalies_through.data()), n});
  thrust::device_vector<Count> segment_ids(segments), rank_sums(segments), positives(segments);
  thrust::device_vector<double> precision_sums(segments);
  const auto segments_found = thrust::reduce_by_key(
      policy, group_segment, group_segment + groups, terms, segment_ids.begin(),
      thrust::make_zip_iterator(
          thrust::make_tuple(rank_sums.begin(), precision_sums.begin(), positives.begin())),
      thrust::equal_to<Count>(), AddTerms{});
  check_argument(static_cast<std::size_t>(segments_found.first - segment_ids.begin()) == segments,
                 "device_ranking_metrics: a segment went missing");

  // The one transfer back: three numbers per segment.
  std::vector<Count> host_rank_sums(segments), host_positives(segments);
  std::vector<double> host_precision_sums(segments);
  thrust::copy(rank_sums.begin(), rank_sums.end(), host_rank_sums.begin());
  thrust::copy(positives.begin(), positives.end(), host_positives.begin());
  thrust::copy(precision_sums.begin(), precision_sums.end(), host_precision_sums.begin());

  std::vector<RankingMetrics> metrics(segments);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t s = 0; s < segments; ++s) {
    const Count p = host_positives[s];
    RankingMetrics& m = metrics[s];
    m.positives = p;
    m.negatives = n - p;
    if (p == 0 || p == n) {
      m.roc_auc = m.average_precision = nan;
      continue;
    }
    // 2U = doubled rank sum - P (P + 1): an integer, exact.
    const Count twice_u = host_rank_sums[s] - p * (p + 1);
    m.roc_auc =
        static_cast<double>(twice_u) / (2.0 * static_cast<double>(p) * static_cast<double>(n - p));
    m.average_precision = host_precision_sums[s] / static_cast<double>(p);
  }
  return metrics;
}

}  // namespace

std::vector<RankingMetrics> device_ranking_metrics_segmented(const float* scores,
                                                             const std::uint8_t* labels,
                                                             std::size_t segments, std::size_t n,
                                                             cudaStream_t stream) {
  check_argument(n > 0 && segments > 0, "device_ranking_metrics: no scores");
  check_argument(segments < (1ull << 31), "device_ranking_metrics: too many segments");
  if (segments == 1) return ranking_metrics<unsigned>(scores, labels, segments, n, stream);
  return ranking_metrics<unsigned long long>(scores, labels, segments, n, stream);
}

RankingMetrics device_ranking_metrics(const float* scores, const std::uint8_t* labels,
                                      std::size_t n, cudaStream_t stream) {
  const RankingMetrics metrics = device_ranking_metrics_segmented(scores, labels, 1, n, stream)[0];
  check_argument(metrics.positives > 0 && metrics.positives < n,
                 "device_ranking_metrics needs both classes; found " +
                     std::to_string(metrics.positives) + " anomalies in " + std::to_string(n) +
                     " rows");
  return metrics;
}

}  // namespace vaead::cuda

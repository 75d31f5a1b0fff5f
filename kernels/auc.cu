// Device ROC-AUC and average precision: one radix sort of (segment, score descending) keys with the
// labels along, so every model's scores are ranked in the same pass; then runs of equal keys
// collapsed into groups with (size, anomalies), scans over each segment's groups, and reductions
// by segment. With a segment's groups g in descending order, covering its sorted positions
// [s_g, e_g):
//   ROC-AUC: the anomalies of g hold ascending ranks n - e_g + 1 .. n - s_g, mean
//            (2n - e_g - s_g + 1) / 2; AUC = (sum of anomaly ranks - P (P + 1) / 2) / (P N),
//            kept exact as an integer sum of doubled ranks.
//   AP:      sum over g of (anomalies of g / P) * (anomalies up to g / e_g).
//
// Pointers (device memory the CUDA engine owns; declared in auc.cuh): scores [segments][n]
// (every model's scores of the same rows) and labels [n]; one RankingMetrics a segment comes back.
// Napkin math: one 64-bit-key radix sort of segments x n pairs, a few passes of 12 bytes a score:
// 64 models x 5,000 rows = 0.3 M keys, tens of us; bench_auc holds it against a bare CUB sort.
// CPU reference: roc_auc and average_precision (host/eval/metrics.cpp). Tests:
// tests/gpu/test_gpu_auc.cpp (GpuAuc.*), GpuSweep.SegmentedAucEqualsCpuMetricsPerModel.
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
#include <map>
#include <string>
#include <vector>

#include "auc.cuh"
#include "cuda_check.cuh"
#include "device_buffer.cuh"

namespace vaead::cuda {
namespace {

using Count = unsigned long long;
// Sort keys: the descending score order in the low 32 bits and, with several segments, the segment
// in the high 32 (one segment sorts 32-bit keys: half the radix passes).
template <class Key>
constexpr bool kSegmented = sizeof(Key) == 8;

struct NanCount {
  __device__ Count operator()(float value) const { return isnan(value) ? 1ull : 0ull; }
};

struct SegmentOfIndex {
  std::size_t n;
  __device__ Count operator()(std::size_t i) const { return i / n; }
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

// The arrays of one call, taken in the same order every call (slot i serves the i-th take and only
// grows), and thrust's temporaries from a cache of blocks: the second call of a size allocates
// nothing.
struct RankingWorkspace::Impl {
  std::vector<DeviceBuffer<unsigned char>> slots;
  std::size_t next = 0;
  std::vector<DeviceBuffer<unsigned char>> blocks;
  std::multimap<std::size_t, char*> free_blocks;
  std::map<char*, std::size_t> taken;

  template <class T>
  T* take(std::size_t count) {
    if (next == slots.size()) slots.emplace_back();
    DeviceBuffer<unsigned char>& slot = slots[next++];
    slot.reserve(count * sizeof(T));
    return reinterpret_cast<T*>(slot.data());
  }

  // The allocator thrust asks for its temporary storage.
  using value_type = char;
  char* allocate(std::ptrdiff_t signed_bytes) {
    const auto bytes = static_cast<std::size_t>(signed_bytes);
    const auto found = free_blocks.lower_bound(bytes);
    if (found != free_blocks.end()) {
      char* block = found->second;
      taken[block] = found->first;
      free_blocks.erase(found);
      return block;
    }
    blocks.emplace_back(bytes);
    char* block = reinterpret_cast<char*>(blocks.back().data());
    taken[block] = bytes;
    return block;
  }
  void deallocate(char* block, std::size_t) {
    const auto found = taken.find(block);
    free_blocks.emplace(found->second, block);
    taken.erase(found);
  }
};

RankingWorkspace::RankingWorkspace() : impl_(std::make_unique<Impl>()) {}
RankingWorkspace::~RankingWorkspace() = default;

namespace {

template <class Key>
std::vector<RankingMetrics> ranking_metrics(const float* scores, const std::uint8_t* labels,
                                            std::size_t segments, std::size_t n,
                                            cudaStream_t stream, RankingWorkspace::Impl& ws) {
  const std::size_t total = segments * n;
  ws.next = 0;
  const auto policy = thrust::cuda::par(ws).on(stream);
  const thrust::device_ptr<const float> score_ptr(scores);
  // NaN scores per segment (a failed model's): that segment's metrics are NaN, the others stand.
  const thrust::counting_iterator<std::size_t> index(0);
  const thrust::device_ptr<Count> nan_segment_ids(ws.take<Count>(segments)),
      nan_counts(ws.take<Count>(segments));
  const auto segment_of_index = thrust::make_transform_iterator(index, SegmentOfIndex{n});
  thrust::reduce_by_key(policy, segment_of_index, segment_of_index + total,
                        thrust::make_transform_iterator(score_ptr, NanCount{}), nan_segment_ids,
                        nan_counts);

  const thrust::device_ptr<Key> keys(ws.take<Key>(total));
  const thrust::device_ptr<std::uint8_t> sorted_labels(ws.take<std::uint8_t>(total));
  CUDA_CHECK(cudaMemcpyAsync(sorted_labels.get(), labels, total, cudaMemcpyDeviceToDevice, stream));
  thrust::transform(policy, index, index + total, keys, SegmentScoreKey<Key>{scores, n});
  thrust::sort_by_key(policy, keys, keys + total, sorted_labels);  // radix sort

  // Groups of equal (segment, score): (size, anomalies); a group never spans two segments.
  const thrust::device_ptr<Key> group_keys(ws.take<Key>(total));
  const thrust::device_ptr<Count> size(ws.take<Count>(total)), anomalies(ws.take<Count>(total));
  const auto values = thrust::make_zip_iterator(
      thrust::make_tuple(thrust::make_constant_iterator<Count>(1),
                         thrust::make_transform_iterator(sorted_labels, AsCount{})));
  const auto ends =
      thrust::reduce_by_key(policy, keys, keys + total, values, group_keys,
                            thrust::make_zip_iterator(thrust::make_tuple(size, anomalies)),
                            thrust::equal_to<Key>(), AddPairs{});
  const auto groups = static_cast<std::size_t>(ends.first - group_keys);
  const auto group_segment = thrust::make_transform_iterator(group_keys, SegmentOf<Key>{});

  const thrust::device_ptr<Count> end(ws.take<Count>(groups)),
      anomalies_through(ws.take<Count>(groups));
  thrust::inclusive_scan_by_key(policy, group_segment, group_segment + groups, size, end);
  thrust::inclusive_scan_by_key(policy, group_segment, group_segment + groups, anomalies,
                                anomalies_through);

  // Per segment: doubled anomaly rank sum, precision sum, anomalies.
  const thrust::counting_iterator<Count> first(0);
  const auto terms = thrust::make_transform_iterator(
      first, GroupTerms{size.get(), anomalies.get(), end.get(), anomalies_through.get(), n});
  const thrust::device_ptr<Count> segment_ids(ws.take<Count>(segments)),
      rank_sums(ws.take<Count>(segments)), positives(ws.take<Count>(segments));
  const thrust::device_ptr<double> precision_sums(ws.take<double>(segments));
  const auto segments_found = thrust::reduce_by_key(
      policy, group_segment, group_segment + groups, terms, segment_ids,
      thrust::make_zip_iterator(thrust::make_tuple(rank_sums, precision_sums, positives)),
      thrust::equal_to<Count>(), AddTerms{});
  check_argument(static_cast<std::size_t>(segments_found.first - segment_ids) == segments,
                 "device_ranking_metrics: a segment went missing");

  // The one transfer back: four numbers per segment.
  std::vector<Count> host_rank_sums(segments), host_positives(segments), host_nans(segments);
  std::vector<double> host_precision_sums(segments);
  CUDA_CHECK(cudaMemcpyAsync(host_nans.data(), nan_counts.get(), segments * sizeof(Count),
                             cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaMemcpyAsync(host_rank_sums.data(), rank_sums.get(), segments * sizeof(Count),
                             cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaMemcpyAsync(host_positives.data(), positives.get(), segments * sizeof(Count),
                             cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaMemcpyAsync(host_precision_sums.data(), precision_sums.get(),
                             segments * sizeof(double), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));

  std::vector<RankingMetrics> metrics(segments);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t s = 0; s < segments; ++s) {
    const Count p = host_positives[s];
    RankingMetrics& segment = metrics[s];
    segment.positives = p;
    segment.negatives = n - p;
    segment.nan_scores = host_nans[s];
    if (p == 0 || p == n || segment.nan_scores > 0) {
      segment.roc_auc = segment.average_precision = nan;
      continue;
    }
    // 2U = doubled rank sum - P (P + 1): an integer, exact.
    const Count twice_u = host_rank_sums[s] - p * (p + 1);
    segment.roc_auc =
        static_cast<double>(twice_u) / (2.0 * static_cast<double>(p) * static_cast<double>(n - p));
    segment.average_precision = host_precision_sums[s] / static_cast<double>(p);
  }
  return metrics;
}

}  // namespace

std::vector<RankingMetrics> device_ranking_metrics_segmented(const float* scores,
                                                             const std::uint8_t* labels,
                                                             std::size_t segments, std::size_t n,
                                                             cudaStream_t stream,
                                                             RankingWorkspace* workspace) {
  check_argument(n > 0 && segments > 0, "device_ranking_metrics: no scores");
  check_argument(segments < (1ull << 31), "device_ranking_metrics: too many segments");
  RankingWorkspace local;
  RankingWorkspace::Impl& ws = (workspace != nullptr ? workspace : &local)->impl();
  if (segments == 1) return ranking_metrics<unsigned>(scores, labels, segments, n, stream, ws);
  return ranking_metrics<unsigned long long>(scores, labels, segments, n, stream, ws);
}

RankingMetrics device_ranking_metrics(const float* scores, const std::uint8_t* labels,
                                      std::size_t n, cudaStream_t stream,
                                      RankingWorkspace* workspace) {
  const RankingMetrics metrics =
      device_ranking_metrics_segmented(scores, labels, 1, n, stream, workspace)[0];
  check_argument(
      metrics.nan_scores == 0,
      "device_ranking_metrics: " + std::to_string(metrics.nan_scores) + " scores are NaN");
  check_argument(metrics.positives > 0 && metrics.positives < n,
                 "device_ranking_metrics needs both classes; found " +
                     std::to_string(metrics.positives) + " anomalies in " + std::to_string(n) +
                     " rows");
  return metrics;
}

}  // namespace vaead::cuda

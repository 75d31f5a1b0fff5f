// The CUDA engine's scores: rows of every model at once, and their AUCs ranked on the device.

#include <algorithm>

#include "cuda/cuda_engine.hpp"
#include "cuda/sizes.hpp"
#include "cuda_check.cuh"
#include "vaead/util/error.hpp"

namespace vaead {
namespace cuda {

void CudaEngine::score_device_rows(const float* rows, const DataSlots& slots, std::size_t count,
                                   float* scores, float* per_feature) {
  const int features = layout_.architecture.input_dim;
  const std::size_t rows_per_pass =
      std::max<std::size_t>(256, kScoreRows / static_cast<std::size_t>(models_));
  reserve(score_act_, std::min(rows_per_pass, count));
  for (std::size_t start = 0; start < count; start += rows_per_pass) {
    const int chunk = static_cast<int>(std::min(rows_per_pass, count - start));
    float* x = score_act_.at(plan_.x);
    gather_chunk(rows, slots, start, chunk, features, x, stream_);
    enqueue_forward(score_act_, x, chunk, nullptr);  // z = mu
    reconstruction_scores(
        x, score_act_.at(plan_.x_hat), models_ * chunk, features, score_act_.scores.data(),
        per_feature == nullptr ? nullptr : per_feature + start * static_cast<std::size_t>(features),
        stream_);
    // [models][chunk] -> columns start .. start + chunk of [models][count]
    CUDA_CHECK(cudaMemcpy2DAsync(scores + start, count * sizeof(float), score_act_.scores.data(),
                                 static_cast<std::size_t>(chunk) * sizeof(float),
                                 static_cast<std::size_t>(chunk) * sizeof(float),
                                 static_cast<std::size_t>(models_), cudaMemcpyDeviceToDevice,
                                 stream_));
  }
  scored_count_ = count;
  scored_resident_test_ = false;
}

std::vector<std::vector<float>> CudaEngine::last_scores(std::size_t count) const {
  std::vector<float> flat(static_cast<std::size_t>(models_) * count);
  scores_.download(flat.data(), flat.size(), stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  std::vector<std::vector<float>> out;
  for (std::size_t m = 0; m < static_cast<std::size_t>(models_); ++m)
    out.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(m * count),
                     flat.begin() + static_cast<std::ptrdiff_t>((m + 1) * count));
  return out;
}

void CudaEngine::score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) {
  require(models_ == 1, "score is for a single-model engine; use score_models");
  require(scores.size() == rows.rows, "one score per row is needed");
  if (rows.rows == 0) return;
  if (per_feature == nullptr) {
    const std::vector<std::vector<float>> all = score_models(rows);
    std::copy(all[0].begin(), all[0].end(), scores.begin());
    return;
  }
  const auto features = static_cast<std::size_t>(layout_.architecture.input_dim);
  require_features(rows.cols, layout_.architecture, "rows to score");
  DeviceBuffer<float> device_rows(rows.values.size()), device_errors(rows.values.size());
  device_rows.upload(rows.values.data(), rows.values.size(), stream_);
  scores_.reserve(rows.rows);
  score_device_rows(device_rows.data(), DataSlots{1}, rows.rows, scores_.data(),
                    device_errors.data());
  scores_.download(scores.data(), rows.rows, stream_);
  *per_feature = Matrix(rows.rows, features);
  device_errors.download(per_feature->data(), per_feature->values.size(), stream_);
  CUDA_CHECK(cudaStreamSynchronize(stream_));
}

std::vector<std::vector<float>> CudaEngine::score_models(const Matrix& rows) {
  require_features(rows.cols, layout_.architecture, "rows to score");
  require(rows.rows > 0, "no rows to score");
  DeviceBuffer<float> device_rows(rows.values.size());
  device_rows.upload(rows.values.data(), rows.values.size(), stream_);
  scores_.reserve(static_cast<std::size_t>(models_) * rows.rows);
  score_device_rows(device_rows.data(), DataSlots{models_}, rows.rows, scores_.data(), nullptr);
  return last_scores(rows.rows);
}

std::vector<std::vector<float>> CudaEngine::score_resident_models(ResidentSplit split) {
  const bool validation = split == ResidentSplit::validation;
  const std::size_t count = validation ? validation_count_ : test_count_;
  require(count > 0, "score_resident called before load_synthetic");
  const auto features = static_cast<long long>(layout_.architecture.input_dim);
  const DataSlots slots{models_, data_slot_.data(), nullptr,
                        static_cast<long long>(count) * features, 0};
  scores_.reserve(static_cast<std::size_t>(models_) * count);
  score_device_rows(validation ? validation_rows_.data() : test_rows_.data(), slots, count,
                    scores_.data(), nullptr);
  scored_resident_test_ = !validation;
  return last_scores(count);
}

std::optional<std::vector<Ranking>> CudaEngine::rank_last_scores(
    std::span<const std::uint8_t> labels) {
  const std::size_t count = scored_count_;
  const auto models = static_cast<std::size_t>(models_);
  require(count > 0, "rank_last_scores needs scores");
  labels_.reserve(models * count);
  // Segment m of labels_ holds model m's labels, filled on the device.
  if (labels.empty()) {
    require(scored_resident_test_, "ranking without labels needs scores of the resident test rows");
    // Each model's slot's anomaly kinds (0 = normal), already resident.
    for (std::size_t m = 0; m < models; ++m)
      CUDA_CHECK(cudaMemcpyAsync(
          labels_.data() + m * count,
          test_kinds_.data() + static_cast<std::size_t>(specs_[m].data_slot) * count, count,
          cudaMemcpyDeviceToDevice, stream_));
  } else {
    require(labels.size() == count, "one label per scored row is needed");
    // One upload; the other models' segments are copies of the first.
    labels_.upload(labels.data(), count, stream_);
    for (std::size_t m = 1; m < models; ++m)
      CUDA_CHECK(cudaMemcpyAsync(labels_.data() + m * count, labels_.data(), count,
                                 cudaMemcpyDeviceToDevice, stream_));
  }
  const std::vector<RankingMetrics> metrics = device_ranking_metrics_segmented(
      scores_.data(), labels_.data(), models, count, stream_, &ranking_);
  std::vector<Ranking> rankings;
  for (const RankingMetrics& model : metrics)
    rankings.push_back({model.roc_auc, model.average_precision});
  return rankings;
}

}  // namespace cuda
}  // namespace vaead

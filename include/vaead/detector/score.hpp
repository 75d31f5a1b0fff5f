// Scoring rows with a model file: each member's reconstruction error, streamed in chunks, and the
// threshold's verdict.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "vaead/data/matrix.hpp"
#include "vaead/data/table.hpp"
#include "vaead/eval/threshold.hpp"
#include "vaead/io/model_file.hpp"
#include "vaead/train/engine.hpp"

namespace vaead {

struct ScoredRows {
  std::vector<float> scores;  // mean squared error of the standardized reconstruction
  Matrix per_feature;         // rows x features, squared errors (standardized units), on request
  ThresholdRule rule;
  double threshold = 0.0;
  std::vector<std::uint8_t> flagged;  // score > threshold
};

// A model file's scorer: one engine per member. One model scores rows with its reconstruction
// error; an ensemble with the mean over members of reconstruction error / the member's scale
// (per-feature errors alike, so that a row's score is still the mean of its feature errors).
class MemberScorer {
 public:
  MemberScorer(const ModelFile& model, EngineKind device, const EngineConfig& config);
  ~MemberScorer();
  void score(const Matrix& rows, std::span<float> scores, Matrix* per_feature);

 private:
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<double> scales_;
};

// Scores the table's rows `chunk_rows` at a time (0: about 4 MB of them), so that memory is the
// table plus one standardized chunk. InputError naming the first row whose score is not finite.
ScoredRows score_table(const ModelFile& model, const Table& table, EngineKind device,
                       const ThresholdRule& rule, bool per_feature, int threads = 0,
                       std::size_t chunk_rows = 0);
// The same from rows read where they live (an array in place: memory is the array plus one
// chunk).
ScoredRows score_rows(const ModelFile& model, const RowSource& rows, EngineKind device,
                      const ThresholdRule& rule, bool per_feature, int threads = 0,
                      std::size_t chunk_rows = 0);

}  // namespace vaead

#include "vaead/detector/score.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <span>

#include "detector/row_blame.hpp"
#include "util/text.hpp"
#include "vaead/data/table.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

// At most ten names, comma-separated, and how many there are beyond.
std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < 10; ++i)
    text += (i ? ", " : "") + names[i];
  if (names.size() > 10) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

// Which table column each of the model's features is (matched by name); InputError listing the
// missing and unexpected names when they differ.
std::vector<std::size_t> model_columns(const ModelFile& model, const RowSource& table) {
  const std::vector<std::string>& have = table.column_names;
  const std::vector<std::string>& want = model.feature_names;
  std::map<std::string, std::size_t> column;
  for (std::size_t c = 0; c < have.size(); ++c)
    column[have[c]] = c;
  std::vector<std::string> missing, unexpected;
  for (const std::string& name : want)
    if (!column.count(name)) missing.push_back(name);
  const std::set<std::string> wanted(want.begin(), want.end());
  for (const std::string& name : have)
    if (!wanted.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty()) {
    std::string message = table.source + ": the feature columns differ from the model's (" +
                          std::to_string(have.size()) + " here, " + std::to_string(want.size()) +
                          " in the model)";
    if (!missing.empty()) message += "; missing: " + joined(missing);
    if (!unexpected.empty()) message += "; not in the model: " + joined(unexpected);
    throw InputError(message);
  }
  std::vector<std::size_t> columns;
  for (const std::string& name : want)
    columns.push_back(column[name]);
  return columns;
}

}  // namespace

MemberScorer::MemberScorer(const ModelFile& model, EngineKind device, const EngineConfig& config)
    : scales_(model.member_scales) {
  for (std::size_t k = 0; k < model.members(); ++k) {
    EngineConfig member = config;
    member.seed = model.member_seeds.size() > k ? model.member_seeds[k] : model.engine.seed;
    engines_.push_back(make_engine(device, member));
    engines_.back()->set_parameters(model.member_parameters(k));
  }
}

MemberScorer::~MemberScorer() = default;

void MemberScorer::score(const Matrix& rows, std::span<float> scores, Matrix* per_feature) {
  if (engines_.size() == 1) {
    engines_[0]->score(rows, scores, per_feature);
    return;
  }
  // The mean over members of score / scale, accumulated in double in member order.
  std::vector<double> sum(rows.rows, 0.0), feature_sum;
  if (per_feature) feature_sum.assign(rows.rows * rows.cols, 0.0);
  std::vector<float> member(rows.rows);
  Matrix member_errors;
  for (std::size_t k = 0; k < engines_.size(); ++k) {
    engines_[k]->score(rows, member, per_feature ? &member_errors : nullptr);
    const double inverse = 1.0 / scales_[k];
    for (std::size_t r = 0; r < rows.rows; ++r)
      sum[r] += member[r] * inverse;
    if (per_feature)
      for (std::size_t i = 0; i < feature_sum.size(); ++i)
        feature_sum[i] += member_errors.values[i] * inverse;
  }
  const double members = static_cast<double>(engines_.size());
  for (std::size_t r = 0; r < rows.rows; ++r)
    scores[r] = static_cast<float>(sum[r] / members);
  if (per_feature) {
    *per_feature = Matrix(rows.rows, rows.cols);
    for (std::size_t i = 0; i < feature_sum.size(); ++i)
      per_feature->values[i] = static_cast<float>(feature_sum[i] / members);
  }
}

namespace {

// Rows are scored this many values at a time, so that scoring adds a fixed 4 MB to the table,
// not a standardized copy of it.
constexpr std::size_t kScoreChunkValues = std::size_t{1} << 20;

}  // namespace

ScoredRows score_rows(const ModelFile& model, const RowSource& table, EngineKind device,
                      const ThresholdRule& rule, bool per_feature, int threads,
                      std::size_t chunk_rows) {
  const std::vector<std::size_t> columns = model_columns(model, table);
  const std::size_t rows = table.rows, cols = columns.size();
  EngineConfig config = model.engine;
  config.threads = threads;
  MemberScorer scorer(model, device, config);
  ScoredRows scored;
  scored.scores.resize(rows);
  if (per_feature) scored.per_feature = Matrix(rows, cols);
  const std::size_t chunk =
      chunk_rows > 0
          ? chunk_rows
          : std::max<std::size_t>(1024, kScoreChunkValues / std::max<std::size_t>(cols, 1));
  Matrix errors;
  for (std::size_t first = 0; first < rows; first += chunk) {
    const std::size_t count = std::min(chunk, rows - first);
    Matrix x(count, cols);
    table.read(first, count, columns, x.data());
    model.standardizer.apply(x);
    scorer.score(x, std::span<float>(scored.scores).subspan(first, count),
                 per_feature ? &errors : nullptr);
    if (per_feature)
      std::copy(errors.values.begin(), errors.values.end(), scored.per_feature.row(first));
  }
  // A score that is not finite is never "not anomalous": name the first such row.
  for (std::size_t r = 0; r < rows; ++r)
    if (!std::isfinite(scored.scores[r])) {
      std::vector<float> raw(cols);
      table.read(r, 1, columns, raw.data());
      throw InputError(table.source + ": row " + std::to_string(r) + " scores " +
                       text::number(scored.scores[r]) + " with this model: " +
                       farthest_cell([&](std::size_t j) { return raw[j]; }, model.standardizer,
                                     model.feature_names) +
                       " (a sentinel or a unit error?); fix or remove the row");
    }
  scored.rule = rule;
  scored.threshold = fit_threshold(rule, model.holdout_scores, scored.scores);
  scored.flagged.reserve(rows);
  for (float s : scored.scores)
    scored.flagged.push_back(s > scored.threshold ? 1 : 0);
  return scored;
}

ScoredRows score_table(const ModelFile& model, const Table& table, EngineKind device,
                       const ThresholdRule& rule, bool per_feature, int threads,
                       std::size_t chunk_rows) {
  return score_rows(model, table_rows(table), device, rule, per_feature, threads, chunk_rows);
}

}  // namespace vaead

#include "vaead/detector.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <span>

#include "data/shuffle.hpp"
#include "text.hpp"
#include "vaead/error.hpp"
#include "vaead/philox.hpp"

namespace vaead {
namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (std::size_t i = 0; i < names.size() && i < 10; ++i)
    text += (i ? ", " : "") + names[i];
  if (names.size() > 10) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

std::string shown(double value) {
  if (std::isnan(value)) return "NaN";
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", value);
  return text;
}

// The cell of a row that most likely made its score not finite: the feature farthest from the
// training mean in training standard deviations. raw(j) is the row's value of feature j.
std::string farthest_cell(const std::function<double(std::size_t)>& raw,
                          const Standardizer& standardizer, const std::vector<std::string>& names) {
  std::size_t worst = 0;
  double worst_z = -1.0;
  for (std::size_t j = 0; j < names.size(); ++j) {
    double z = std::abs((raw(j) - standardizer.mean[j]) / standardizer.scale[j]);
    if (!std::isfinite(z)) z = std::numeric_limits<double>::infinity();
    if (z > worst_z) {
      worst = j;
      worst_z = z;
    }
  }
  return "column " + text::shown(names[worst]) + " = " + shown(raw(worst)) + ", " + shown(worst_z) +
         " training standard deviations from the training mean";
}

// A note for each column whose variance one training row holds almost alone (a sentinel such as
// 1e30, or a unit error): the column's scale then comes from that one value.
void note_dominated_columns(const Matrix& rows, const std::vector<std::size_t>& table_rows,
                            const Standardizer& standardizer, const Table& table,
                            std::vector<std::string>& notes) {
  if (rows.rows < 10) return;
  for (std::size_t j = 0; j < rows.cols; ++j) {
    double total = 0.0, largest = 0.0;
    std::size_t at = 0;
    for (std::size_t r = 0; r < rows.rows; ++r) {
      const double d = rows(r, j) - standardizer.mean[j];
      total += d * d;
      if (d * d > largest) {
        largest = d * d;
        at = r;
      }
    }
    if (total > 0 && largest > 0.9 * total)
      notes.push_back(table.source + ": column " + text::shown(table.data.column_names[j]) +
                      ": row " + std::to_string(table_rows[at]) + " (" + shown(rows(at, j)) +
                      ") holds " + shown(100.0 * largest / total) +
                      "% of the column's variance in the training rows, so the column's scale "
                      "comes from that one value (a sentinel or a unit error?)");
  }
}

}  // namespace

TrainedDetector train_detector(const Table& table, const DetectorOptions& options,
                               const EpochCallback& on_epoch) {
  const Dataset& data = table.data;
  const std::string& source = table.source;
  require(options.holdout_fraction > 0 && options.holdout_fraction < 1,
          "the held-out share must lie strictly between 0 and 1, got " +
              std::to_string(options.holdout_fraction));
  // What the model file could not hold is refused before any work.
  Architecture architecture = options.engine.architecture;
  architecture.input_dim = static_cast<int>(data.features.cols);
  try {
    check_model_limits(architecture, data.column_names);
  } catch (const InputError& error) {
    throw InputError(source + ": " + error.what());
  }
  std::vector<std::size_t> normal;
  for (std::size_t r = 0; r < data.rows(); ++r)
    if (data.labels.empty() || data.labels[r] == 0) normal.push_back(r);
  TrainedDetector trained;
  ModelFile& model = trained.model;
  model.dropped_anomalies = data.rows() - normal.size();

  // Hold out a seeded random share of the normal rows; train on the rest.
  const std::size_t holdout = std::max<std::size_t>(
      2, static_cast<std::size_t>(std::llround(options.holdout_fraction * normal.size())));
  const auto batch = static_cast<std::size_t>(options.engine.batch_size);
  require(normal.size() >= holdout + batch,
          source + ": " + text::counted(normal.size(), "normal row") + "; training needs " +
              std::to_string(holdout + batch) + " (" + std::to_string(holdout) +
              " held out for the threshold and one batch of " + std::to_string(batch) +
              "): lower --batch-size or --holdout");
  const std::vector<std::size_t> order =
      keyed_permutation(normal.size(), CounterRng{options.engine.seed, Stream::holdout}, 0);
  std::vector<std::size_t> holdout_rows, train_rows;
  for (std::size_t i = 0; i < order.size(); ++i)
    (i < holdout ? holdout_rows : train_rows).push_back(normal[order[i]]);
  std::sort(holdout_rows.begin(), holdout_rows.end());
  std::sort(train_rows.begin(), train_rows.end());
  Matrix train_x = gather_rows(data.features, train_rows);
  Matrix holdout_x = gather_rows(data.features, holdout_rows);

  model.standardizer = Standardizer::fit(train_x);
  for (std::size_t c : model.standardizer.constant_columns)
    trained.notes.push_back(source + ": column " + text::shown(data.column_names[c]) +
                            " is constant in the training rows; it is centred, not scaled");
  note_dominated_columns(train_x, train_rows, model.standardizer, table, trained.notes);
  model.standardizer.apply(train_x);
  model.standardizer.apply(holdout_x);

  model.engine = options.engine;
  model.engine.architecture.input_dim = static_cast<int>(data.features.cols);
  model.train = options.train;
  const std::unique_ptr<Engine> engine = make_engine(options.device, model.engine);
  trained.report = train(*engine, train_x, options.train, on_epoch);

  model.holdout_scores.resize(holdout_x.rows);
  engine->score(holdout_x, model.holdout_scores, nullptr);
  // A held-out score that is not finite would make the threshold NaN: refuse, naming the row.
  for (std::size_t i = 0; i < holdout_rows.size(); ++i)
    if (!std::isfinite(model.holdout_scores[i]))
      throw InputError(
          source + ": row " + std::to_string(holdout_rows[i]) +
          ", held out for the threshold, scores " + shown(model.holdout_scores[i]) + ": " +
          farthest_cell([&](std::size_t j) { return data.features(holdout_rows[i], j); },
                        model.standardizer, data.column_names) +
          " (a sentinel or a unit error?); fix or remove the row");
  std::sort(model.holdout_scores.begin(), model.holdout_scores.end());
  model.threshold_rule = options.threshold;
  model.threshold = options.threshold.kind == ThresholdRule::Kind::contamination
                        ? 0.0
                        : fit_threshold(options.threshold, model.holdout_scores);
  model.feature_names = data.column_names;
  model.holdout_fraction = options.holdout_fraction;
  model.training_rows = train_rows.size();
  model.holdout_rows = holdout_rows.size();
  model.parameters = engine->parameters();
  trained.holdout_rows = std::move(holdout_rows);
  return trained;
}

namespace {

// Which table column each of the model's features is (matched by name); InputError listing the
// missing and unexpected names when they differ.
std::vector<std::size_t> model_columns(const ModelFile& model, const Table& table) {
  const std::vector<std::string>& have = table.data.column_names;
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

// Table rows [first, first + count) in the model's column order.
Matrix rows_for_model(const Table& table, std::span<const std::size_t> columns, std::size_t first,
                      std::size_t count) {
  Matrix out(count, columns.size());
  for (std::size_t r = 0; r < count; ++r) {
    const float* row = table.data.features.row(first + r);
    for (std::size_t j = 0; j < columns.size(); ++j)
      out(r, j) = row[columns[j]];
  }
  return out;
}

// Rows are scored this many values at a time, so that scoring adds a fixed 4 MB to the table,
// not a standardized copy of it.
constexpr std::size_t kScoreChunkValues = std::size_t{1} << 20;

}  // namespace

ScoredRows score_table(const ModelFile& model, const Table& table, EngineKind device,
                       const ThresholdRule& rule, bool per_feature, int threads,
                       std::size_t chunk_rows) {
  const std::vector<std::size_t> columns = model_columns(model, table);
  const std::size_t rows = table.data.rows(), cols = columns.size();
  EngineConfig config = model.engine;
  config.threads = threads;
  const std::unique_ptr<Engine> engine = make_engine(device, config);
  engine->set_parameters(model.parameters);
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
    Matrix x = rows_for_model(table, columns, first, count);
    model.standardizer.apply(x);
    engine->score(x, std::span<float>(scored.scores).subspan(first, count),
                  per_feature ? &errors : nullptr);
    if (per_feature)
      std::copy(errors.values.begin(), errors.values.end(), scored.per_feature.row(first));
  }
  // A score that is not finite is never "not anomalous": name the first such row.
  for (std::size_t r = 0; r < rows; ++r)
    if (!std::isfinite(scored.scores[r])) {
      const float* raw = table.data.features.row(r);
      throw InputError(table.source + ": row " + std::to_string(r) + " scores " +
                       shown(scored.scores[r]) + " with this model: " +
                       farthest_cell([&](std::size_t j) { return raw[columns[j]]; },
                                     model.standardizer, model.feature_names) +
                       " (a sentinel or a unit error?); fix or remove the row");
    }
  scored.rule = rule;
  scored.threshold = fit_threshold(rule, model.holdout_scores, scored.scores);
  scored.flagged.reserve(rows);
  for (float s : scored.scores)
    scored.flagged.push_back(s > scored.threshold ? 1 : 0);
  return scored;
}

Evaluation evaluate_scores(const ScoredRows& scored, const Table& table,
                           const std::vector<std::string>& feature_names, std::size_t top) {
  const std::vector<std::uint8_t>& labels = table.data.labels;
  require(labels.size() == scored.scores.size(),
          table.source + ": evaluation needs labels: name their column with --label-column");
  Evaluation e;
  e.roc_auc = roc_auc(scored.scores, labels);
  e.pr_auc = average_precision(scored.scores, labels);
  e.at_threshold = confusion_at(scored.scores, labels, scored.threshold);
  e.threshold = scored.threshold;
  e.rule = scored.rule;
  e.rows = labels.size();
  e.anomalies = table.data.count_label(1);
  e.roc = thin(roc_curve(scored.scores, labels), 1000);
  e.pr = thin(pr_curve(scored.scores, labels), 1000);
  e.histogram_edges = log_bin_edges(scored.scores, 60);
  std::vector<float> normal, anomalous;
  for (std::size_t i = 0; i < labels.size(); ++i)
    (labels[i] ? anomalous : normal).push_back(scored.scores[i]);
  e.normal_counts = histogram(normal, e.histogram_edges).counts;
  e.anomaly_counts = histogram(anomalous, e.histogram_edges).counts;
  if (scored.per_feature.rows == scored.scores.size() && top > 0) {
    e.feature_names = feature_names;
    std::vector<std::size_t> order(scored.scores.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    top = std::min(top, order.size());
    std::partial_sort(
        order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
        [&](std::size_t a, std::size_t b) { return scored.scores[a] > scored.scores[b]; });
    for (std::size_t i = 0; i < top; ++i) {
      const std::size_t r = order[i];
      const float* errors = scored.per_feature.row(r);
      e.top.push_back({r, scored.scores[r], labels[r] != 0,
                       std::vector<float>(errors, errors + scored.per_feature.cols)});
    }
  }
  return e;
}

}  // namespace vaead

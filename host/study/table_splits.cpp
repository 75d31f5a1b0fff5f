// A user's table split for a study: shuffled normal rows cut into training, validation and test
// rows, every labelled anomaly a test row, standardized with the training rows' moments.
#include <algorithm>
#include <cmath>
#include <string>

#include "util/text.hpp"
#include "vaead/philox.hpp"
#include "vaead/shuffle.hpp"
#include "vaead/study/experiment.hpp"
#include "vaead/util/error.hpp"

namespace vaead {

RowsByLabel rows_by_label(const Dataset& data) {
  RowsByLabel rows;
  for (std::size_t r = 0; r < data.rows(); ++r)
    (!data.labels.empty() && data.labels[r] != 0 ? rows.anomalous : rows.normal).push_back(r);
  return rows;
}

std::vector<std::vector<std::size_t>> shuffled_parts(std::span<const std::size_t> rows,
                                                     std::span<const std::size_t> sizes,
                                                     std::uint64_t seed) {
  const std::vector<std::size_t> order =
      keyed_permutation(rows.size(), CounterRng{seed, RandomStream::holdout}, 0);
  std::vector<std::vector<std::size_t>> parts(sizes.size() + 1);
  std::size_t part = 0, start = 0;  // parts[part] takes the shuffled rows from `start` on
  for (std::size_t i = 0; i < order.size(); ++i) {
    while (part < sizes.size() && i >= start + sizes[part])
      start += sizes[part++];
    parts[part].push_back(rows[order[i]]);
  }
  for (std::vector<std::size_t>& ascending : parts)
    std::sort(ascending.begin(), ascending.end());
  return parts;
}

Standardizer fit_training_standardizer(const Matrix& training, const Table& table,
                                       std::vector<std::string>& notes) {
  Standardizer standardizer = Standardizer::fit(training);
  for (std::size_t c : standardizer.constant_columns)
    notes.push_back(table.source + ": column " + text::quote(table.data.column_names[c]) +
                    " is constant in the training rows; it is centred, not scaled");
  return standardizer;
}

SplitSizes split_sizes(std::size_t normal_rows, bool labelled, double validation_fraction,
                       double test_fraction) {
  const auto share = [&](double fraction) {
    return static_cast<std::size_t>(std::llround(fraction * static_cast<double>(normal_rows)));
  };
  SplitSizes sizes;
  sizes.validation = std::max<std::size_t>(2, share(validation_fraction));
  sizes.test = labelled ? share(test_fraction) : 0;
  const std::size_t held = sizes.validation + sizes.test;
  sizes.train = normal_rows > held ? normal_rows - held : 0;
  return sizes;
}

TableSplits split_table(const Table& table, double validation_fraction, double test_fraction,
                        std::uint64_t seed, int batch_size) {
  const Dataset& data = table.data;
  const bool labelled = !data.labels.empty();
  require(validation_fraction > 0 && test_fraction >= 0 && validation_fraction + test_fraction < 1,
          "the validation and test shares must be positive and add up to less than 1, got " +
              std::to_string(validation_fraction) + " and " + std::to_string(test_fraction));
  const RowsByLabel rows = rows_by_label(data);
  const SplitSizes sizes =
      split_sizes(rows.normal.size(), labelled, validation_fraction, test_fraction);
  const std::size_t validation = sizes.validation, test = sizes.test;
  const auto batch = static_cast<std::size_t>(batch_size);
  require(rows.normal.size() >= validation + test + batch,
          table.source + ": " + text::plural(rows.normal.size(), "normal row") +
              "; the study needs " + std::to_string(validation + test + batch) + " (" +
              std::to_string(validation) + " for validation, " + std::to_string(test) +
              " for the test and one batch of " + std::to_string(batch) + "): lower --batch-size");
  const std::size_t held[] = {validation, test};
  std::vector<std::vector<std::size_t>> parts = shuffled_parts(rows.normal, held, seed);
  std::vector<std::size_t>& test_rows = parts[1];
  if (labelled && test > 0) {  // both ascending: merged, not sorted again
    const auto normal_end = static_cast<std::ptrdiff_t>(test_rows.size());
    test_rows.insert(test_rows.end(), rows.anomalous.begin(), rows.anomalous.end());
    std::inplace_merge(test_rows.begin(), test_rows.begin() + normal_end, test_rows.end());
  }

  TableSplits splits;
  splits.source = table.source;
  splits.feature_names = data.column_names;
  splits.validation = gather_rows(data.features, parts[0]);
  splits.test = gather_rows(data.features, test_rows);
  splits.train = gather_rows(data.features, parts[2]);
  if (labelled)
    for (std::size_t r : test_rows)
      splits.test_labels.push_back(data.labels[r]);
  splits.standardizer = fit_training_standardizer(splits.train, table, splits.notes);
  for (Matrix* part : {&splits.train, &splits.validation, &splits.test})
    splits.standardizer.apply(*part);
  return splits;
}

}  // namespace vaead

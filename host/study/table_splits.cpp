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
  std::vector<std::size_t> normal, anomalous;
  for (std::size_t r = 0; r < data.rows(); ++r)
    (labelled && data.labels[r] != 0 ? anomalous : normal).push_back(r);
  const SplitSizes sizes = split_sizes(normal.size(), labelled, validation_fraction, test_fraction);
  const std::size_t validation = sizes.validation, test = sizes.test;
  const auto batch = static_cast<std::size_t>(batch_size);
  require(normal.size() >= validation + test + batch,
          table.source + ": " + text::counted(normal.size(), "normal row") + "; the study needs " +
              std::to_string(validation + test + batch) + " (" + std::to_string(validation) +
              " for validation, " + std::to_string(test) + " for the test and one batch of " +
              std::to_string(batch) + "): lower --batch-size");
  const std::vector<std::size_t> order =
      keyed_permutation(normal.size(), CounterRng{seed, Stream::holdout}, 0);
  std::vector<std::size_t> validation_rows, test_rows, train_rows;
  for (std::size_t i = 0; i < order.size(); ++i)
    (i < validation          ? validation_rows
     : i < validation + test ? test_rows
                             : train_rows)
        .push_back(normal[order[i]]);
  if (labelled && test > 0) test_rows.insert(test_rows.end(), anomalous.begin(), anomalous.end());
  for (auto* rows : {&validation_rows, &test_rows, &train_rows})
    std::sort(rows->begin(), rows->end());

  TableSplits splits;
  splits.source = table.source;
  splits.feature_names = data.column_names;
  splits.train = gather_rows(data.features, train_rows);
  splits.validation = gather_rows(data.features, validation_rows);
  splits.test = gather_rows(data.features, test_rows);
  if (labelled)
    for (std::size_t r : test_rows)
      splits.test_labels.push_back(data.labels[r]);
  splits.standardizer = Standardizer::fit(splits.train);
  for (std::size_t c : splits.standardizer.constant_columns)
    splits.notes.push_back(table.source + ": column " + text::shown(data.column_names[c]) +
                           " is constant in the training rows; it is centred, not scaled");
  for (Matrix* rows : {&splits.train, &splits.validation, &splits.test})
    splits.standardizer.apply(*rows);
  return splits;
}

}  // namespace vaead

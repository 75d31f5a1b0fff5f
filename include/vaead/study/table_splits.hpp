// A user's table split for a study or a detector: the normal rows shuffled with a seed and cut into
// training, validation and test rows, standardized with the training rows' moments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vaead/data/matrix.hpp"
#include "vaead/data/standardizer.hpp"
#include "vaead/data/table.hpp"

namespace vaead {

// A user's table split for a study: the normal rows shuffled with a seed and cut into training,
// validation (threshold, label-free model choice) and test rows; every labelled anomaly is a test
// row. Without labels every row is normal and there are no test rows. Standardized with the
// training rows' moments.
struct TableSplits {
  std::string source;
  std::vector<std::string> feature_names;
  Standardizer standardizer;
  Matrix train, validation, test;
  std::vector<std::uint8_t> test_labels;  // empty without labels
  std::vector<std::string> notes;         // constant columns, ...
};

// How split_table divides `normal_rows` normal rows (test rows only with labels).
struct SplitSizes {
  std::size_t validation = 0;
  std::size_t test = 0;
  std::size_t train = 0;  // what is left, 0 when nothing is
};
SplitSizes split_sizes(std::size_t normal_rows, bool labelled, double validation_fraction,
                       double test_fraction);

// The holding out that the study and the detector share. The rows labelled 0 (every row without
// labels) and the labelled anomalies, each ascending.
struct RowsByLabel {
  std::vector<std::size_t> normal, anomalous;
};
RowsByLabel rows_by_label(const Dataset& data);

// `rows` shuffled with `seed` (the hold-out stream of the keyed permutation) and cut into parts of
// `sizes` rows, in order, the rest last (sizes.size() + 1 parts), each part ascending.
std::vector<std::vector<std::size_t>> shuffled_parts(std::span<const std::size_t> rows,
                                                     std::span<const std::size_t> sizes,
                                                     std::uint64_t seed);

// The standardizer fitted on the training rows, with a note in `notes` for each constant column.
Standardizer fit_training_standardizer(const Matrix& training, const Table& table,
                                       std::vector<std::string>& notes);

// Shares of the normal rows; InputError when a split would be empty or smaller than a batch.
TableSplits split_table(const Table& table, double validation_fraction, double test_fraction,
                        std::uint64_t seed, int batch_size);

}  // namespace vaead

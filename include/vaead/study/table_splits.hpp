// A user's table split for a study or a detector: the normal rows shuffled with a seed and cut into
// training, validation and test rows, standardized with the training rows' moments.
#pragma once

#include <cstdint>
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

// Shares of the normal rows; InputError when a split would be empty or smaller than a batch.
TableSplits split_table(const Table& table, double validation_fraction, double test_fraction,
                        std::uint64_t seed, int batch_size);

}  // namespace vaead

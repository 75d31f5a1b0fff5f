// Per-feature standardization fit on the training rows and stored with the model.
#pragma once

#include <vector>

#include "vaead/data/matrix.hpp"

namespace vaead {

struct Standardizer {
  std::vector<double> mean;
  std::vector<double> scale;  // the standard deviation (population); 1 for a constant column
  std::vector<std::size_t> constant_columns;  // columns whose standard deviation was zero

  // Fits mean and standard deviation per column (accumulated in double).
  static Standardizer fit(const Matrix& rows);
  // From per-column means and population standard deviations; a (near-)zero std becomes scale 1.
  static Standardizer from_moments(std::vector<double> mean, std::vector<double> std);
  // x <- (x - mean) / scale, in place.
  void apply(Matrix& rows) const;
};

// Per-column population standard deviations, accumulated in double.
std::vector<double> column_std(const Matrix& rows);

}  // namespace vaead

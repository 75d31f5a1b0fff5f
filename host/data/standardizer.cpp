#include "vaead/data/standardizer.hpp"

#include <cmath>
#include <utility>

#include "vaead/util/error.hpp"

namespace vaead {
namespace {

std::vector<double> column_means(const Matrix& rows) {
  std::vector<double> mean(rows.cols, 0.0);
  for (std::size_t r = 0; r < rows.rows; ++r)
    for (std::size_t c = 0; c < rows.cols; ++c)
      mean[c] += rows(r, c);
  for (double& m : mean)
    m /= static_cast<double>(rows.rows);
  return mean;
}

// Two passes (mean, then squared deviations) in double: no cancellation from large means.
std::vector<double> column_std_around(const Matrix& rows, const std::vector<double>& mean) {
  std::vector<double> sum_sq(rows.cols, 0.0);
  for (std::size_t r = 0; r < rows.rows; ++r)
    for (std::size_t c = 0; c < rows.cols; ++c) {
      const double deviation = rows(r, c) - mean[c];
      sum_sq[c] += deviation * deviation;
    }
  for (double& s : sum_sq)
    s = std::sqrt(s / static_cast<double>(rows.rows));
  return sum_sq;
}

}  // namespace

std::vector<double> column_std(const Matrix& rows) {
  return column_std_around(rows, column_means(rows));
}

Standardizer Standardizer::fit(const Matrix& rows) {
  require(rows.rows > 0, "cannot fit a standardizer on zero rows");
  std::vector<double> mean = column_means(rows);
  std::vector<double> std = column_std_around(rows, mean);
  return from_moments(std::move(mean), std::move(std));
}

Standardizer Standardizer::from_moments(std::vector<double> mean, std::vector<double> std) {
  Standardizer s;
  s.mean = std::move(mean);
  s.scale = std::move(std);
  for (std::size_t c = 0; c < s.scale.size(); ++c) {
    if (s.scale[c] <= 1e-12 * (1.0 + std::abs(s.mean[c]))) {
      s.scale[c] = 1.0;  // a constant column: centred, never divided by zero
      s.constant_columns.push_back(c);
    }
  }
  return s;
}

void Standardizer::apply(Matrix& rows) const {
  for (std::size_t r = 0; r < rows.rows; ++r) {
    float* row = rows.row(r);
    for (std::size_t c = 0; c < rows.cols; ++c)
      row[c] = static_cast<float>((row[c] - mean[c]) / scale[c]);
  }
}

}  // namespace vaead

// Helpers shared by the tests: seeded random inputs and a tolerance check that names mismatches.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "vaead/data/matrix.hpp"
#include "vaead/study/experiment.hpp"

namespace vaead::testing {

// A user's labelled table from the seed study's generator: `normal` training rows, then the
// anomalies (label 1) among `test_rows` generated test rows.
inline Table labelled_synthetic_table(int normal, int test_rows, std::uint64_t seed) {
  SyntheticConfig config;
  config.train_rows = normal;
  config.validation_rows = 2;
  config.test_rows = test_rows;
  config.seed = seed;
  const SyntheticData data = generate_synthetic(config);
  Table table;
  table.source = "synthetic.csv";
  table.data = data.train;
  for (std::size_t r = 0; r < data.test.rows(); ++r) {
    if (!data.test.labels[r]) continue;
    table.data.features.values.insert(table.data.features.values.end(), data.test.features.row(r),
                                      data.test.features.row(r) + data.test.features.cols);
    table.data.labels.push_back(1);
  }
  table.data.features.rows = table.data.labels.size();
  table.data.kinds.clear();
  return table;
}

// A short study of the generated data: these row counts and epochs, one latent size (8) and one
// seed; docs/design.md's model and recipe otherwise.
inline ExperimentConfig short_study(int train_rows, int validation_rows, int test_rows,
                                    int epochs) {
  ExperimentConfig config;
  config.data.train_rows = train_rows;
  config.data.validation_rows = validation_rows;
  config.data.test_rows = test_rows;
  config.train.epochs = epochs;
  config.latent_dims = {8};
  config.seed_count = 1;
  return config;
}

template <class T>
MatrixT<T> random_matrix(std::size_t rows, std::size_t cols, std::uint32_t seed,
                         double scale = 1.0) {
  std::mt19937 generator(seed);
  std::normal_distribution<double> normal(0.0, scale);
  MatrixT<T> m(rows, cols);
  for (T& v : m.values)
    v = static_cast<T>(normal(generator));
  return m;
}

// Every |actual - expected| <= absolute + relative * |expected|; on failure, the first mismatches
// with their indices (named by `describe`, when given).
template <class A, class E, class Describe>
::testing::AssertionResult all_close(const std::vector<A>& actual, const std::vector<E>& expected,
                                     double absolute, double relative, const Describe& describe) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure()
           << "sizes differ: " << actual.size() << " vs " << expected.size();
  std::ostringstream report;
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = static_cast<double>(actual[i]), e = static_cast<double>(expected[i]);
    if (std::abs(a - e) <= absolute + relative * std::abs(e)) continue;
    if (mismatches++ < 8)
      report << "\n  " << describe(i) << ": got " << a << ", expected " << e << " (diff " << a - e
             << ")";
  }
  if (mismatches == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << mismatches << " of " << actual.size() << " values outside tolerance (abs " << absolute
         << " + rel " << relative << "):" << report.str();
}

template <class A, class E>
::testing::AssertionResult all_close(const std::vector<A>& actual, const std::vector<E>& expected,
                                     double absolute, double relative) {
  return all_close(actual, expected, absolute, relative,
                   [](std::size_t i) { return "[" + std::to_string(i) + "]"; });
}

}  // namespace vaead::testing

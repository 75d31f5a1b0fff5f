// What the benchmark programs share: the median of repeats, and timing device work with events.
#pragma once

#include <algorithm>
#include <vector>

namespace vaead::bench {

inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace vaead::bench

// A table of rows with optional labels and anomaly kinds: what every source produces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vaead/anomaly_kind.hpp"
#include "vaead/data/matrix.hpp"

namespace vaead {

std::string_view anomaly_kind_name(AnomalyKind kind);

struct Dataset {
  Matrix features;                   // rows x features
  std::vector<std::uint8_t> labels;  // 1 = anomaly, 0 = normal; empty when unknown
  std::vector<AnomalyKind> kinds;    // per row; empty when unknown
  std::vector<std::string> column_names;

  std::size_t rows() const { return features.rows; }
  std::size_t count_label(std::uint8_t label) const;
  // Rows labelled 0, or every row when there are no labels: the rows a detector trains on.
  std::size_t normal_rows() const { return labels.empty() ? rows() : count_label(0); }
  std::size_t count_kind(AnomalyKind kind) const;
};

}  // namespace vaead

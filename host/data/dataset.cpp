#include "vaead/data/dataset.hpp"

#include <algorithm>

namespace vaead {

std::string_view anomaly_kind_name(AnomalyKind kind) {
  switch (kind) {
    case AnomalyKind::none:
      return "normal";
    case AnomalyKind::mean_shift:
      return "mean_shift";
    case AnomalyKind::correlation_break:
      return "correlation_break";
    case AnomalyKind::variance_explosion:
      return "variance_explosion";
  }
  return "unknown";
}

std::size_t Dataset::count_label(std::uint8_t label) const {
  return static_cast<std::size_t>(std::count(labels.begin(), labels.end(), label));
}

std::size_t Dataset::count_kind(AnomalyKind kind) const {
  return static_cast<std::size_t>(std::count(kinds.begin(), kinds.end(), kind));
}

}  // namespace vaead

// The kinds of anomaly the synthetic generator plants: the library labels rows with them, the
// generator's host and device code plant them.
#pragma once

#include <cstdint>

namespace vaead {

// The kind of an anomalous row of the synthetic generator; `none` for normal rows.
enum class AnomalyKind : std::uint8_t {
  none = 0,
  mean_shift = 1,
  correlation_break = 2,
  variance_explosion = 3,
};
inline constexpr AnomalyKind kAnomalyKinds[] = {
    AnomalyKind::mean_shift, AnomalyKind::correlation_break, AnomalyKind::variance_explosion};

}  // namespace vaead

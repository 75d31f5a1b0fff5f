#include "detector/row_blame.hpp"

#include <cmath>
#include <limits>

#include "util/text.hpp"

namespace vaead {

std::string farthest_cell(const std::function<double(std::size_t)>& raw,
                          const Standardizer& standardizer, const std::vector<std::string>& names) {
  std::size_t worst = 0;
  double worst_z = -1.0;
  for (std::size_t j = 0; j < names.size(); ++j) {
    double z = std::abs((raw(j) - standardizer.mean[j]) / standardizer.scale[j]);
    if (!std::isfinite(z)) z = std::numeric_limits<double>::infinity();
    if (z > worst_z) {
      worst = j;
      worst_z = z;
    }
  }
  return "column " + text::quote(names[worst]) + " = " + text::number(raw(worst)) + ", " +
         text::number(worst_z) + " training standard deviations from the training mean";
}

}  // namespace vaead

// What a message says about a row whose score is not finite.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "vaead/data/standardizer.hpp"

namespace vaead {

// The cell of a row that most likely made its score not finite: the feature farthest from the
// training mean in training standard deviations. raw(j) is the row's value of feature j.
std::string farthest_cell(const std::function<double(std::size_t)>& raw,
                          const Standardizer& standardizer, const std::vector<std::string>& names);

}  // namespace vaead

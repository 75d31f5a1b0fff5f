// Sizes the CUDA engine hands to kernels as int, checked.
#pragma once

#include <cstddef>
#include <string>

#include "vaead/util/error.hpp"

namespace vaead::cuda {

inline constexpr std::size_t kScoreRows = 16384;  // rows of all models together per scoring pass

// `value` as an int; InputError naming `what` beyond 2^30.
inline int as_int(std::size_t value, const char* what) {
  require(value <= static_cast<std::size_t>(1) << 30,
          std::string(what) + " is too large for the CUDA engine: " + std::to_string(value));
  return static_cast<int>(value);
}

}  // namespace vaead::cuda

#pragma once

#include <string_view>

namespace vaead {

std::string_view version();     // "0.1.0"
std::string_view build_type();  // CMAKE_BUILD_TYPE
bool cuda_built();

}  // namespace vaead

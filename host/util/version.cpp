#include "vaead/util/version.hpp"

namespace vaead {

std::string_view version() {
  return VAEAD_VERSION;
}
std::string_view build_type() {
  return VAEAD_BUILD_TYPE;
}
bool cuda_built() {
  return VAEAD_CUDA_BUILT != 0;
}

}  // namespace vaead

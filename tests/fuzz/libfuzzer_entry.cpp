// libFuzzer's entry point for one target, chosen at compile time with -DVAEAD_FUZZ_TARGET=name.
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return vaead::fuzz::VAEAD_FUZZ_TARGET(data, size);
}

// The bridge from the library's generator settings to the numbers the host and device generators
// draw with (hostdevice/vaead/synthetic_rows.hpp).
#pragma once

#include "vaead/data/synthetic.hpp"
#include "vaead/synthetic_rows.hpp"

namespace vaead::synthetic {

// Validates `config` (InputError naming the value) and extracts the generator's numbers.
Params params_of(const SyntheticConfig& config);

}  // namespace vaead::synthetic

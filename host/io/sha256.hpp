// SHA-256 (FIPS 180-4), for the checksums that let a sweep's part and checkpoint prove their
// content: a flipped bit or an edit made without recomputing the sum is found. Not a signature:
// whoever edits a file on purpose can recompute the sum too.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vaead {

// The digest of `bytes` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

}  // namespace vaead

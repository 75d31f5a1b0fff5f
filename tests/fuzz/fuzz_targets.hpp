// The fuzz targets: bytes from a fuzzer (or a corpus file) into the readers of untrusted input.
// Each returns normally whether the input is accepted or refused with an InputError; any other
// exception, crash or sanitizer report is a finding.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vaead::fuzz {

int csv_reader(const std::uint8_t* data, std::size_t size);
int npy_reader(const std::uint8_t* data, std::size_t size);
int model_reader(const std::uint8_t* data, std::size_t size);

}  // namespace vaead::fuzz

// The CSV reader's fast path for the numbers tables hold ("-1.3897115", "0.25", "3e-05", "42"):
// at most 19 significant digits and a power of ten within 10^±22, which a double holds exactly,
// so one multiplication or division rounds correctly (Clinger's fast path) and the value is the
// one std::from_chars gives, bit for bit. Anything else (more digits, a larger exponent, spaces,
// "inf", hex) is left to std::from_chars.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace vaead::decimal {

// The 8 bytes at p as one little-endian word.
inline std::uint64_t load8(const char* p) {
  std::uint64_t word;
  std::memcpy(&word, p, 8);
  if constexpr (std::endian::native != std::endian::little) word = __builtin_bswap64(word);
  return word;
}

// Whether the word's 8 bytes are all ASCII digits: a byte is when its high half is 3 and adding 6
// keeps it 3 (0x30-0x39; no carry crosses a byte that passes).
inline bool all_digits(std::uint64_t word) {
  constexpr std::uint64_t kZeros = 0x3030303030303030u, kHigh = 0xF0F0F0F0F0F0F0F0u;
  return (word & kHigh) == kZeros && ((word + 0x0606060606060606u) & kHigh) == kZeros;
}

// The value of 8 digit bytes (the first the most significant): combined in pairs, fours and
// eights with 3 multiplications instead of 8 steps.
inline std::uint32_t eight_digits_value(std::uint64_t word) {
  std::uint64_t value = word - 0x3030303030303030u;
  value = value * 10 + (value >> 8);  // byte 2i: digits 2i and 2i+1 as 0-99
  return static_cast<std::uint32_t>(
      ((value & 0x000000FF000000FFu) * (100 + (std::uint64_t{1000000} << 32)) +
       ((value >> 16) & 0x000000FF000000FFu) * (1 + (std::uint64_t{10000} << 32))) >>
      32);
}

// Parses the number at [p, end). Returns where it stops, or nullptr when the text there is not a
// number this path takes (the caller then parses with std::from_chars).
inline const char* parse_fast(const char* p, const char* end, double& value) {
  static constexpr double kPowers[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                         1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                         1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const auto digit = [](char c) { return static_cast<unsigned>(c - '0') < 10u; };
  const bool negative = p < end && *p == '-';
  p += negative ? 1 : 0;
  // The digits go into `mantissa`; `taken` counts them but the integer part's leading zeros, and
  // more than 19 could overflow it (such numbers take the slow path).
  std::uint64_t mantissa = 0;
  int taken = 0, exponent = 0;
  const char* const first = p;
  while (p < end && *p == '0')
    ++p;
  for (; p < end && digit(*p); ++p, ++taken)
    mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
  bool any_digit = p != first;
  if (p < end && *p == '.') {
    ++p;
    const char* const fraction = p;
    // 8 digits at a time while there are (a float printed in full has 6 to 9), then one at a time.
    while (end - p >= 8 && taken <= 11) {
      const std::uint64_t word = load8(p);
      if (!all_digits(word)) break;
      mantissa = mantissa * 100000000u + eight_digits_value(word);
      p += 8;
      taken += 8;
    }
    for (; p < end && digit(*p); ++p, ++taken)
      mantissa = mantissa * 10 + static_cast<unsigned>(*p - '0');
    exponent = -static_cast<int>(p - fraction);
    any_digit = any_digit || p != fraction;
  }
  if (!any_digit || taken > 19) return nullptr;
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    bool negative_exponent = false;
    if (p < end && (*p == '-' || *p == '+')) negative_exponent = *p++ == '-';
    if (p == end || !digit(*p)) return nullptr;
    int written = 0;
    for (; p < end && digit(*p); ++p) {
      if (written > 1000) return nullptr;  // far out of range: the slow path says how far
      written = written * 10 + (*p - '0');
    }
    exponent += negative_exponent ? -written : written;
  }
  if (mantissa > (std::uint64_t{1} << 53)) return nullptr;
  double result = static_cast<double>(mantissa);
  if (mantissa != 0) {
    if (exponent < -22 || exponent > 22) return nullptr;
    result = exponent < 0 ? result / kPowers[-exponent] : result * kPowers[exponent];
  }
  value = negative ? -result : result;
  return p;
}

}  // namespace vaead::decimal

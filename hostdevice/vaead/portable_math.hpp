// The transcendental functions vaead's results depend on, as the project's own arithmetic: the
// same operations in the same order on every x86-64 CPU, with GCC or Clang, and in CUDA kernels,
// so a result never depends on which libm (glibc's per-CPU variants, CUDA's libdevice) a machine
// has. Only IEEE-754 additions, multiplications, divisions, square roots and explicit fused
// multiply-adds (std::fma: one rounding, on every machine; in software where the CPU has no FMA)
// and exact bit manipulation; no contraction is left to the compiler (the build turns it off, and
// every fused multiply-add here is written as one).
//
// Every function is branch-free (selects only), so the CPU's loops over them vectorize, and the
// vector code computes each lane with the very operations of the scalar code: the same bits.
//
// Accuracy (tests/test_portable_math.cpp measures it against long double on millions of inputs):
//   log(x), exp(x):                       below 1 ulp (double); measured 0.80 and 0.97
//   sin and cos of 2 pi w / 2^32:          below 2 ulp; measured 1.84 (the angle is rounded once
//                                          before the polynomials)
//   exp_float(x): exp in double, rounded once to float: the correctly rounded float except where
//                 the exact value lies within about 2^-52 (relative) of a rounding boundary.
// The polynomials' coefficients are fitted by scripts/fit_math_coefficients.py (near-minimax in
// 60-digit arithmetic, then rounded to double); it prints their errors.
#pragma once

#include <cstdint>
#include <cstring>

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

#include "vaead/host_device.hpp"

namespace vaead::portable {

VAEAD_HOST_DEVICE inline std::uint64_t bits_of(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<std::uint64_t>(__double_as_longlong(x));
#else
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
#endif
}

VAEAD_HOST_DEVICE inline double double_of(std::uint64_t bits) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(bits));
#else
  double x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
#endif
}

// One rounding of a * b + c.
VAEAD_HOST_DEVICE inline double fused(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

VAEAD_HOST_DEVICE inline double square_root(double x) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(x);
#else
  return std::sqrt(x);  // IEEE-754: correctly rounded everywhere
#endif
}

VAEAD_HOST_DEVICE inline float square_root_of(float x) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(x);
#else
  return std::sqrt(x);
#endif
}

VAEAD_HOST_DEVICE inline double square_root_of(double x) {
  return square_root(x);
}

// n (below 2^52) as a double, exactly: the integer placed in the mantissa of 2^52.
VAEAD_HOST_DEVICE inline double exact_double(std::uint64_t n) {
  return double_of(0x4330000000000000ull | n) - 0x1p52;
}

namespace detail {

inline constexpr double kLn2High = 0x1.62e42fefa3800p-1;  // ln 2 with 11 trailing zero bits
inline constexpr double kLn2Low = 0x1.ef35793c76730p-45;  // ln 2 - kLn2High

}  // namespace detail

// The natural logarithm of a positive finite x (normal or subnormal); below 1 ulp.
//   x = 2^k m, m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact), s = f / (2 + f):
//   log(1 + f) = 2 atanh(s) = f - (f^2/2 - s (f^2/2 + R(s^2))), R(z) = sum_k 2 z^k / (2k + 1)
//   fitted on [0, ((sqrt 2 - 1) / (sqrt 2 + 1))^2] with degree 7 (error 2^-57.6).
VAEAD_HOST_DEVICE inline double log(double x) {
  const bool subnormal = x < 0x1p-1022;
  const double scaled = subnormal ? x * 0x1p54 : x;
  const std::uint64_t bits = bits_of(scaled);
  // The mantissa with its exponent set to 0 (m in [1, 2)), and halved when above sqrt(2).
  const std::uint64_t mantissa_bits = bits & 0x000FFFFFFFFFFFFFull;
  const bool above = mantissa_bits > 0x6A09E667F3BCCull;  // sqrt(2) = 1.6a09e667f3bcc...p0
  const double m =
      double_of(mantissa_bits | (above ? 0x3FE0000000000000ull : 0x3FF0000000000000ull));
  const std::uint64_t biased = (bits >> 52) + (above ? 1u : 0u);  // k + 1023 (+ 54 if scaled)
  const double k = exact_double(biased) - (subnormal ? 1023.0 + 54.0 : 1023.0);
  const double f = m - 1.0;
  const double s = f / (2.0 + f);
  const double z = s * s;
  double r = 0x1.2b5f030bab250p-3;
  r = fused(r, z, 0x1.39fdc882ccf62p-3);
  r = fused(r, z, 0x1.7462b9b265c12p-3);
  r = fused(r, z, 0x1.c71c62d1dc6e0p-3);
  r = fused(r, z, 0x1.2492492e029e4p-2);
  r = fused(r, z, 0x1.999999999522fp-2);
  r = fused(r, z, 0x1.5555555555558p-1);
  r = r * z;
  const double half_f_squared = 0.5 * f * f;
  const double tail = fused(s, half_f_squared + r, k * detail::kLn2Low);
  return fused(k, detail::kLn2High, f - (half_f_squared - tail));
}

// e^x for any double x (NaN stays NaN, beyond +-1100 the limits 0 and infinity); below 1 ulp.
//   x = k ln2 + r, |r| <= ln2 / 2:  e^x = 2^k (1 + r + r^2 E(r)), E fitted with degree 10
//   (error 2^-61); 2^k applied in two halves, so subnormal and overflowing results come right.
VAEAD_HOST_DEVICE inline double exp(double x) {
  // NaN takes the path of 0 (its bits would make the exponent's integer arithmetic overflow) and
  // is returned as it came.
  const bool not_a_number = !(x == x);
  const double clamped = not_a_number ? 0.0 : (x > 1100.0 ? 1100.0 : (x < -1100.0 ? -1100.0 : x));
  constexpr double kRound = 0x1.8p52;  // adding it rounds to an integer (in the low bits)
  const double shifted = fused(clamped, 0x1.71547652b82fep0, kRound);  // x / ln2 + kRound
  const double k = shifted - kRound;
  const auto k_int = static_cast<std::int64_t>(bits_of(shifted) - bits_of(kRound));
  double r = fused(-k, detail::kLn2High, clamped);
  r = fused(-k, detail::kLn2Low, r);
  double e = 0x1.1f8b2ad8286edp-29;
  e = fused(e, r, 0x1.af4dde3f2a8acp-26);
  e = fused(e, r, 0x1.27e4cce1fbbf0p-22);
  e = fused(e, r, 0x1.71de0236f1766p-19);
  e = fused(e, r, 0x1.a01a01acf2681p-16);
  e = fused(e, r, 0x1.a01a01abe6522p-13);
  e = fused(e, r, 0x1.6c16c16c15213p-10);
  e = fused(e, r, 0x1.11111111100dfp-7);
  e = fused(e, r, 0x1.5555555555558p-5);
  e = fused(e, r, 0x1.5555555555557p-3);
  e = fused(e, r, 0x1.0000000000000p-1);
  const double p = 1.0 + fused(r * r, e, r);
  // k in [-1587, 1587]: two halves, each a normal power of two.
  const auto first =
      static_cast<std::int64_t>(static_cast<std::uint64_t>(k_int + 2048) >> 1) - 1024;
  const std::int64_t second = k_int - first;
  const double scale_first = double_of(static_cast<std::uint64_t>(first + 1023) << 52);
  const double scale_second = double_of(static_cast<std::uint64_t>(second + 1023) << 52);
  return not_a_number ? x : p * scale_first * scale_second;
}

// e^x of a float: exp in double, rounded once to float.
VAEAD_HOST_DEVICE inline float exp_float(float x) {
  return static_cast<float>(exp(static_cast<double>(x)));
}

// sin and cos of the angle 2 pi w / 2^32 (a full turn in 2^32 steps), below 2 ulp. The quadrant
// and the reflection to [0, pi/4] are exact integer arithmetic on w; then
//   sin t = t + t^3 S(t^2), cos t = 1 - t^2/2 + t^4 C(t^2), fitted on [0, (pi/4)^2] with 6 terms
//   each (errors 2^-55.5 and 2^-59.5).
VAEAD_HOST_DEVICE inline void sincos_turn(std::uint32_t w, double* sine, double* cosine) {
  const std::uint32_t quadrant = w >> 30;
  const std::uint32_t within = w & 0x3FFFFFFFu;  // [0, 2^30): the angle in the quadrant
  const bool reflect = within > 0x20000000u;     // past pi/4: use pi/2 minus the angle
  const std::uint32_t steps = reflect ? 0x40000000u - within : within;
  const double t = exact_double(steps) * 0x1.921fb54442d18p-30;  // 2 pi / 2^32
  const double u = t * t;
  double sp = 0x1.5e0b2d0644389p-33;
  sp = fused(sp, u, -0x1.ae600b3d7a121p-26);
  sp = fused(sp, u, 0x1.71de3796c9802p-19);
  sp = fused(sp, u, -0x1.a01a019e83e2dp-13);
  sp = fused(sp, u, 0x1.1111111110bb3p-7);
  sp = fused(sp, u, -0x1.5555555555555p-3);
  const double sin_t = fused(t * u, sp, t);
  double cp = -0x1.907db45a63f75p-37;
  cp = fused(cp, u, 0x1.1eeb69035e663p-29);
  cp = fused(cp, u, -0x1.27e4fa17f640ep-22);
  cp = fused(cp, u, 0x1.a01a019f4ec8ep-16);
  cp = fused(cp, u, -0x1.6c16c16c16967p-10);
  cp = fused(cp, u, 0x1.5555555555555p-5);
  const double cos_t = 1.0 - (0.5 * u - u * u * cp);
  // The angle in its quadrant: t, or pi/2 - t when reflected.
  const double sin_in = reflect ? cos_t : sin_t;
  const double cos_in = reflect ? sin_t : cos_t;
  // Turned by quadrant * pi/2.
  const bool odd = (quadrant & 1u) != 0;
  const double sin_abs = odd ? cos_in : sin_in;
  const double cos_abs = odd ? sin_in : cos_in;
  *sine = quadrant >= 2 ? -sin_abs : sin_abs;
  *cosine = (quadrant == 1 || quadrant == 2) ? -cos_abs : cos_abs;
}

// base^n by squaring, in double: a fixed sequence of roundings for each n (Adam's bias
// corrections, beta^t).
VAEAD_HOST_DEVICE inline double power(double base, std::uint64_t n) {
  double result = 1.0;
  double factor = base;
  while (n != 0) {
    if ((n & 1u) != 0) result *= factor;
    factor *= factor;
    n >>= 1;
  }
  return result;
}

}  // namespace vaead::portable

// The project's own transcendental functions (hostdevice/vaead/portable_math.hpp): their stated
// accuracy against long double on millions of inputs, their special values, the vectorized
// Box-Muller loop against the scalar one, and a hash of their bits that every machine, compiler and
// -march must reproduce (the golden files rest on it).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "vaead/philox.hpp"
#include "vaead/portable_math.hpp"
#include "vaead/vae_elements.hpp"

namespace vaead {
namespace {

// xorshift64: the inputs (not the project's generator, so the test does not lean on it).
struct Inputs {
  std::uint64_t state = 0x9E3779B97F4A7C15ull;
  std::uint64_t next() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1p-53; }  // [0, 1)
  // A positive double from the smallest subnormal to 2^1023: the exponent drawn first, then the
  // mantissa, in two statements (as arguments of one call, GCC and Clang drew them in opposite
  // orders: other inputs, so another hash, on a correct build).
  double any_positive() {
    const int exponent = static_cast<int>(next() % 2097) - 1074;
    return std::ldexp(1.0 + unit(), exponent);
  }
};

// |got - want| in units of the last place of the double nearest want (subnormal: 2^-1074).
double ulps(double got, long double want) {
  const double nearest = static_cast<double>(want);
  const double magnitude = std::fabs(nearest);
  const double ulp = std::nextafter(magnitude, INFINITY) - magnitude;
  return static_cast<double>(std::fabs(static_cast<long double>(got) - want) /
                             static_cast<long double>(ulp));
}

// The angle 2 pi w / 2^32 reduced as sincos_turn reduces it (exactly), then sinl and cosl of the
// reduced angle: the reference must not lose the accuracy near multiples of pi that a long double
// product w * 2 pi / 2^32 would.
void reference_sincos(std::uint32_t w, long double* sine, long double* cosine) {
  const std::uint32_t quadrant = w >> 30, within = w & 0x3FFFFFFFu;
  const bool reflect = within > 0x20000000u;
  const std::uint32_t steps = reflect ? 0x40000000u - within : within;
  const long double t =
      static_cast<long double>(steps) * 6.283185307179586476925286766559L * 0x1p-32L;
  const long double s_in = reflect ? cosl(t) : sinl(t), c_in = reflect ? sinl(t) : cosl(t);
  const long double s_abs = (quadrant & 1u) != 0 ? c_in : s_in;
  const long double c_abs = (quadrant & 1u) != 0 ? s_in : c_in;
  *sine = quadrant >= 2 ? -s_abs : s_abs;
  *cosine = (quadrant == 1 || quadrant == 2) ? -c_abs : c_abs;
}

TEST(PortableMath, LogIsWithinOneUlpEverywhere) {
  Inputs in;
  double worst = 0.0;
  for (int i = 0; i < 2000000; ++i) {
    // Every binade from 2^-1074 (subnormal) to 2^1023, and (0, 1] densely (the normals' range).
    double x = i % 2 == 0 ? in.any_positive() : 1.0 - in.unit();
    if (x == 0.0) x = 0x1p-1074;
    worst = std::max(worst, ulps(portable::log(x), logl(static_cast<long double>(x))));
  }
  EXPECT_LT(worst, 1.0);
  EXPECT_EQ(portable::log(1.0), 0.0);
  EXPECT_LT(ulps(portable::log(0x1p-32), -32 * logl(2.0L)), 1.0);
  EXPECT_LT(ulps(portable::log(0x1p-1074), logl(0x1p-1074L)), 1.0);
  EXPECT_LT(ulps(portable::log(std::numeric_limits<double>::max()),
                 logl(static_cast<long double>(std::numeric_limits<double>::max()))),
            1.0);
}

TEST(PortableMath, ExpIsWithinOneUlpAndHasTheRightLimits) {
  Inputs in;
  double worst = 0.0;
  for (int i = 0; i < 2000000; ++i) {
    // The whole range, subnormal results included, and densely where the model's logvar lives.
    const double x = i % 2 == 0 ? -745.0 + 1454.7 * in.unit() : -30.0 + 60.0 * in.unit();
    worst = std::max(worst, ulps(portable::exp(x), expl(static_cast<long double>(x))));
  }
  EXPECT_LT(worst, 1.0);
  EXPECT_EQ(portable::exp(0.0), 1.0);
  EXPECT_EQ(portable::exp(-0.0), 1.0);
  EXPECT_EQ(portable::exp(710.0), INFINITY);
  EXPECT_EQ(portable::exp(1e300), INFINITY);
  EXPECT_EQ(portable::exp(INFINITY), INFINITY);
  EXPECT_EQ(portable::exp(-746.0), 0.0);
  EXPECT_EQ(portable::exp(-INFINITY), 0.0);
  EXPECT_EQ(portable::exp(-745.1), 0x1p-1074);  // the smallest subnormal
  // Every NaN, of either sign and any payload (a negative NaN's bits once overflowed the
  // exponent's integer arithmetic: undefined behaviour, caught by UBSan in CI).
  for (const std::uint64_t bits : {0x7FF8000000000000ull, 0xFFF8000000000000ull,
                                   0x7FF0000000000001ull, 0xFFFFFFFFFFFFFFFFull}) {
    const double nan = portable::double_of(bits);
    EXPECT_TRUE(std::isnan(portable::exp(nan))) << std::hex << bits;
    EXPECT_TRUE(std::isnan(portable::exp_float(static_cast<float>(nan)))) << std::hex << bits;
  }
}

TEST(PortableMath, ExpOfAFloatIsTheCorrectlyRoundedFloat) {
  // exp in double rounded once to float: wrong only where the exact value lies within ~2^-52 of a
  // float rounding boundary (about one float in 2^28); none among these.
  Inputs in;
  int wrong = 0;
  for (int i = 0; i < 4000000; ++i) {
    const auto x = static_cast<float>(-103.0 + 192.0 * in.unit());
    const auto want = static_cast<float>(expl(static_cast<long double>(x)));
    if (portable::exp_float(x) != want) ++wrong;
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(portable::exp_float(89.0f), INFINITY);
  EXPECT_EQ(portable::exp_float(-104.0f), 0.0f);
}

TEST(PortableMath, SinAndCosOfATurnAreWithinTwoUlp) {
  Inputs in;
  double worst_sin = 0.0, worst_cos = 0.0;
  for (int i = 0; i < 2000000; ++i) {
    auto w = static_cast<std::uint32_t>(in.next());
    if (i % 4 == 0) w = (w & 0xC0000000u) | (w & 0x3FFu);  // near a quadrant's start
    if (i % 4 == 1) w = (w & 0xC0000000u) | (0x20000000u + (w & 0x3FFu));  // near pi / 4
    double sine, cosine;
    portable::sincos_turn(w, &sine, &cosine);
    long double want_sin, want_cos;
    reference_sincos(w, &want_sin, &want_cos);
    worst_sin = std::max(worst_sin, ulps(sine, want_sin));
    worst_cos = std::max(worst_cos, ulps(cosine, want_cos));
  }
  EXPECT_LT(worst_sin, 2.0);
  EXPECT_LT(worst_cos, 2.0);
  // The quadrants' corners exactly.
  const auto at = [](std::uint32_t w) {
    double s, c;
    portable::sincos_turn(w, &s, &c);
    return std::vector<double>{s, c};
  };
  EXPECT_EQ(at(0), (std::vector<double>{0.0, 1.0}));
  EXPECT_EQ(at(0x40000000u), (std::vector<double>{1.0, 0.0}));
  EXPECT_EQ(at(0x80000000u), (std::vector<double>{0.0, -1.0}));
  EXPECT_EQ(at(0xC0000000u), (std::vector<double>{-1.0, 0.0}));
  EXPECT_EQ(at(0x20000000u)[0], at(0x20000000u)[1]);  // pi / 4
}

// Each squaring doubles the relative error: base^n is within about n + 1 ulp (Adam's constants,
// rounded to float, need 2^-24).
TEST(PortableMath, PowerBySquaringIsCloseToPow) {
  for (const double base : {0.9, 0.99, 0.999, 0.5, 1.0}) {
    for (std::uint64_t n : {0ull, 1ull, 2ull, 7ull, 100ull, 12345ull, 1000000ull, 99999999ull}) {
      const long double want = powl(static_cast<long double>(base), static_cast<long double>(n));
      EXPECT_LT(ulps(portable::power(base, n), want), static_cast<double>(n + 1))
          << base << "^" << n;
    }
  }
  const elements::AdamStep first = elements::adam_step(1e-3, 0.9, 0.999, 1);
  EXPECT_NEAR(first.step_size, 1e-3 / 0.1, 1e-15);
  EXPECT_NEAR(first.bias_correction2_sqrt, std::sqrt(0.001), 1e-15);
}

TEST(PortableMath, VectorizedBoxMullerIsTheScalarBitForBit) {
  Inputs in;
  const std::size_t n = 100003;  // not a multiple of any vector width
  std::vector<std::uint32_t> radius(n), angle(n);
  for (std::size_t i = 0; i < n; ++i) {
    radius[i] = static_cast<std::uint32_t>(in.next());
    angle[i] = static_cast<std::uint32_t>(in.next());
  }
  radius[0] = 0;    // u = 2^-32: the largest radius
  radius[1] = ~0u;  // u = 1: radius 0
  angle[2] = 0;
  angle[3] = ~0u;
  std::vector<double> first(n), second(n);
  box_muller_many(radius.data(), angle.data(), n, first.data(), second.data());
  for (std::size_t i = 0; i < n; ++i) {
    double a, b;
    box_muller(radius[i], angle[i], &a, &b);
    ASSERT_EQ(first[i], a) << i;
    ASSERT_EQ(second[i], b) << i;
  }
  EXPECT_EQ(first[1], 0.0);
  EXPECT_NEAR(std::hypot(first[0], second[0]), std::sqrt(64 * std::log(2.0)), 1e-12);
}

TEST(PortableMath, NormalsHaveMeanZeroAndUnitVariance) {
  const CounterRng rng{17, RandomStream::reparameterization};
  double sum = 0.0, sum_squares = 0.0;
  const int blocks = 250000;
  for (int b = 0; b < blocks; ++b) {
    double block[4];
    rng.normal4(static_cast<std::uint32_t>(b), 0, 0, block);
    for (double v : block) {
      sum += v;
      sum_squares += v * v;
    }
  }
  const double count = 4.0 * blocks;
  EXPECT_NEAR(sum / count, 0.0, 5.0 / std::sqrt(count));
  EXPECT_NEAR(sum_squares / count, 1.0, 5.0 * std::sqrt(2.0 / count));
}

// FNV-1a over the bits of doubles.
struct BitsHash {
  std::uint64_t value = 0xcbf29ce484222325ull;
  void add(double x) {
    const std::uint64_t bits = portable::bits_of(x);
    for (int byte = 0; byte < 8; ++byte) {
      value ^= (bits >> (8 * byte)) & 0xFF;
      value *= 0x100000001b3ull;
    }
  }
};

// The same bits everywhere: a hash of a million values of each function and of normal draws, as
// this project's machine computed them. A machine, compiler or -march that rounds one of them
// differently fails here, before any golden file is compared. The hashes were printed by this test
// on an AMD EPYC (Zen 3) with GCC 12 -march=native; scripts/test.sh runs it also built by Clang
// (with the sanitizers) and for x86-64-v3.
TEST(PortableMath, BitsAreTheSameOnEveryMachine) {
  Inputs in;
  BitsHash logs, exps, floats, turns, normals;
  for (int i = 0; i < 1000000; ++i) {
    logs.add(portable::log(in.any_positive()));
    exps.add(portable::exp(-745.0 + 1454.7 * in.unit()));
    floats.add(portable::exp_float(static_cast<float>(-30.0 + 60.0 * in.unit())));
    double s, c;
    portable::sincos_turn(static_cast<std::uint32_t>(in.next()), &s, &c);
    turns.add(s);
    turns.add(c);
  }
  const CounterRng rng{20261202, RandomStream::reparameterization};
  for (std::uint32_t b = 0; b < 250000; ++b) {
    double block[4];
    rng.normal4(b, 7, 3, block);
    for (double v : block)
      normals.add(v);
  }
  EXPECT_EQ(logs.value, 0x74a100fa271664aeull) << std::hex << logs.value;
  EXPECT_EQ(exps.value, 0x54446b35de3847d5ull) << std::hex << exps.value;
  EXPECT_EQ(floats.value, 0x7503869e424021b2ull) << std::hex << floats.value;
  EXPECT_EQ(turns.value, 0x54ba15eed3806575ull) << std::hex << turns.value;
  EXPECT_EQ(normals.value, 0x3c0df69e2ab4d7ebull) << std::hex << normals.value;
}

}  // namespace
}  // namespace vaead

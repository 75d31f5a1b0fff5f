// cuda_emu's WMMA (CUDA's <mma.h>, namespace nvcuda::wmma): the m16n16k8 TF32 shape with float
// accumulators, the one vaead's kernels use. What a kernel must not rely on, the emulator makes
// visible:
// - Every function is warp-collective: all 32 lanes call it at the same line with the same
//   arguments; a lane that is missing, returned or passes others is a fault naming the function.
// - load_matrix_sync / store_matrix_sync fault on a pointer that is not 256-bit aligned or a
//   leading dimension that is not a multiple of 16 bytes (4 floats), as the PTX ISA requires.
// - Which lane holds which element of a fragment is a permutation drawn from VAEAD_EMU_SEED (one
//   per fragment kind and layout): a kernel that assumes the hardware's layout reads wrong values.
//   Element-wise work on a fragment (every element alike) is what CUDA allows, and works.
// - mma_sync keeps the top 19 bits of each operand (TF32: the low 13 mantissa bits are ignored,
//   as the hardware ignores them), forms exact products and adds them in FP32 in k order.
//   __float_to_tf32 rounds to nearest, ties away from zero (cvt.rna.tf32.f32).
// - A fragment starts as NaN: an element used before it is loaded or filled shows.
// The reads and writes of memory happen here, in the kernel's own code, so AddressSanitizer and
// ThreadSanitizer check them as the lane's.
#pragma once

#include <bit>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

#include "cuda_emu/device.hpp"

namespace cuda_emu {

enum class FragmentKind { a_row, a_col, b_row, b_col, accumulator };

// positions[lane * per_lane + e]: the element (row * cols + col of the fragment's matrix) that
// lane `lane` holds as its e-th; drawn once per process from VAEAD_EMU_SEED.
const int* fragment_positions(FragmentKind kind);

inline int lane_of_thread() {
  const unsigned linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  return static_cast<int>(linear % 32);
}

inline std::string location(const char* file, int line) {
  return std::string(file) + ":" + std::to_string(line);
}

[[noreturn]] inline void wmma_fault(const char* what, const char* file, int line,
                                    const std::string& why) {
  throw std::invalid_argument(std::string(what) + " at " + location(file, line) + ", thread (" +
                              std::to_string(threadIdx.x) + "," + std::to_string(threadIdx.y) +
                              "," + std::to_string(threadIdx.z) + "): " + why);
}

inline void check_matrix_address(const char* what, const void* pointer, unsigned ldm,
                                 const char* file, int line) {
  char text[32];
  std::snprintf(text, sizeof text, "%p", pointer);
  if (reinterpret_cast<std::uintptr_t>(pointer) % 32 != 0)
    wmma_fault(what, file, line, std::string("pointer ") + text + " is not 256-bit aligned");
  if (ldm % 4 != 0 || ldm == 0)
    wmma_fault(what, file, line,
               "leading dimension " + std::to_string(ldm) +
                   " is not a positive multiple of 16 bytes (4 floats)");
}

struct MatrixArguments {
  const void* pointer;
  unsigned ldm;
  int layout;
};

inline float tf32_truncated(float value) {
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(value) & 0xFFFFE000u);
}

}  // namespace cuda_emu

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32 {};
}  // namespace precision

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
  static_assert(M == 16 && N == 16 && K == 8,
                "cuda_emu emulates the m16n16k8 TF32 shape of WMMA only");
};

namespace detail {
template <class Use, class Layout>
constexpr cuda_emu::FragmentKind kind() {
  if constexpr (std::is_same_v<Use, matrix_a>)
    return std::is_same_v<Layout, row_major> ? cuda_emu::FragmentKind::a_row
                                             : cuda_emu::FragmentKind::a_col;
  else if constexpr (std::is_same_v<Use, matrix_b>)
    return std::is_same_v<Layout, row_major> ? cuda_emu::FragmentKind::b_row
                                             : cuda_emu::FragmentKind::b_col;
  else
    return cuda_emu::FragmentKind::accumulator;
}

template <class Use, int Rows, int Cols, class Layout>
struct FragmentBase {
  using element_type = float;
  static constexpr int rows = Rows, cols = Cols;
  static constexpr int num_elements = Rows * Cols / 32;
  static constexpr cuda_emu::FragmentKind fragment_kind = kind<Use, Layout>();
  float x[num_elements];
  FragmentBase() {
    for (float& element : x)
      element = std::numeric_limits<float>::quiet_NaN();
  }
};
}  // namespace detail

template <class Layout>
class fragment<matrix_a, 16, 16, 8, precision::tf32, Layout>
    : public detail::FragmentBase<matrix_a, 16, 8, Layout> {};
template <class Layout>
class fragment<matrix_b, 16, 16, 8, precision::tf32, Layout>
    : public detail::FragmentBase<matrix_b, 8, 16, Layout> {};
template <>
class fragment<accumulator, 16, 16, 8, float, void>
    : public detail::FragmentBase<accumulator, 16, 16, void> {};

inline float __float_to_tf32(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7F800000u) == 0x7F800000u) return value;        // infinity and NaN stay
  return std::bit_cast<float>((bits + 0x1000u) & 0xFFFFE000u);  // nearest, ties away from 0
}

namespace detail {
// Every lane moves its own elements between the fragment and [rows][cols] at `pointer`.
template <class Fragment, bool Store>
void move(const char* what, Fragment& fragment, float* pointer, unsigned ldm, bool row_major,
          const char* file, int line) {
  cuda_emu::check_matrix_address(what, pointer, ldm, file, line);
  const cuda_emu::MatrixArguments arguments{pointer, ldm, row_major ? 0 : 1};
  cuda_emu::warp_collective(what, &arguments, sizeof arguments, nullptr, file, line);
  const int* positions = cuda_emu::fragment_positions(Fragment::fragment_kind) +
                         cuda_emu::lane_of_thread() * Fragment::num_elements;
  for (int e = 0; e < Fragment::num_elements; ++e) {
    const int r = positions[e] / Fragment::cols, c = positions[e] % Fragment::cols;
    float& element = pointer[row_major ? static_cast<long long>(r) * ldm + c
                                       : static_cast<long long>(c) * ldm + r];
    if constexpr (Store)
      element = fragment.x[e];
    else
      fragment.x[e] = element;
  }
}
}  // namespace detail

template <class Use, class Layout>
void load_matrix_sync(fragment<Use, 16, 16, 8, precision::tf32, Layout>& a, const float* pointer,
                      unsigned ldm, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  static_assert(!std::is_same_v<Layout, void>, "a matrix_a or matrix_b fragment has a layout");
  detail::move<fragment<Use, 16, 16, 8, precision::tf32, Layout>, false>(
      "wmma::load_matrix_sync", a, const_cast<float*>(pointer), ldm,
      std::is_same_v<Layout, row_major>, file, line);
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 8, float>& c, const float* pointer,
                             unsigned ldm, layout_t layout, const char* file = __builtin_FILE(),
                             int line = __builtin_LINE()) {
  detail::move<fragment<accumulator, 16, 16, 8, float>, false>("wmma::load_matrix_sync", c,
                                                               const_cast<float*>(pointer), ldm,
                                                               layout == mem_row_major, file, line);
}

inline void store_matrix_sync(float* pointer, const fragment<accumulator, 16, 16, 8, float>& c,
                              unsigned ldm, layout_t layout, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  detail::move<const fragment<accumulator, 16, 16, 8, float>, true>(
      "wmma::store_matrix_sync", c, pointer, ldm, layout == mem_row_major, file, line);
}

template <class Use, int M, int N, int K, class T, class Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float value,
                   const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  cuda_emu::warp_collective("wmma::fill_fragment", &bits, sizeof bits, nullptr, file, line);
  for (float& element : f.x)
    element = value;
}

// d = a b + c. The lanes exchange their a and b elements (each lane reads the others' fragments
// after the first collective step, and nobody changes a fragment before the second).
template <class LayoutA, class LayoutB>
void mma_sync(fragment<accumulator, 16, 16, 8, float>& d,
              const fragment<matrix_a, 16, 16, 8, precision::tf32, LayoutA>& a,
              const fragment<matrix_b, 16, 16, 8, precision::tf32, LayoutB>& b,
              const fragment<accumulator, 16, 16, 8, float>& c, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  using A = fragment<matrix_a, 16, 16, 8, precision::tf32, LayoutA>;
  using B = fragment<matrix_b, 16, 16, 8, precision::tf32, LayoutB>;
  using C = fragment<accumulator, 16, 16, 8, float>;
  struct Operands {
    const float* a;
    const float* b;
  };
  const Operands mine{a.x, b.x};
  const int kinds = static_cast<int>(A::fragment_kind) * 8 + static_cast<int>(B::fragment_kind);
  const void* const* lanes =
      cuda_emu::warp_collective("wmma::mma_sync", &kinds, sizeof kinds, &mine, file, line);
  float a_matrix[16 * 8], b_matrix[8 * 16];
  const int* a_positions = cuda_emu::fragment_positions(A::fragment_kind);
  const int* b_positions = cuda_emu::fragment_positions(B::fragment_kind);
  for (int lane = 0; lane < 32; ++lane) {
    const auto* operands = static_cast<const Operands*>(lanes[lane]);
    for (int e = 0; e < A::num_elements; ++e)
      a_matrix[a_positions[lane * A::num_elements + e]] = cuda_emu::tf32_truncated(operands->a[e]);
    for (int e = 0; e < B::num_elements; ++e)
      b_matrix[b_positions[lane * B::num_elements + e]] = cuda_emu::tf32_truncated(operands->b[e]);
  }
  const int* c_positions =
      cuda_emu::fragment_positions(C::fragment_kind) + cuda_emu::lane_of_thread() * C::num_elements;
  float result[C::num_elements];
  for (int e = 0; e < C::num_elements; ++e) {
    const int row = c_positions[e] / 16, col = c_positions[e] % 16;
    float sum = c.x[e];
    for (int k = 0; k < 8; ++k)
      sum = fmaf(a_matrix[row * 8 + k], b_matrix[k * 16 + col], sum);  // exact products
    result[e] = sum;
  }
  cuda_emu::warp_collective("wmma::mma_sync", &kinds, sizeof kinds, nullptr, file, line);
  for (int e = 0; e < C::num_elements; ++e)
    d.x[e] = result[e];
}

}  // namespace nvcuda::wmma

// The register tiles the CPU engine's layer ops are made of: a tile of rows x columns of outputs
// whose sums live in registers from their first value to their one store, in AVX-512 or AVX2
// vectors where the build targets them (VAEAD_TILE_VECTORS), else in scalar loops with the same
// fused multiply-adds in the same order (so every build gives the same bits).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#define VAEAD_TILE_VECTORS 1
#endif

namespace vaead::cpu {

// Where a tile's sums start and where they go: a tile of kRows x kCols outputs is read from
// `init` (or starts from zeros), summed in registers and written once to `out`, finished on the
// way (a ReLU, or the mask of the ReLU that produced a layer's input). No copy of the tile goes
// through memory between the caller and the sums.
template <class T>
struct TileIo {
  const T* init = nullptr;   // [kRows][init_row]; nullptr: zeros
  std::size_t init_row = 0;  // 0: every row starts from the same values (a bias)
  T* out = nullptr;          // [kRows][out_row]
  std::size_t out_row = 0;
  bool relu = false;        // out = sum < 0 ? 0 : sum (std::max(sum, 0): NaN and -0 kept)
  const T* mask = nullptr;  // [kRows][mask_row]: out = mask > 0 ? sum : 0
  std::size_t mask_row = 0;
};

// The ReLU, and the mask of the ReLU that produced a layer's input (its derivative at 0 is 0): the
// scalar rules that the vector code repeats lane by lane.
template <class T>
T relu_of(T sum) {
  return std::max(sum, T(0));
}
template <class T>
T masked(T gradient, T relu_output) {
  return relu_output > T(0) ? gradient : T(0);
}

// The value written for a sum.
template <class T>
T finished(T sum, const TileIo<T>& io, std::size_t r, std::size_t j) {
  if (io.relu) sum = relu_of(sum);
  if (io.mask != nullptr) sum = masked(sum, io.mask[r * io.mask_row + j]);
  return sum;
}

#if defined(VAEAD_TILE_VECTORS)
// Eight columns of row r from `column` on: the start, and the finished store (max(0, v) is
// std::max(v, 0) lane by lane: 0 > v ? 0 : v).
inline __m256 tile_start8(const TileIo<float>& io, std::size_t r, std::size_t column) {
  return io.init == nullptr ? _mm256_setzero_ps()
                            : _mm256_loadu_ps(io.init + r * io.init_row + column);
}
inline void tile_store8(const TileIo<float>& io, std::size_t r, std::size_t column, __m256 v) {
  if (io.relu) v = _mm256_max_ps(_mm256_setzero_ps(), v);
  if (io.mask != nullptr) {
    const __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(io.mask + r * io.mask_row + column),
                                      _mm256_setzero_ps(), _CMP_GT_OQ);
    v = _mm256_and_ps(v, keep);
  }
  _mm256_storeu_ps(io.out + r * io.out_row + column, v);
}
#endif

#if defined(__AVX512F__)
inline __m512 tile_start16(const TileIo<float>& io, std::size_t r, std::size_t column) {
  return io.init == nullptr ? _mm512_setzero_ps()
                            : _mm512_loadu_ps(io.init + r * io.init_row + column);
}
inline void tile_store16(const TileIo<float>& io, std::size_t r, std::size_t column, __m512 v) {
  // (_mm512_max_ps would do, but GCC 12 warns of its undefined pass-through operand.)
  if (io.relu) v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NLT_UQ), v);
  if (io.mask != nullptr) {
    const __mmask16 keep = _mm512_cmp_ps_mask(_mm512_loadu_ps(io.mask + r * io.mask_row + column),
                                              _mm512_setzero_ps(), _CMP_GT_OQ);
    v = _mm512_maskz_mov_ps(keep, v);
  }
  _mm512_storeu_ps(io.out + r * io.out_row + column, v);
}

// tile_product of floats in explicit vectors: a row of the tile in one (16 columns), two (32) or a
// half (8) vector, the k loop outermost. Compilers left to themselves vectorize the narrow tiles
// across rows with permutes, at a tenth of the speed. Each element is still one fused
// multiply-add per k, in k order: the same bits as the plain loop.
template <std::size_t kRows, std::size_t kCols>
void tile_product_vectors(const float* a, std::size_t a_row, std::size_t a_k, const float* b,
                          std::size_t b_row, std::size_t depth, const TileIo<float>& io) {
  if constexpr (kCols == 8) {
    __m256 c[kRows];
    for (std::size_t r = 0; r < kRows; ++r)
      c[r] = tile_start8(io, r, 0);
    for (std::size_t k = 0; k < depth; ++k) {
      const __m256 bk = _mm256_loadu_ps(b + k * b_row);
      for (std::size_t r = 0; r < kRows; ++r)
        c[r] = _mm256_fmadd_ps(_mm256_set1_ps(a[r * a_row + k * a_k]), bk, c[r]);
    }
    for (std::size_t r = 0; r < kRows; ++r)
      tile_store8(io, r, 0, c[r]);
  } else {
    constexpr std::size_t kVectors = kCols / 16;
    __m512 c[kRows][kVectors];
    for (std::size_t r = 0; r < kRows; ++r)
      for (std::size_t v = 0; v < kVectors; ++v)
        c[r][v] = tile_start16(io, r, 16 * v);
    for (std::size_t k = 0; k < depth; ++k) {
      __m512 bk[kVectors];
      for (std::size_t v = 0; v < kVectors; ++v)
        bk[v] = _mm512_loadu_ps(b + k * b_row + 16 * v);
      for (std::size_t r = 0; r < kRows; ++r) {
        const __m512 ark = _mm512_set1_ps(a[r * a_row + k * a_k]);
        for (std::size_t v = 0; v < kVectors; ++v)
          c[r][v] = _mm512_fmadd_ps(ark, bk[v], c[r][v]);
      }
    }
    for (std::size_t r = 0; r < kRows; ++r)
      for (std::size_t v = 0; v < kVectors; ++v)
        tile_store16(io, r, 16 * v, c[r][v]);
  }
}
#elif defined(VAEAD_TILE_VECTORS)
// AVX2 has 16 vector registers of 8 floats: a tile is done in bands whose accumulators fit beside
// the k-th row of b and a broadcast of a: 6 rows x 16 columns (12 accumulators, enough to cover
// two FMA ports' latency of 4-5 cycles) or 8 rows x 8 columns. The bands reread a and b from L1;
// each element is still one fused multiply-add per k, in k order: the same bits as the plain loop.
template <std::size_t kFirst, std::size_t kBandRows, std::size_t kVectors>
void tile_band(const float* a, std::size_t a_row, std::size_t a_k, const float* b,
               std::size_t b_row, std::size_t depth, std::size_t column, const TileIo<float>& io) {
  __m256 c[kBandRows][kVectors];
  for (std::size_t r = 0; r < kBandRows; ++r)
    for (std::size_t v = 0; v < kVectors; ++v)
      c[r][v] = tile_start8(io, kFirst + r, column + 8 * v);
  const float* a_band = a + kFirst * a_row;
  for (std::size_t k = 0; k < depth; ++k) {
    __m256 bk[kVectors];
#pragma GCC unroll 2  // unrolled, the accumulators stay in registers (GCC and Clang)
    for (std::size_t v = 0; v < kVectors; ++v)
      bk[v] = _mm256_loadu_ps(b + k * b_row + column + 8 * v);
#pragma GCC unroll 8
    for (std::size_t r = 0; r < kBandRows; ++r) {
      const __m256 ark = _mm256_broadcast_ss(a_band + r * a_row + k * a_k);
#pragma GCC unroll 2
      for (std::size_t v = 0; v < kVectors; ++v)
        c[r][v] = _mm256_fmadd_ps(ark, bk[v], c[r][v]);
    }
  }
  for (std::size_t r = 0; r < kBandRows; ++r)
    for (std::size_t v = 0; v < kVectors; ++v)
      tile_store8(io, kFirst + r, column + 8 * v, c[r][v]);
}

// Rows [kFirst, kRows) of the tile, columns [column, column + 8 kVectors), in bands of at most
// kBand rows.
template <std::size_t kFirst, std::size_t kBand, std::size_t kVectors, std::size_t kRows>
void tile_bands(const float* a, std::size_t a_row, std::size_t a_k, const float* b,
                std::size_t b_row, std::size_t depth, std::size_t column, const TileIo<float>& io) {
  if constexpr (kFirst < kRows) {
    constexpr std::size_t kBandRows = kRows - kFirst < kBand ? kRows - kFirst : kBand;
    tile_band<kFirst, kBandRows, kVectors>(a, a_row, a_k, b, b_row, depth, column, io);
    tile_bands<kFirst + kBandRows, kBand, kVectors, kRows>(a, a_row, a_k, b, b_row, depth, column,
                                                           io);
  }
}

template <std::size_t kRows, std::size_t kCols>
void tile_product_vectors(const float* a, std::size_t a_row, std::size_t a_k, const float* b,
                          std::size_t b_row, std::size_t depth, const TileIo<float>& io) {
  if constexpr (kCols == 8) {
    tile_bands<0, 8, 1, kRows>(a, a_row, a_k, b, b_row, depth, 0, io);
  } else {
    for (std::size_t column = 0; column < kCols; column += 16)
      tile_bands<0, 6, 2, kRows>(a, a_row, a_k, b, b_row, depth, column, io);
  }
}
#endif

// out[r][j] = finished(init[r][j] + sum over k in order of a[r][k] * b[k][j]) for a tile of kRows
// rows and kCols columns (both compile-time, so the sums live in registers). The strides are of
// the caller's matrices: a[r][k] = a[r * a_row + k * a_k], b[k][j] = b[k * b_row + j] (contiguous
// in j).
template <std::size_t kRows, std::size_t kCols, class T>
void tile_product(const T* a, std::size_t a_row, std::size_t a_k, const T* b, std::size_t b_row,
                  std::size_t depth, const TileIo<T>& io) {
#if defined(VAEAD_TILE_VECTORS)
  if constexpr (std::is_same_v<T, float> && (kCols == 8 || kCols == 16 || kCols == 32)) {
    tile_product_vectors<kRows, kCols>(a, a_row, a_k, b, b_row, depth, io);
    return;
  }
#endif
  T acc[kRows][kCols];
  for (std::size_t r = 0; r < kRows; ++r)
    for (std::size_t j = 0; j < kCols; ++j)
      acc[r][j] = io.init == nullptr ? T(0) : io.init[r * io.init_row + j];
  for (std::size_t k = 0; k < depth; ++k) {
    const T* bk = b + k * b_row;
    for (std::size_t r = 0; r < kRows; ++r) {
      const T ark = a[r * a_row + k * a_k];
      for (std::size_t j = 0; j < kCols; ++j)
        acc[r][j] = std::fma(ark, bk[j], acc[r][j]);
    }
  }
  for (std::size_t r = 0; r < kRows; ++r)
    for (std::size_t j = 0; j < kCols; ++j)
      io.out[r * io.out_row + j] = finished(acc[r][j], io, r, j);
}

#if defined(VAEAD_TILE_VECTORS)
// sums[o] += gy[r][o] for the rows r < count and the eight outputs o < 8 (gy's rows `row` apart),
// in double, row by row: the bias gradient's sums, eight lanes at once.
inline void add_rows_to_sums8(const float* gy, std::size_t row, std::size_t count, double* sums) {
  __m256d low = _mm256_loadu_pd(sums), high = _mm256_loadu_pd(sums + 4);
  for (std::size_t r = 0; r < count; ++r) {
    low = _mm256_add_pd(low, _mm256_cvtps_pd(_mm_loadu_ps(gy + r * row)));
    high = _mm256_add_pd(high, _mm256_cvtps_pd(_mm_loadu_ps(gy + r * row + 4)));
  }
  _mm256_storeu_pd(sums, low);
  _mm256_storeu_pd(sums + 4, high);
}
#endif

}  // namespace vaead::cpu

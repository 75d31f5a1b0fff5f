// The CPU engine's ops of one Linear layer, tiled for speed; cpu/reference_ops.hpp holds the plain
// loops they must equal bit for bit, and cpu/simd_tiles.hpp the register tiles they are made of.
//
// Threads: every parallel loop partitions its *outputs* (rows of y, rows of gx, rows of gW), and
// each output is summed in a fixed order by one thread, so the bits never depend on the thread
// count.
//
// Speed comes from blocking, not from changing any sum: each op works on a tile of outputs (a few
// rows x a run of contiguous columns) whose sums live in vector registers from their first value
// (a bias, zeros, or what is accumulated onto) to their one store (with the ReLU or its mask
// applied on the way), and walks the summed dimension once for the whole tile, so a weight row
// loaded once serves several rows. Every output is still the same sum in the same order as the
// one-row loop beside it (used for the edges of the tiles), so tiled and untiled give the same
// bits.
//
// Every multiply-add is one fused multiply-add (std::fma, or the vector intrinsic): one rounding,
// on every CPU and with every compiler (the build turns contraction off, so nothing else is fused).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <type_traits>
#include <vector>

#include "cpu/simd_tiles.hpp"
#include "cpu/worker_pool.hpp"

namespace vaead::cpu {

// body(i) for i in [0, count), on the pool's threads (nullptr: on the caller alone); `work` is the
// whole loop's cost (multiply-adds or the like), which decides how many threads it is worth.
template <class Body>
void parallel_for(WorkerPool* pool, std::size_t count, double work, const Body& body) {
  const auto items = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i)
      body(i);
  };
  if (pool == nullptr)
    items(0, count);
  else
    pool->run(count, work, items);
}

// body(begin, end) for ranges that cover [0, count) once, as the pool hands them out (the whole
// range on one thread): for element loops, which vectorize over a range and whose bits do not
// depend on where the ranges end.
template <class Body>
void parallel_ranges(WorkerPool* pool, std::size_t count, double work, const Body& body) {
  if (pool == nullptr)
    body(std::size_t{0}, count);
  else
    pool->run(count, work, body);
}

// Tiles are kTileRows rows by 32, 16 or 8 contiguous columns (two, one or half an AVX-512
// vector of floats).
inline constexpr std::size_t kTileRows = 8;

// Calls tile(width, first) with width a std::integral_constant of 32, 16 or 8 for column tiles
// covering [0, n) from the left. With `overlap`, a last 8-wide tile ending at n may overlap the one
// before (the columns it repeats get the very same values: only for tiles that do not read what
// they write). Returns the first column left uncovered, for the caller's one-row loop.
template <class Tile>
std::size_t column_tiles(std::size_t n, bool overlap, const Tile& tile) {
  std::size_t j = 0;
  for (; j + 32 <= n; j += 32)
    tile(std::integral_constant<std::size_t, 32>{}, j);
  if (j + 16 <= n) {
    tile(std::integral_constant<std::size_t, 16>{}, j);
    j += 16;
  }
  if (j + 8 <= n) {
    tile(std::integral_constant<std::size_t, 8>{}, j);
    j += 8;
  }
  if (overlap && j < n && n >= 8) {
    tile(std::integral_constant<std::size_t, 8>{}, n - 8);
    j = n;
  }
  return j;
}

// Calls rows(height, first) with height a std::integral_constant of 8, 4, 2 or 1 for tiles
// covering [0, n) (n <= 8) from the top: a partial tile of rows as register tiles.
template <class Rows>
void output_rows(std::size_t n, const Rows& rows) {
  std::size_t first = 0;
  if (n == kTileRows) return rows(std::integral_constant<std::size_t, kTileRows>{}, first);
  for (; first + 4 <= n; first += 4)
    rows(std::integral_constant<std::size_t, 4>{}, first);
  for (; first + 2 <= n; first += 2)
    rows(std::integral_constant<std::size_t, 2>{}, first);
  for (; first < n; ++first)
    rows(std::integral_constant<std::size_t, 1>{}, first);
}

// wt[i][o] = w[o][i] for the rows i in [first, last) of W^T, so the forward pass walks weights
// contiguously per input.
template <class T>
void transpose_rows(const T* w, std::size_t out, std::size_t in, std::size_t first,
                    std::size_t last, T* wt) {
  for (std::size_t i = first; i < last; ++i)
    for (std::size_t o = 0; o < out; ++o)
      wt[i * out + o] = w[o * in + i];
}

// y[r][o] = bias[o] + sum_i x[r][i] * w[o][i], then max(y, 0) when `relu`.
//   x  [rows][in]   layer input          wt   [in][out]  W^T (see transpose)
//   y  [rows][out]  layer output         bias [out]
template <class T>
void linear_forward(const T* x, std::size_t rows, std::size_t in, const T* wt, const T* bias,
                    std::size_t out, bool relu, T* y, WorkerPool* pool) {
  // One row, columns [begin, end): the sum the tiles compute, in the same order.
  const auto row_columns = [&](std::size_t r, std::size_t begin, std::size_t end) {
    const T* xr = x + r * in;
    T* yr = y + r * out;
    std::copy(bias + begin, bias + end, yr + begin);
    for (std::size_t i = 0; i < in; ++i) {
      const T xi = xr[i];
      const T* wi = wt + i * out;
      for (std::size_t o = begin; o < end; ++o)
        yr[o] = std::fma(xi, wi[o], yr[o]);
    }
  };
  const std::size_t tiles = (rows + kTileRows - 1) / kTileRows;
  parallel_for(pool, tiles, static_cast<double>(rows * in * out), [&](std::size_t t) {
    const std::size_t r0 = t * kTileRows, r_end = std::min(rows, r0 + kTileRows);
    std::size_t done = 0;  // the columns the tiles wrote (bias, sum and ReLU)
    if (r_end - r0 == kTileRows) {
      done = column_tiles(out, true, [&](auto width, std::size_t o0) {
        constexpr std::size_t kCols = decltype(width)::value;
        TileIo<T> io;
        io.init = bias + o0;  // init_row 0: the bias for every row
        io.out = y + r0 * out + o0;
        io.out_row = out;
        io.relu = relu;
        tile_product<kTileRows, kCols>(x + r0 * in, in, 1, wt + o0, out, in, io);
      });
    }
    for (std::size_t r = r0; r < r_end; ++r) {
      row_columns(r, done, out);
      if (relu)
        for (std::size_t o = done; o < out; ++o)
          y[r * out + o] = relu_of(y[r * out + o]);
    }
  });
}

// gx[r][i] (+)= sum_o gy[r][o] * w[o][i]; when `relu_output` is given, gx is then masked by
// relu_output[r][i] > 0 (the ReLU that produced this layer's input; its derivative at 0 is 0).
//   gy [rows][out]  gradient of the layer output     w [out][in]  the weights
//   gx [rows][in]   gradient of the layer input      relu_output [rows][in] or nullptr
template <class T>
void linear_backward_input(const T* gy, std::size_t rows, std::size_t out, const T* w,
                           std::size_t in, bool accumulate, const T* relu_output, T* gx,
                           WorkerPool* pool) {
  const auto row_columns = [&](std::size_t r, std::size_t begin, std::size_t end) {
    const T* gyr = gy + r * out;
    T* gxr = gx + r * in;
    if (!accumulate) std::fill(gxr + begin, gxr + end, T(0));
    for (std::size_t o = 0; o < out; ++o) {
      const T g = gyr[o];
      const T* wo = w + o * in;
      for (std::size_t i = begin; i < end; ++i)
        gxr[i] = std::fma(g, wo[i], gxr[i]);
    }
  };
  const std::size_t tiles = (rows + kTileRows - 1) / kTileRows;
  parallel_for(pool, tiles, static_cast<double>(rows * in * out), [&](std::size_t t) {
    const std::size_t r0 = t * kTileRows, r_end = std::min(rows, r0 + kTileRows);
    std::size_t done = 0;  // the columns the tiles wrote (sum and mask)
    if (r_end - r0 == kTileRows) {
      // Accumulating tiles read gx: no overlap.
      done = column_tiles(in, !accumulate, [&](auto width, std::size_t i0) {
        constexpr std::size_t kCols = decltype(width)::value;
        TileIo<T> io;
        if (accumulate) {
          io.init = gx + r0 * in + i0;
          io.init_row = in;
        }
        io.out = gx + r0 * in + i0;
        io.out_row = in;
        if (relu_output != nullptr) {
          io.mask = relu_output + r0 * in + i0;
          io.mask_row = in;
        }
        tile_product<kTileRows, kCols>(gy + r0 * out, out, 1, w + i0, in, out, io);
      });
    }
    for (std::size_t r = r0; r < r_end; ++r) {
      row_columns(r, done, in);
      if (relu_output != nullptr)
        for (std::size_t i = done; i < in; ++i)
          gx[r * in + i] = masked(gx[r * in + i], relu_output[r * in + i]);
    }
  });
}

// Rows a group of output tiles adds per pass: a block of x and gy small enough to stay in the
// L1/L2 cache while every tile of the group reads it.
inline constexpr std::size_t kParamRowBlock = 128;

// What a call of linear_backward_params adds its rows to: the rows of a batch may come in slices,
// one call each, in row order; each weight and bias then sums the batch's rows in order, as one
// call over all of them does (the same bits).
struct ParamsGradientSlice {
  bool first = true;            // gw and the bias sums start from zero
  bool last = true;             // gb is written from the bias sums
  double* bias_sums = nullptr;  // [out], kept between the slices; nullptr: the call's own
};

// One call of linear_backward_params, split into tasks: a task owns a group of output tiles (and,
// when there are too few of them, a group of 32-column tiles) and walks the rows in blocks, each
// block added to every tile of the group before the next (gw's tiles go to memory and back between
// blocks: a handful of loads against a block's worth of multiply-adds): x is read once per group,
// not once per tile. Each weight and each bias sum is one task's.
template <class T>
struct ParamsGradientTasks {
  const T* gy;
  const T* x;
  std::size_t rows, in, out;
  T* gw;
  T* gb;
  const ParamsGradientSlice& slice;
  double* bias_sums;
  std::size_t tiles, per_task, column_blocks, column_groups;

  std::size_t column_start(std::size_t group) const {
    return group == column_groups ? in : group * column_blocks / column_groups * 32;
  }

  // Rows [r0, r0 + count) added to gw[o][begin, end), in row order.
  void add_columns(std::size_t o, std::size_t begin, std::size_t end, std::size_t r0,
                   std::size_t count) const {
    T* gwo = gw + o * in;
    for (std::size_t r = r0; r < r0 + count; ++r) {
      const T g = gy[r * out + o];
      const T* xr = x + r * in;
      for (std::size_t i = begin; i < end; ++i)
        gwo[i] = std::fma(g, xr[i], gwo[i]);
    }
  }

  // Rows [r0, r0 + count) added to the outputs [o0, o0 + kOutputs) in the columns [i0, i0 + kCols),
  // storing from column `from` on (the columns before it belong to an earlier tile).
  template <std::size_t kOutputs, std::size_t kCols>
  void add_tile(std::size_t o0, std::size_t i0, std::size_t from, std::size_t r0,
                std::size_t count) const {
    TileIo<T> io;
    io.init = gw + o0 * in + i0;
    io.init_row = in;
    // a[oo][r] = gy[r][o0 + oo]: rows of the tile are outputs, the summed index is the row.
    const T* a = gy + r0 * out + o0;
    const T* b = x + r0 * in + i0;
    if (from == 0) {  // straight back into gw
      io.out = gw + o0 * in + i0;
      io.out_row = in;
      tile_product<kOutputs, kCols>(a, 1, out, b, in, count, io);
      return;
    }
    T acc[kOutputs][kCols];
    io.out = &acc[0][0];
    io.out_row = kCols;
    tile_product<kOutputs, kCols>(a, 1, out, b, in, count, io);
    for (std::size_t oo = 0; oo < kOutputs; ++oo)
      std::copy(acc[oo] + from, acc[oo] + kCols, gw + (o0 + oo) * in + i0 + from);
  }

  // Rows [r0, r0 + count) added to sums[o - o0] for the outputs [o0, o_last).
  void add_bias(std::size_t o0, std::size_t o_last, std::size_t r0, std::size_t count,
                double* sums) const {
#if defined(VAEAD_TILE_VECTORS)
    if constexpr (std::is_same_v<T, float>) {
      if (o_last - o0 == 8) {  // the same additions, eight lanes at once
        add_rows_to_sums8(gy + r0 * out + o0, out, count, sums);
        return;
      }
    }
#endif
    for (std::size_t r = r0; r < r0 + count; ++r)
      for (std::size_t o = o0; o < o_last; ++o)
        sums[o - o0] += static_cast<double>(gy[r * out + o]);
  }

  // The block of rows [r0, r0 + count) added to the output tiles [first_tile, last_tile) in the
  // columns [c_begin, c_end). Column tiles outermost: a tile's columns of the block stay in L1
  // while every output tile of the group adds them. The tiles read what they write: an
  // overlapping last column tile stores only the columns no tile before it covered (it adds the
  // block to the others a second time, and drops them).
  void add_block(std::size_t first_tile, std::size_t last_tile, std::size_t c_begin,
                 std::size_t c_end, std::size_t r0, std::size_t count) const {
    std::size_t covered = c_begin;
    const std::size_t done =
        c_begin + column_tiles(c_end - c_begin, true, [&](auto width, std::size_t offset) {
          const std::size_t i0 = c_begin + offset;
          const std::size_t from = std::max(covered, i0) - i0;
          for (std::size_t t = first_tile; t < last_tile; ++t) {
            const std::size_t o0 = t * kTileRows, o_last = std::min(out, o0 + kTileRows);
            // A partial tile of outputs in tiles of 4, 2 and 1 (a tile's height is compile-time).
            output_rows(o_last - o0, [&](auto outputs, std::size_t first_output) {
              add_tile<decltype(outputs)::value, decltype(width)::value>(o0 + first_output, i0,
                                                                         from, r0, count);
            });
          }
          covered = i0 + decltype(width)::value;
        });
    const std::size_t o_begin = first_tile * kTileRows;
    const std::size_t o_end = std::min(out, last_tile * kTileRows);
    for (std::size_t o = o_begin; o < o_end; ++o)
      add_columns(o, done, c_end, r0, count);
  }

  void run(std::size_t task) const {
    const std::size_t column_group = task % column_groups;
    const std::size_t first_tile = task / column_groups * per_task;
    const std::size_t last_tile = std::min(tiles, first_tile + per_task);
    const std::size_t o_begin = first_tile * kTileRows;
    const std::size_t o_end = std::min(out, last_tile * kTileRows);
    const std::size_t c_begin = column_start(column_group);
    const std::size_t c_end = column_start(column_group + 1);
    const bool with_bias = column_group == 0;  // one task of the outputs sums their bias
    double* bias_sum = bias_sums + o_begin;    // each output's, in row order
    if (slice.first) {
      for (std::size_t o = o_begin; o < o_end; ++o)
        std::fill(gw + o * in + c_begin, gw + o * in + c_end, T(0));
      if (with_bias) std::fill(bias_sum, bias_sum + (o_end - o_begin), 0.0);
    }
    for (std::size_t r0 = 0; r0 < rows; r0 += kParamRowBlock) {
      const std::size_t count = std::min(kParamRowBlock, rows - r0);
      add_block(first_tile, last_tile, c_begin, c_end, r0, count);
      if (with_bias)
        for (std::size_t o0 = o_begin; o0 < o_end; o0 += kTileRows)
          add_bias(o0, std::min(o_end, o0 + kTileRows), r0, count, bias_sum + (o0 - o_begin));
    }
    if (slice.last && with_bias)
      for (std::size_t o = o_begin; o < o_end; ++o)
        gb[o] = static_cast<T>(bias_sum[o - o_begin]);
  }
};

// gw[o][i] = sum_r gy[r][o] * x[r][i] and gb[o] = sum_r gy[r][o], summed over rows in order
// (the bias in double).
//   gy [rows][out]  gradient of the layer output     x  [rows][in]  layer input
//   gw [out][in]    weight gradient (overwritten, or added to: see ParamsGradientSlice)
//   gb [out]        bias gradient (written by the last slice)
// Tasks as ParamsGradientTasks says, two a thread.
template <class T>
void linear_backward_params(const T* gy, const T* x, std::size_t rows, std::size_t in,
                            std::size_t out, T* gw, T* gb, WorkerPool* pool,
                            const ParamsGradientSlice& slice = {}) {
  std::vector<double> own_sums;
  double* bias_sums = slice.bias_sums;
  if (bias_sums == nullptr) {
    own_sums.assign(out, 0.0);
    bias_sums = own_sums.data();
  }
  const std::size_t tiles = (out + kTileRows - 1) / kTileRows;
  const std::size_t threads = pool == nullptr ? 1 : static_cast<std::size_t>(pool->threads());
  const std::size_t per_task = (tiles + 2 * threads - 1) / (2 * threads);  // two tasks a thread
  const std::size_t output_groups = (tiles + per_task - 1) / per_task;
  // Too few output tiles to give every thread two tasks (a latent head's 8 or 16 outputs): the
  // columns are split too, in groups of whole 32-column tiles. Each weight is still one task's.
  const std::size_t column_blocks = std::max<std::size_t>(1, in / 32);
  const std::size_t column_groups =
      std::min(column_blocks, (2 * threads + output_groups - 1) / output_groups);
  const ParamsGradientTasks<T> tasks{gy,           x,     rows,      in,    out,      gw,
                                     gb,           slice, bias_sums, tiles, per_task, column_blocks,
                                     column_groups};
  parallel_for(pool, output_groups * column_groups, static_cast<double>(rows * in * out),
               [&](std::size_t task) { tasks.run(task); });
}

}  // namespace vaead::cpu

// A dense row-major matrix: the one container that carries tables, batches and activations.
#pragma once

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace vaead {

template <class T>
struct MatrixT {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<T> values;  // rows * cols, row-major

  MatrixT() = default;
  MatrixT(std::size_t row_count, std::size_t col_count, T fill = T(0))
      : rows(row_count), cols(col_count), values(row_count * col_count, fill) {}

  T& operator()(std::size_t r, std::size_t c) { return values[r * cols + c]; }
  const T& operator()(std::size_t r, std::size_t c) const { return values[r * cols + c]; }
  T* row(std::size_t r) { return values.data() + r * cols; }
  const T* row(std::size_t r) const { return values.data() + r * cols; }
  T* data() { return values.data(); }
  const T* data() const { return values.data(); }
  bool empty() const { return rows == 0 || cols == 0; }
};

using Matrix = MatrixT<float>;

// Rows `indices` of `source`, in that order.
template <class T>
MatrixT<T> gather_rows(const MatrixT<T>& source, std::span<const std::size_t> indices) {
  MatrixT<T> out(indices.size(), source.cols);
  for (std::size_t i = 0; i < indices.size(); ++i) {
    if (indices[i] >= source.rows)
      throw std::out_of_range("row index " + std::to_string(indices[i]) + " is outside 0.." +
                              std::to_string(source.rows));
    std::copy(source.row(indices[i]), source.row(indices[i]) + source.cols, out.row(i));
  }
  return out;
}

}  // namespace vaead

// The dense kernels against the plain reference ops (cpu/reference_ops.hpp, in double) on fresh
// random inputs, over shapes that are not multiples of any tile; the forward also against cuBLAS.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "cpu/reference_ops.hpp"
#include "dense.cuh"
#include "gpu_support.hpp"
#include "launch.cuh"
#include "test_support.hpp"

namespace vaead {
namespace {

using testing::all_close;
using testing::random_matrix;
using testing::to_device;

struct Shape {
  int rows, in, out;
};
const Shape kShapes[] = {{1, 1, 1},      {7, 3, 5},       {33, 2, 64},     {256, 30, 128},
                         {257, 128, 64}, {1000, 64, 8},   {4099, 129, 30}, {600, 8, 1},
                         {2048, 31, 33}, {16385, 30, 128}};

std::vector<double> as_double(const std::vector<float>& v) {
  return {v.begin(), v.end()};
}

// Sums of `terms` products of N(0, 1) values: float rounding grows like sqrt(terms).
double absolute_tolerance(int terms) {
  return 2e-6 * std::sqrt(static_cast<double>(terms)) + 1e-6;
}

TEST(GpuDense, ForwardMatchesCpuReferenceWithAndWithoutRelu) {
  VAEAD_REQUIRE_GPU();
  for (const Shape& s : kShapes) {
    for (bool relu : {false, true}) {
      const auto x = random_matrix<float>(s.rows, s.in, 1 + s.rows);
      const auto w = random_matrix<float>(s.out, s.in, 2 + s.in);
      const auto b = random_matrix<float>(1, s.out, 3 + s.out);
      std::vector<double> expected(static_cast<std::size_t>(s.rows) * s.out);
      cpu::reference::linear_forward(as_double(x.values).data(), s.rows, s.in,
                                     as_double(w.values).data(), as_double(b.values).data(), s.out,
                                     relu, expected.data());
      auto dx = to_device(x.values), dw = to_device(w.values), db = to_device(b.values);
      cuda::DeviceBuffer<float> dy(expected.size());
      cuda::dense_forward(dx.data(), s.rows, s.in, dw.data(), db.data(), s.out, relu, dy.data(),
                          nullptr);
      EXPECT_TRUE(all_close(dy.to_host(nullptr), expected, absolute_tolerance(s.in), 1e-5))
          << s.rows << "x" << s.in << " -> " << s.out << (relu ? " relu" : "");
    }
  }
}

TEST(GpuDense, BackwardInputMatchesCpuReferenceWithMaskAndAccumulation) {
  VAEAD_REQUIRE_GPU();
  for (const Shape& s : kShapes) {
    for (bool accumulate : {false, true}) {
      const auto gy = random_matrix<float>(s.rows, s.out, 4 + s.rows);
      const auto w = random_matrix<float>(s.out, s.in, 5 + s.in);
      const auto relu_output = random_matrix<float>(s.rows, s.in, 6 + s.out);  // half <= 0
      const auto start = random_matrix<float>(s.rows, s.in, 7);
      std::vector<double> expected = as_double(start.values);
      if (!accumulate) std::fill(expected.begin(), expected.end(), 0.0);
      cpu::reference::linear_backward_input(as_double(gy.values).data(), s.rows, s.out,
                                            as_double(w.values).data(), s.in,
                                            as_double(relu_output.values).data(), expected.data());
      auto dgy = to_device(gy.values), dw = to_device(w.values);
      auto drelu = to_device(relu_output.values), dgx = to_device(start.values);
      cuda::dense_backward_input(dgy.data(), s.rows, s.out, dw.data(), s.in, accumulate,
                                 drelu.data(), dgx.data(), nullptr);
      EXPECT_TRUE(all_close(dgx.to_host(nullptr), expected, absolute_tolerance(s.out), 1e-5))
          << s.rows << "x" << s.out << " -> " << s.in << (accumulate ? " accumulate" : "");
    }
  }
}

TEST(GpuDense, BackwardParamsMatchCpuReferenceAndRepeatBitwise) {
  VAEAD_REQUIRE_GPU();
  for (const Shape& s : kShapes) {
    const auto gy = random_matrix<float>(s.rows, s.out, 8 + s.rows);
    const auto x = random_matrix<float>(s.rows, s.in, 9 + s.in);
    std::vector<double> gw(static_cast<std::size_t>(s.out) * s.in), gb(s.out);
    cpu::reference::linear_backward_params(as_double(gy.values).data(), as_double(x.values).data(),
                                           s.rows, s.in, s.out, gw.data(), gb.data());
    auto dgy = to_device(gy.values), dx = to_device(x.values);
    cuda::DeviceBuffer<float> dgw(gw.size()), dgb(gb.size()),
        workspace(cuda::dense_backward_params_workspace(s.rows, s.in, s.out));
    cuda::dense_backward_params(dgy.data(), dx.data(), s.rows, s.in, s.out, dgw.data(), dgb.data(),
                                workspace.data(), nullptr);
    const std::vector<float> first = dgw.to_host(nullptr);
    EXPECT_TRUE(all_close(first, gw, absolute_tolerance(s.rows), 1e-5))
        << "weights " << s.rows << " rows, " << s.in << " -> " << s.out;
    EXPECT_TRUE(all_close(dgb.to_host(nullptr), gb, absolute_tolerance(s.rows), 1e-5))
        << "bias " << s.rows << " rows, " << s.out << " outputs";
    cuda::dense_backward_params(dgy.data(), dx.data(), s.rows, s.in, s.out, dgw.data(), dgb.data(),
                                workspace.data(), nullptr);
    EXPECT_EQ(dgw.to_host(nullptr), first) << "a second run changed the bits";
  }
}

// Sizes past 32-bit indexing: launch counts are 64-bit up to what a grid holds, and a layer with
// more weights than its int indices reach is refused before anything is launched.
TEST(GpuDense, SizesPastThirtyTwoBitsAreCountedOrRefused) {
  VAEAD_REQUIRE_GPU();
  EXPECT_EQ(cuda::blocks_for((1LL << 31) + 1), (1u << 23) + 1);
  EXPECT_THROW(cuda::blocks_for(2147483648LL * cuda::kBlock), std::invalid_argument);
  try {
    cuda::dense_forward(nullptr, 1, 1 << 16, nullptr, nullptr, 1 << 16, false, nullptr, nullptr);
    ADD_FAILURE() << "a layer of 2^32 weights was launched";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("2^31 - 1 weights"), std::string::npos)
        << error.what();
  }
}

// cuBLAS is the baseline every dense kernel is measured against; here it is a second reference.
TEST(GpuDense, ForwardAgreesWithCublas) {
  VAEAD_REQUIRE_GPU();
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  for (const Shape& s : kShapes) {
    const auto x = random_matrix<float>(s.rows, s.in, 10);
    const auto w = random_matrix<float>(s.out, s.in, 11);
    const std::vector<float> zero_bias(s.out, 0.0f);
    auto dx = to_device(x.values), dw = to_device(w.values), db = to_device(zero_bias);
    cuda::DeviceBuffer<float> ours(static_cast<std::size_t>(s.rows) * s.out), theirs(ours.size());
    cuda::dense_forward(dx.data(), s.rows, s.in, dw.data(), db.data(), s.out, false, ours.data(),
                        nullptr);
    // Row-major y[rows][out] = x w^T is column-major y^T[out][rows] = w^T(col) ... = W x^T.
    const float one = 1.0f, nothing = 0.0f;
    ASSERT_EQ(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, s.out, s.rows, s.in, &one, dw.data(),
                          s.in, dx.data(), s.in, &nothing, theirs.data(), s.out),
              CUBLAS_STATUS_SUCCESS);
    EXPECT_TRUE(all_close(ours.to_host(nullptr), theirs.to_host(nullptr),
                          2 * absolute_tolerance(s.in), 1e-5))
        << s.rows << "x" << s.in << " -> " << s.out;
  }
  cublasDestroy(handle);
}

}  // namespace
}  // namespace vaead

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

// Two models, each with both latent heads in one parameter buffer laid out as the model's
// (mu.weight, mu.bias, logvar.weight, logvar.bias, then a gap), and the heads' activations.
struct Heads {
  int rows, in, latent;
  static constexpr int kModels = 2;
  long long head() const { return static_cast<long long>(latent) * in + latent; }
  long long params() const { return 2 * head() + 3; }  // the gap: other layers' parameters
  long long w(int model, int h) const { return model * params() + h * head(); }
  long long b(int model, int h) const { return w(model, h) + static_cast<long long>(latent) * in; }
  cuda::ModelStrides strides() const {
    return {kModels, static_cast<long long>(rows) * in, static_cast<long long>(rows) * latent,
            params()};
  }
  std::vector<double> slice(const std::vector<float>& v, long long at, long long count) const {
    return {v.begin() + at, v.begin() + at + count};
  }
};
const Heads kHeads[] = {{7, 5, 1}, {300, 64, 8}, {1000, 128, 32}, {4099, 129, 33}};

// The heads in one launch (2 x latent outputs; two tiles where latent > 32) against the plain
// reference of each head, per model: forward (bit for bit the launches of each head alone), the
// summed input gradient under the hidden layer's mask, and each head's weight and bias gradients.
TEST(GpuDense, BothHeadsInOneLaunchEqualTheReferenceOfEach) {
  VAEAD_REQUIRE_GPU();
  for (const Heads& s : kHeads) {
    const int models = Heads::kModels, rows = s.rows, in = s.in, latent = s.latent;
    const long long act = static_cast<long long>(rows) * latent;
    const auto params = random_matrix<float>(models, s.params(), 20 + in).values;
    const auto x = random_matrix<float>(models * rows, in, 21).values;
    const auto g0 = random_matrix<float>(models * rows, latent, 22).values;
    const auto g1 = random_matrix<float>(models * rows, latent, 23).values;
    const auto hidden = random_matrix<float>(models * rows, in, 24).values;  // half <= 0
    auto dp = to_device(params), dx = to_device(x), dg0 = to_device(g0), dg1 = to_device(g1);
    auto dhidden = to_device(hidden);
    const float* p = dp.data();
    const std::size_t cells = static_cast<std::size_t>(models) * act;
    cuda::DeviceBuffer<float> y0(cells), y1(cells), alone0(cells), alone1(cells);
    cuda::dense_forward(
        dx.data(), rows, in, p + s.w(0, 0), p + s.b(0, 0), latent, false, y0.data(), nullptr,
        s.strides(), cuda::SecondHead{.w = p + s.w(0, 1), .bias = p + s.b(0, 1), .y = y1.data()});
    cuda::dense_forward(dx.data(), rows, in, p + s.w(0, 0), p + s.b(0, 0), latent, false,
                        alone0.data(), nullptr, s.strides());
    cuda::dense_forward(dx.data(), rows, in, p + s.w(0, 1), p + s.b(0, 1), latent, false,
                        alone1.data(), nullptr, s.strides());
    EXPECT_EQ(y0.to_host(nullptr), alone0.to_host(nullptr)) << rows << "x" << in << " mu";
    EXPECT_EQ(y1.to_host(nullptr), alone1.to_host(nullptr)) << rows << "x" << in << " logvar";

    cuda::DeviceBuffer<float> gx(static_cast<std::size_t>(models) * rows * in);
    cuda::dense_backward_input(dg0.data(), rows, latent, p + s.w(0, 0), in, false, dhidden.data(),
                               gx.data(), nullptr, s.strides(),
                               cuda::SecondHead{.w = p + s.w(0, 1), .gy = dg1.data()});
    std::vector<float> gw_all(params.size(), 0.0f), gb_all = gw_all;
    auto dgw = to_device(gw_all);
    cuda::DeviceBuffer<float> workspace(
        cuda::dense_backward_params_workspace(rows, in, 2 * latent, models));
    cuda::dense_backward_params(dg0.data(), dx.data(), rows, in, latent, dgw.data() + s.w(0, 0),
                                dgw.data() + s.b(0, 0), workspace.data(), nullptr, s.strides(),
                                cuda::SecondHead{.w = p + s.w(0, 1),
                                                 .gy = dg1.data(),
                                                 .gw = dgw.data() + s.w(0, 1),
                                                 .gb = dgw.data() + s.b(0, 1)});
    const std::vector<float> got_gx = gx.to_host(nullptr), got_g = dgw.to_host(nullptr);

    for (int m = 0; m < models; ++m) {
      const std::string where = std::to_string(rows) + "x" + std::to_string(in) + " -> 2x" +
                                std::to_string(latent) + ", model " + std::to_string(m);
      const long long rows_at = static_cast<long long>(m) * rows;
      const auto xm = s.slice(x, rows_at * in, static_cast<long long>(rows) * in);
      const auto mask = s.slice(hidden, rows_at * in, static_cast<long long>(rows) * in);
      std::vector<double> expected_gx(xm.size(), 0.0);
      for (int h = 0; h < 2; ++h) {
        const auto w = s.slice(params, s.w(m, h), static_cast<long long>(latent) * in);
        const auto gy = s.slice(h == 0 ? g0 : g1, rows_at * latent, act);
        cpu::reference::linear_backward_input(gy.data(), rows, latent, w.data(), in,
                                              h == 1 ? mask.data() : nullptr, expected_gx.data());
        std::vector<double> gw(w.size()), gb(latent);
        cpu::reference::linear_backward_params(gy.data(), xm.data(), rows, in, latent, gw.data(),
                                               gb.data());
        EXPECT_TRUE(all_close(s.slice(got_g, s.w(m, h), static_cast<long long>(w.size())), gw,
                              absolute_tolerance(rows), 1e-5))
            << where << ", head " << h << " weights";
        EXPECT_TRUE(
            all_close(s.slice(got_g, s.b(m, h), latent), gb, absolute_tolerance(rows), 1e-5))
            << where << ", head " << h << " bias";
      }
      EXPECT_TRUE(all_close(s.slice(got_gx, rows_at * in, static_cast<long long>(rows) * in),
                            expected_gx, absolute_tolerance(2 * latent), 1e-5))
          << where << ", input gradient";
    }
    // Nothing but the heads' gradients was written (the gap between the models' heads is 0).
    for (long long i = 2 * s.head(); i < s.params(); ++i)
      EXPECT_EQ(got_g[static_cast<std::size_t>(i)], 0.0f) << "gap " << i;
  }
}

// The weight gradient fills an H100's or H200's 132 SMs twice over at batch 4096, on every layer
// of the default network (the heads as one product) and of the widest the fused step takes; its
// chunks never grow when the rows shrink (the workspace reserved for a batch serves a shorter
// last batch), and a short batch is not cut into chunks of under 8 rows.
TEST(GpuDense, TheWeightGradientFillsTheGpuAtBatch4096AndItsChunksGrowWithTheRows) {
  const int shapes[][2] = {{30, 128}, {128, 64},  {64, 16},   {8, 64},  {64, 128},
                           {128, 30}, {166, 128}, {128, 128}, {128, 8}, {4, 128}};
  for (const auto& [in, out] : shapes) {
    EXPECT_GE(cuda::dense_weight_gradient_blocks(4096, in, out), cuda::kWeightGradientFillBlocks)
        << in << " -> " << out;
    int previous = 1;
    for (int rows = 1; rows <= 70000; rows += rows < 5000 ? 1 : 997) {
      const int chunks = cuda::dense_weight_gradient_chunks(rows, in, out);
      ASSERT_GE(chunks, previous) << rows << " rows, " << in << " -> " << out;
      ASSERT_TRUE(chunks == 1 || rows / chunks >= 8) << rows << " rows in " << chunks << " chunks";
      previous = chunks;
    }
  }
  EXPECT_EQ(cuda::dense_weight_gradient_chunks(256, 128, 64), 32);  // 8 rows each
  EXPECT_EQ(cuda::dense_weight_gradient_chunks(65536, 128, 64), 132);
}

// A sweep's models fill the GPU with a block a group of chunks instead of a block a chunk (an
// eighth of the partial sums to write and read): model 0's gradients have the same bits alone
// (a block a chunk) and beside 39 others (a block a group), on shapes of one and of two tiles, a
// partial last group, and both heads in one launch.
TEST(GpuDense, AModelsWeightGradientHasTheSameBitsAloneAndBesideASweep) {
  VAEAD_REQUIRE_GPU();
  constexpr int kSweep = 40;
  const Shape shapes[] = {{600, 8, 1}, {1000, 64, 8}, {777, 30, 70}};
  for (const Shape& s : shapes) {
    for (const bool heads : {false, true}) {
      const int width = heads ? 2 * s.out : s.out;
      const long long alone = cuda::dense_weight_gradient_blocks(s.rows, s.in, width, 1);
      const long long beside = cuda::dense_weight_gradient_blocks(s.rows, s.in, width, kSweep);
      ASSERT_LT(beside, kSweep * alone) << "a sweep of " << kSweep << " takes a block a group";
      const long long weights = static_cast<long long>(s.out) * s.in;
      const cuda::ModelStrides strides{kSweep, static_cast<long long>(s.rows) * s.in,
                                       static_cast<long long>(s.rows) * s.out,
                                       2 * weights + 2 * s.out};
      const auto gy = random_matrix<float>(kSweep * s.rows, s.out, 30 + s.in).values;
      const auto gy2 = random_matrix<float>(kSweep * s.rows, s.out, 31 + s.in).values;
      const auto x = random_matrix<float>(kSweep * s.rows, s.in, 32 + s.in).values;
      const auto w = random_matrix<float>(kSweep, strides.params, 33).values;  // the heads' w
      auto dgy = to_device(gy), dgy2 = to_device(gy2), dx = to_device(x), dw = to_device(w);
      std::vector<std::vector<float>> got;
      for (const int models : {1, kSweep}) {
        cuda::ModelStrides m = strides;
        m.models = models;
        auto grads = to_device(std::vector<float>(static_cast<std::size_t>(w.size()), 0.0f));
        cuda::DeviceBuffer<float> workspace(
            cuda::dense_backward_params_workspace(s.rows, s.in, width, models));
        float* g = grads.data();
        cuda::SecondHead second;
        if (heads)
          second = cuda::SecondHead{.w = dw.data() + weights + s.out,
                                    .gy = dgy2.data(),
                                    .gw = g + weights + s.out,
                                    .gb = g + 2 * weights + s.out};
        cuda::dense_backward_params(dgy.data(), dx.data(), s.rows, s.in, s.out, g, g + weights,
                                    workspace.data(), nullptr, m, second);
        std::vector<float> all = grads.to_host(nullptr);
        got.emplace_back(all.begin(), all.begin() + strides.params);  // model 0's
      }
      EXPECT_EQ(got[0], got[1]) << s.rows << " rows, " << s.in << " -> " << width;
    }
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

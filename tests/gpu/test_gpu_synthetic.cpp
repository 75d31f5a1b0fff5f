// The device generator draws the CPU generator's rows: the same loadings, normal rows and planted
// anomalies (up to the last bit of the math library), hence the same statistics.
#include <gtest/gtest.h>

#include "data/synthetic_params.hpp"
#include "gpu_support.hpp"
#include "permutation.cuh"
#include "rows.cuh"
#include "synthetic.cuh"
#include "test_support.hpp"
#include "vaead/data/synthetic.hpp"

namespace vaead {
namespace {

using testing::all_close;

struct DeviceDraw {
  std::vector<float> loadings, train, test;
  std::vector<std::uint8_t> kinds;
};

DeviceDraw draw_on_device(const SyntheticConfig& config) {
  const synthetic::Params p = synthetic::params_of(config);
  cuda::DeviceBuffer<float> w(static_cast<std::size_t>(p.factors) * p.features);
  cuda::DeviceBuffer<float> train(static_cast<std::size_t>(config.train_rows) * p.features);
  cuda::DeviceBuffer<float> test(static_cast<std::size_t>(config.test_rows) * p.features);
  cuda::DeviceBuffer<double> mean(p.features), std(p.features);
  cuda::DeviceBuffer<std::uint8_t> kinds(static_cast<std::size_t>(config.test_rows));
  cuda::synthetic_loadings(p, w.data(), nullptr);
  cuda::synthetic_normal_rows(p, w.data(), synthetic::kTrain, config.train_rows, train.data(),
                              nullptr);
  cuda::synthetic_normal_rows(p, w.data(), synthetic::kTest, config.test_rows, test.data(),
                              nullptr);
  cuda::column_moments(train.data(), config.train_rows, config.features, mean.data(), std.data(),
                       nullptr);
  cuda::DevicePermutation layout;
  layout.compute(config.seed, static_cast<std::uint32_t>(RandomStream::anomaly_layout), 0,
                 static_cast<std::size_t>(config.test_rows), nullptr);
  cuda::assign_anomaly_kinds(layout.order(), config.test_rows, anomaly_counts(config), kinds.data(),
                             nullptr);
  cuda::plant_anomalies(p, kinds.data(), std.data(), config.test_rows, test.data(), nullptr);
  return {w.to_host(nullptr), train.to_host(nullptr), test.to_host(nullptr),
          kinds.to_host(nullptr)};
}

TEST(GpuSynthetic, DeviceRowsAreTheCpuGeneratorsRows) {
  VAEAD_REQUIRE_GPU();
  SyntheticConfig config;
  config.seed = 5;
  const SyntheticData want = generate_synthetic(config);
  const DeviceDraw got = draw_on_device(config);
  // The same counters and the same arithmetic (portable_math.hpp, no contraction): the same bits.
  EXPECT_EQ(got.loadings, want.loadings.values);
  EXPECT_EQ(got.train, want.train.features.values);
  // The anomalies scale by the training columns' std, which the device sums in another order
  // (a tree, the CPU in row order): those rows agree to rounding, every other row bit for bit.
  EXPECT_TRUE(all_close(got.test, want.test.features.values, 1e-5, 1e-5));
  const std::size_t features = want.test.features.cols;
  for (std::size_t r = 0; r < want.test.kinds.size(); ++r)
    if (want.test.kinds[r] == AnomalyKind::none) {
      for (std::size_t j = 0; j < features; ++j)
        ASSERT_EQ(got.test[r * features + j], want.test.features(r, j)) << r << " " << j;
    }
  std::vector<std::uint8_t> want_kinds;
  for (AnomalyKind k : want.test.kinds)
    want_kinds.push_back(static_cast<std::uint8_t>(k));
  EXPECT_EQ(got.kinds, want_kinds);
}

TEST(GpuSynthetic, SameSeedSameBitsOnTheDevice) {
  VAEAD_REQUIRE_GPU();
  SyntheticConfig config;
  config.train_rows = 5000;
  config.seed = 8;
  const DeviceDraw a = draw_on_device(config), b = draw_on_device(config);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test, b.test);
  config.seed = 9;
  EXPECT_NE(draw_on_device(config).train, a.train);
}

// CUB counts its items in an int: a permutation of 2^31 rows or more is refused, naming the count,
// before anything is allocated.
TEST(GpuSynthetic, PermutationRefusesMoreRowsThanCubCounts) {
  VAEAD_REQUIRE_GPU();
  cuda::DevicePermutation permutation;
  try {
    permutation.reserve(std::size_t{1} << 31);
    ADD_FAILURE() << "a permutation of 2^31 rows was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("2147483648"), std::string::npos) << error.what();
  }
  EXPECT_NO_THROW(permutation.reserve(1000));
}

}  // namespace
}  // namespace vaead

// The CUDA engine against the CPU reference engine: the same parameters, batches and noise give
// the same losses, gradients and parameters within a stated tolerance, step by step and epoch by
// epoch (both engines draw the same shuffles and eps from the same Philox counters).
#include <gtest/gtest.h>

#include "cpu/cpu_engine.hpp"
#include "cuda/cuda_engine.hpp"
#include "gpu_support.hpp"
#include "test_support.hpp"
#include "vaead/study/experiment.hpp"

namespace vaead {
namespace {

using testing::all_close;
using testing::random_matrix;

EngineConfig odd_config(int latent, int batch_size) {
  EngineConfig config;
  config.architecture = Architecture{13, {40, 17}, latent, {9, 31}};
  config.batch_size = batch_size;
  config.seed = 21;
  config.threads = 2;
  config.gpu_math = testing::gpu_math_under_test();
  return config;
}

// Tolerances of a float engine against the float CPU reference after n steps: each step's sums
// differ in order (ulps), Adam amplifies small gradients' noise into parameter steps of lr.
constexpr double kLossRelative = 2e-4;
constexpr double kParamAbsolute = 2e-4, kParamRelative = 2e-3;

TEST(GpuEngine, FiftyStepsMatchTheCpuEngineForManyShapes) {
  VAEAD_REQUIRE_GPU();
  for (int latent : {1, 3, 8, 32}) {
    for (int rows : {37, 256}) {
      SCOPED_TRACE("latent " + std::to_string(latent) + ", rows " + std::to_string(rows));
      const EngineConfig config = odd_config(latent, rows);
      cpu::CpuModel<float> reference(config);
      cuda::CudaEngine engine(config);
      ASSERT_EQ(engine.parameters(), reference.parameters());
      for (int step = 0; step < 50; ++step) {
        const auto batch = random_matrix<float>(rows, 13, 1000 + step);
        const auto eps = random_matrix<float>(rows, latent, 2000 + step);
        const double weight = 0.02 * step;
        const LossParts want = reference.train_step(batch, &eps, weight);
        const LossParts got = engine.train_step(batch, &eps, weight);
        ASSERT_NEAR(got.loss, want.loss, kLossRelative * std::abs(want.loss)) << "step " << step;
        ASSERT_NEAR(got.kl, want.kl, 1e-5 + kLossRelative * std::abs(want.kl)) << "step " << step;
        if (step == 0) {
          EXPECT_TRUE(all_close(engine.gradients(), reference.gradients(), 1e-5, 1e-3,
                                [&](std::size_t i) { return engine.layout().describe(i); }));
        }
      }
      EXPECT_TRUE(all_close(engine.parameters(), reference.parameters(), kParamAbsolute,
                            kParamRelative,
                            [&](std::size_t i) { return engine.layout().describe(i); }));
    }
  }
}

// The captured step's launches, as bench/RESULTS.md's napkin math counts them for the default
// network: 32 on the tiled path (gather, noise, a launch a layer forward with the heads as one,
// the loss and its sums, each layer's input gradient and its weight gradient with its reduce, the
// guard, Adam and the counters) and 5 on the fused one.
TEST(GpuEngine, ACapturedStepIsThirtyTwoLaunchesTiledAndFiveFused) {
  VAEAD_REQUIRE_GPU();
  for (const GpuMath math : {GpuMath::fp32, GpuMath::tf32}) {
    EngineConfig config;
    config.architecture = Architecture{30, {128, 64}, 8, {64, 128}};
    config.batch_size = 32;
    config.gpu_math = math;
    cuda::CudaEngine engine(config);
    EXPECT_EQ(engine.step_launches(), 0u);
    engine.set_training_data(random_matrix<float>(32, 30, 5));
    engine.train_epochs(0, std::vector<double>{1.0});
    EXPECT_EQ(engine.step_launches(), math == GpuMath::fp32 ? 32u : 5u) << engine.training_path();
  }
}

TEST(GpuEngine, DrawnNoiseAndWholeEpochsMatchTheCpuEngine) {
  VAEAD_REQUIRE_GPU();
  const EngineConfig config = odd_config(4, 64);  // 1000 rows: 15 full batches and one of 40
  cpu::CpuModel<float> reference(config);
  cuda::CudaEngine engine(config);
  const auto rows = random_matrix<float>(1000, 13, 3);
  reference.set_training_data(rows);
  engine.set_training_data(rows);
  for (int epoch = 0; epoch < 3; ++epoch) {
    const EpochResult want = reference.train_epoch(epoch, 0.5 * epoch);
    const EpochResult got = engine.train_epoch(epoch, 0.5 * epoch);
    EXPECT_EQ(got.steps, want.steps);
    EXPECT_FALSE(got.non_finite.has_value());
    EXPECT_NEAR(got.mean.loss, want.mean.loss, kLossRelative * want.mean.loss) << "epoch " << epoch;
    EXPECT_NEAR(got.mean.reconstruction, want.mean.reconstruction,
                kLossRelative * want.mean.reconstruction);
  }
  EXPECT_TRUE(
      all_close(engine.parameters(), reference.parameters(), kParamAbsolute, kParamRelative));
}

TEST(GpuEngine, SameSeedTwiceGivesIdenticalBits) {
  VAEAD_REQUIRE_GPU();
  const EngineConfig config = odd_config(8, 100);
  const auto rows = random_matrix<float>(950, 13, 4);
  std::vector<float> first;
  std::vector<double> losses;
  for (int run = 0; run < 2; ++run) {
    cuda::CudaEngine engine(config);
    engine.set_training_data(rows);
    for (int epoch = 0; epoch < 3; ++epoch) {
      const double loss = engine.train_epoch(epoch, 1.0).mean.loss;
      if (run == 0) {
        losses.push_back(loss);
      } else {
        EXPECT_EQ(loss, losses[static_cast<std::size_t>(epoch)]);
      }
    }
    if (run == 0) {
      first = engine.parameters();
    } else {
      EXPECT_EQ(engine.parameters(), first);
    }
  }
}

TEST(GpuEngine, NonFiniteLossIsReportedAtTheCpuEnginesStep) {
  VAEAD_REQUIRE_GPU();
  const EngineConfig config = odd_config(2, 50);
  auto rows = random_matrix<float>(500, 13, 5);
  rows(321, 4) = INFINITY;
  cpu::CpuModel<float> reference(config);
  cuda::CudaEngine engine(config);
  reference.set_training_data(rows);
  engine.set_training_data(rows);
  const EpochResult want = reference.train_epoch(0, 1.0);
  const EpochResult got = engine.train_epoch(0, 1.0);
  ASSERT_TRUE(want.non_finite.has_value());
  ASSERT_TRUE(got.non_finite.has_value());
  EXPECT_EQ(got.non_finite->step, want.non_finite->step);
  EXPECT_EQ(got.non_finite->quantity, "loss");
  EXPECT_EQ(got.steps, want.steps);
  EXPECT_TRUE(
      all_close(engine.parameters(), reference.parameters(), kParamAbsolute, kParamRelative));
}

// A refused step (non-finite loss) takes no Adam step and draws no noise on either engine, so
// training that goes on afterwards draws the same noise and lands on the same parameters.
TEST(GpuEngine, AfterARefusedStepTheCountersMatchTheCpuEngine) {
  VAEAD_REQUIRE_GPU();
  const EngineConfig config = odd_config(3, 50);
  auto bad = random_matrix<float>(500, 13, 5);
  bad(123, 7) = INFINITY;
  const auto good = random_matrix<float>(500, 13, 6);
  cpu::CpuModel<float> reference(config);
  cuda::CudaEngine engine(config);
  reference.set_training_data(bad);
  engine.set_training_data(bad);
  ASSERT_TRUE(reference.train_epoch(0, 1.0).non_finite.has_value());
  ASSERT_TRUE(engine.train_epoch(0, 1.0).non_finite.has_value());
  reference.set_training_data(good);
  engine.set_training_data(good);
  for (int epoch = 1; epoch < 3; ++epoch) {
    const EpochResult want = reference.train_epoch(epoch, 1.0);
    const EpochResult got = engine.train_epoch(epoch, 1.0);
    EXPECT_NEAR(got.mean.loss, want.mean.loss, kLossRelative * want.mean.loss) << "epoch " << epoch;
  }
  EXPECT_TRUE(
      all_close(engine.parameters(), reference.parameters(), kParamAbsolute, kParamRelative));
  // The same through train_step: a non-finite batch changes nothing, on either engine.
  auto batch = random_matrix<float>(50, 13, 7);
  const std::vector<float> before = reference.parameters();
  batch(3, 3) = NAN;
  reference.train_step(batch, nullptr, 1.0);
  engine.train_step(batch, nullptr, 1.0);
  EXPECT_EQ(reference.parameters(), before);
  EXPECT_TRUE(all_close(engine.parameters(), before, kParamAbsolute, kParamRelative));
  batch(3, 3) = 0.5f;
  reference.train_step(batch, nullptr, 1.0);
  engine.train_step(batch, nullptr, 1.0);
  EXPECT_TRUE(
      all_close(engine.parameters(), reference.parameters(), kParamAbsolute, kParamRelative));
}

// The engine's stream does not synchronize with the legacy default stream.
TEST(GpuEngine, StreamIsNonBlocking) {
  VAEAD_REQUIRE_GPU();
  cuda::CudaEngine engine(odd_config(2, 16));
  unsigned flags = 0;
  ASSERT_EQ(cudaStreamGetFlags(engine.stream(), &flags), cudaSuccess);
  EXPECT_EQ(flags, cudaStreamNonBlocking);
}

TEST(GpuEngine, ScoresMatchTheCpuEngine) {
  VAEAD_REQUIRE_GPU();
  const EngineConfig config = odd_config(5, 64);
  cpu::CpuModel<float> reference(config);
  cuda::CudaEngine engine(config);
  const auto rows = random_matrix<float>(20001, 13, 6);  // more than one scoring chunk
  std::vector<float> want(rows.rows), got(rows.rows);
  Matrix want_errors, got_errors;
  reference.score(rows, want, &want_errors);
  engine.score(rows, got, &got_errors);
  EXPECT_TRUE(all_close(got, want, 1e-6, 1e-5));
  EXPECT_TRUE(all_close(got_errors.values, want_errors.values, 1e-6, 1e-4));
}

TEST(GpuEngine, DeviceSyntheticSplitsAreTheCpuGeneratorsSplits) {
  VAEAD_REQUIRE_GPU();
  SyntheticConfig data;
  data.train_rows = 3000;
  data.validation_rows = 1000;
  data.test_rows = 2000;
  data.seed = 17;
  EngineConfig config;
  config.architecture.latent_dim = 4;
  cpu::CpuEngine reference(config);
  cuda::CudaEngine engine(config);
  const ResidentSplits want = reference.load_synthetic(data);
  const ResidentSplits got = engine.load_synthetic(data);
  EXPECT_EQ(got.test_kinds, want.test_kinds);
  EXPECT_EQ(got.test_labels, want.test_labels);
  EXPECT_TRUE(all_close(got.standardizer.mean, want.standardizer.mean, 1e-6, 1e-6));
  EXPECT_TRUE(all_close(got.standardizer.scale, want.standardizer.scale, 1e-6, 1e-6));
  // Same parameters on the same standardized rows: the same scores.
  for (ResidentSplit split : {ResidentSplit::validation, ResidentSplit::test})
    EXPECT_TRUE(
        all_close(engine.score_resident(split), reference.score_resident(split), 1e-5, 1e-4));
}

TEST(GpuEngine, ExperimentOnTheDeviceMatchesTheCpuWithinTwoHundredths) {
  VAEAD_REQUIRE_GPU();
  ExperimentConfig config = testing::short_study(4000, 1500, 1500, 8);
  config.engine.gpu_math = testing::gpu_math_under_test();
  const RunResult cpu_run = run_once(config, {8, 1.0, 0});
  config.device = EngineKind::cuda;
  const RunResult gpu_run = run_once(config, {8, 1.0, 0});
  EXPECT_NEAR(gpu_run.roc_auc, cpu_run.roc_auc, 0.02);
  EXPECT_NEAR(gpu_run.pr_auc, cpu_run.pr_auc, 0.02);
  EXPECT_NEAR(gpu_run.training.epochs.back().mean.loss, cpu_run.training.epochs.back().mean.loss,
              1e-2 * cpu_run.training.epochs.back().mean.loss);
}

}  // namespace
}  // namespace vaead

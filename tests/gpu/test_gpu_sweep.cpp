// Many models in one CUDA engine: each model computes what it computes alone (padding to the
// largest latent size and its neighbours change nothing), the segmented AUC pass equals the CPU's
// metrics per model, and a whole sweep on the device agrees with the CPU sweep.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <new>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>

#include "auc.cuh"
#include "cuda/cuda_engine.hpp"
#include "cuda/engine_factory.hpp"
#include "device_buffer.cuh"
#include "gpu_support.hpp"
#include "test_support.hpp"
#include "vaead/detector/evaluate.hpp"
#include "vaead/detector/score.hpp"
#include "vaead/detector/train.hpp"
#include "vaead/eval/metrics.hpp"
#include "vaead/study/experiment.hpp"
#include "vaead/train/trainer.hpp"

namespace vaead {
namespace {

using testing::all_close;
using testing::random_matrix;

EngineConfig small_config() {
  EngineConfig config;
  config.architecture = Architecture{13, {40, 17}, 1, {9, 31}};
  config.batch_size = 96;
  config.gpu_math = testing::gpu_math_under_test();
  return config;
}

std::vector<float> trained_alone(const ModelSpec& spec, const Matrix& rows,
                                 std::span<const double> kl_per_epoch) {
  EngineConfig config = small_config();
  config.architecture.latent_dim = spec.latent_dim;
  config.seed = spec.seed;
  cuda::CudaEngine engine(config);
  engine.set_training_data(rows);
  for (std::size_t e = 0; e < kl_per_epoch.size(); ++e)
    EXPECT_FALSE(engine.train_epoch(static_cast<int>(e), kl_per_epoch[e]).non_finite);
  return engine.parameters();
}

TEST(GpuSweep, EachModelBesideOthersEqualsTheModelAlone) {
  VAEAD_REQUIRE_GPU();
  const Matrix rows = random_matrix<float>(500, 13, 5);  // 5 full batches and a partial one
  const std::vector<ModelSpec> specs = {{.latent_dim = 1, .seed = 3, .data_slot = 0},
                                        {.latent_dim = 8, .seed = 3, .data_slot = 0},
                                        {.latent_dim = 3, .seed = 4, .data_slot = 0},
                                        {.latent_dim = 8, .seed = 9, .data_slot = 0},
                                        {.latent_dim = 5, .seed = 4, .data_slot = 0}};
  const std::vector<double> betas = {1.0, 0.01, 0.5, 1.0, 0.1};
  cuda::CudaEngine engine(small_config(), specs, 1);
  engine.set_training_data(rows);
  std::vector<std::vector<double>> kl(specs.size());
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::vector<double> weights;
    for (std::size_t m = 0; m < specs.size(); ++m) {
      weights.push_back(betas[m] * epoch / 2.0);
      kl[m].push_back(weights.back());
    }
    for (const EpochResult& result : engine.train_epochs(epoch, weights))
      EXPECT_FALSE(result.non_finite);
  }
  for (std::size_t m = 0; m < specs.size(); ++m) {
    SCOPED_TRACE("model " + std::to_string(m) + ", latent " + std::to_string(specs[m].latent_dim));
    const std::vector<float> alone = trained_alone(specs[m], rows, kl[m]);
    // The same kernels on the same numbers, with only exact zeros added by the padding.
    EXPECT_TRUE(all_close(engine.parameters_of(static_cast<int>(m)), alone, 1e-6, 1e-5,
                          [](std::size_t i) { return std::to_string(i); }));
  }
  // Scores of every model at once equal each model's own.
  const Matrix probe = random_matrix<float>(300, 13, 6);
  const auto all = engine.score_models(probe);
  for (std::size_t m = 0; m < specs.size(); ++m) {
    EngineConfig config = small_config();
    config.architecture.latent_dim = specs[m].latent_dim;
    cuda::CudaEngine alone(config);
    alone.set_parameters(engine.parameters_of(static_cast<int>(m)));
    std::vector<float> scores(probe.rows);
    alone.score(probe, scores, nullptr);
    EXPECT_TRUE(all_close(all[m], scores, 1e-7, 1e-6,
                          [](std::size_t i) { return "row " + std::to_string(i); }))
        << "model " << m;
  }
}

TEST(GpuSweep, NeighboursCannotLeakIntoAModel) {
  VAEAD_REQUIRE_GPU();
  const Matrix rows = random_matrix<float>(300, 13, 7);
  const ModelSpec watched{.latent_dim = 2, .seed = 11, .data_slot = 0};
  const auto train = [&](std::vector<ModelSpec> specs, std::vector<double> weights) {
    cuda::CudaEngine engine(small_config(), specs, 1);
    engine.set_training_data(rows);
    for (int epoch = 0; epoch < 2; ++epoch)
      engine.train_epochs(epoch, weights);
    return engine.parameters_of(0);
  };
  // The watched model first; then wildly different neighbours (larger latents: more padding).
  const std::vector<float> a = train({watched, {1, 1, 0}}, {0.5, 0.5});
  const std::vector<float> b = train({watched, {16, 2, 0}, {7, 3, 0}}, {0.5, 5.0, 0.0});
  EXPECT_TRUE(all_close(a, b, 0.0, 1e-6, [](std::size_t i) { return std::to_string(i); }));
}

// A clamp that excludes 0 (logvar >= 0.5) puts the padded latents' logvar at 0.5, where their KL
// term is not 0: the model's KL must still count only its own latents.
TEST(GpuSweep, PaddedLatentsAddNoKlWhenTheClampExcludesZero) {
  VAEAD_REQUIRE_GPU();
  const Matrix rows = random_matrix<float>(300, 13, 8);
  for (const auto& [low, high] : {std::pair{0.5, 3.0}, std::pair{-4.0, -0.5}}) {
    SCOPED_TRACE("clamp [" + std::to_string(low) + ", " + std::to_string(high) + "]");
    EngineConfig config = small_config();
    config.logvar_min = low;
    config.logvar_max = high;
    const ModelSpec watched{.latent_dim = 2, .seed = 5, .data_slot = 0};
    cuda::CudaEngine both(config, {watched, {6, 7, 0}}, 1);
    both.set_training_data(rows);
    config.architecture.latent_dim = watched.latent_dim;
    config.seed = watched.seed;
    cuda::CudaEngine alone(config);
    alone.set_training_data(rows);
    for (int epoch = 0; epoch < 2; ++epoch) {
      const EpochResult beside = both.train_epochs(epoch, std::vector<double>{0.5, 0.5})[0];
      const EpochResult own = alone.train_epoch(epoch, 0.5);
      EXPECT_NEAR(beside.mean.kl, own.mean.kl, 1e-6 * std::abs(own.mean.kl)) << "epoch " << epoch;
      EXPECT_NEAR(beside.mean.loss, own.mean.loss, 1e-6 * std::abs(own.mean.loss));
    }
    EXPECT_TRUE(all_close(both.parameters_of(0), alone.parameters(), 1e-6, 1e-5));
  }
}

// One model whose training fails (beta 1e300 overflows its KL gradient from the second epoch) is
// reported as failed; the others finish as they would alone.
TEST(GpuSweep, AFailedModelIsReportedAndTheOthersFinish) {
  VAEAD_REQUIRE_GPU();
  ExperimentConfig config = testing::short_study(1500, 400, 600, 3);
  config.engine.gpu_math = testing::gpu_math_under_test();
  config.train.kl_warmup_epochs = 2;
  config.latent_dims = {2};
  config.betas = {1.0, 1e300};
  config.seed_count = 1;
  config.device = EngineKind::cuda;
  const ExperimentResult sweep = run_experiment(config);
  ASSERT_EQ(sweep.runs.size(), 2u);
  const RunResult& healthy = sweep.runs[0];
  const RunResult& failed = sweep.runs[1];
  EXPECT_TRUE(healthy.failure.empty()) << healthy.failure;
  EXPECT_NE(failed.failure.find("non-finite"), std::string::npos) << failed.failure;
  EXPECT_TRUE(std::isnan(failed.roc_auc));
  EXPECT_EQ(failed.training.epochs.size(), 1u) << "the epoch before the failure is kept";
  const RunResult alone = run_once(config, {2, 1.0, 0});
  EXPECT_NEAR(healthy.roc_auc, alone.roc_auc, 1e-6);
  EXPECT_EQ(healthy.training.epochs.size(), 3u);
}

TEST(GpuSweep, SegmentedAucEqualsCpuMetricsPerModel) {
  VAEAD_REQUIRE_GPU();
  const std::size_t segments = 6, n = 20000;
  std::vector<float> scores(segments * n);
  std::vector<std::uint8_t> labels(segments * n);
  for (std::size_t s = 0; s < segments; ++s)
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t k = s * n + i;
      labels[k] = (i * 7 + s) % 10 == 0 ? 1 : 0;
      // Rounded to 1/64: many ties, within and across classes; +0 and -0 in segment 2.
      const double value =
          std::round(64.0 * std::abs(std::sin(0.001 * i * (s + 1)) + (labels[k] ? 0.3 * s : 0.0))) /
          64.0;
      scores[k] = static_cast<float>(s == 2 && i % 2 == 0 ? -value : value);
    }
  for (std::size_t i = 0; i < n; ++i)
    labels[4 * n + i] = 0;             // segment 4: no anomaly
  scores[5 * n + 17] = std::nanf("");  // segment 5: a NaN score (a failed model)
  auto device_scores = testing::to_device(scores);
  auto device_labels = testing::to_device(labels);
  const auto metrics = cuda::device_ranking_metrics_segmented(
      device_scores.data(), device_labels.data(), segments, n, nullptr);
  ASSERT_EQ(metrics.size(), segments);
  for (std::size_t s = 0; s < segments; ++s) {
    const std::span<const float> seg_scores(scores.data() + s * n, n);
    const std::span<const std::uint8_t> seg_labels(labels.data() + s * n, n);
    if (s == 4 || s == 5) {
      EXPECT_TRUE(std::isnan(metrics[s].roc_auc)) << "segment " << s;
      EXPECT_TRUE(std::isnan(metrics[s].average_precision)) << "segment " << s;
      continue;
    }
    EXPECT_NEAR(metrics[s].roc_auc, roc_auc(seg_scores, seg_labels), 1e-12) << "segment " << s;
    EXPECT_NEAR(metrics[s].average_precision, average_precision(seg_scores, seg_labels), 1e-12)
        << "segment " << s;
  }
}

// The study of `config` on the CPU, then on the device (runs in the same order, as many).
std::pair<ExperimentResult, ExperimentResult> on_both_engines(ExperimentConfig config) {
  config.device = EngineKind::cpu;
  ExperimentResult cpu = run_experiment(config);
  config.device = EngineKind::cuda;
  ExperimentResult gpu = run_experiment(config);
  if (cpu.runs.size() != gpu.runs.size())  // the callers index both by the CPU's runs
    throw std::runtime_error("the engines gave " + std::to_string(cpu.runs.size()) + " and " +
                             std::to_string(gpu.runs.size()) + " runs");
  return {std::move(cpu), std::move(gpu)};
}

TEST(GpuSweep, DeviceSweepAgreesWithTheCpuSweep) {
  VAEAD_REQUIRE_GPU();
  ExperimentConfig config = testing::short_study(3000, 800, 1000, 8);
  config.engine.gpu_math = testing::gpu_math_under_test();
  config.train.kl_warmup_epochs = 3;
  config.latent_dims = {2, 8};
  config.betas = {1.0, 0.01};
  config.seed_count = 2;
  const auto [cpu, gpu] = on_both_engines(config);
  for (std::size_t i = 0; i < cpu.runs.size(); ++i) {
    SCOPED_TRACE("run " + std::to_string(i));
    EXPECT_EQ(gpu.runs[i].latent_dim, cpu.runs[i].latent_dim);
    EXPECT_EQ(gpu.runs[i].beta, cpu.runs[i].beta);
    EXPECT_NEAR(gpu.runs[i].training.epochs[0].mean.loss, cpu.runs[i].training.epochs[0].mean.loss,
                1e-3 * cpu.runs[i].training.epochs[0].mean.loss);
    EXPECT_NEAR(gpu.runs[i].roc_auc, cpu.runs[i].roc_auc, 0.02);
    EXPECT_NEAR(gpu.runs[i].validation_error, cpu.runs[i].validation_error,
                0.05 * cpu.runs[i].validation_error);
  }
}

// A table's labels are ranked against the scores where they live (uploaded once, beside the
// scores): the device's ROC-AUC and AP of each model are the CPU's.
TEST(GpuSweep, ATableStudyRanksItsLabelsOnTheDeviceAsTheCpuDoes) {
  VAEAD_REQUIRE_GPU();
  const Table table = testing::labelled_synthetic_table(2000, 600, 5);
  ExperimentConfig config = testing::short_study(0, 0, 0, 6);
  config.engine.gpu_math = testing::gpu_math_under_test();
  config.table = std::make_shared<TableSplits>(split_table(table, 0.2, 0.2, 0, 64));
  config.latent_dims = {2, 4};
  config.seed_count = 2;
  const auto [cpu, gpu] = on_both_engines(config);
  for (std::size_t i = 0; i < cpu.runs.size(); ++i) {
    SCOPED_TRACE("run " + std::to_string(i));
    ASSERT_TRUE(gpu.runs[i].labelled);
    EXPECT_GT(cpu.runs[i].roc_auc, 0.6);
    EXPECT_NEAR(gpu.runs[i].roc_auc, cpu.runs[i].roc_auc, 0.02);
    EXPECT_NEAR(gpu.runs[i].pr_auc, cpu.runs[i].pr_auc, 0.05);
  }
}

// train's ensemble goes through the sweep machinery: on the device its members train together, as
// the CPU's do apart, and agree with them; the device scores the file as the CPU does.
TEST(GpuSweep, AnEnsembleTrainsOnTheDeviceAsOnTheCpu) {
  VAEAD_REQUIRE_GPU();
  const Table table = testing::labelled_synthetic_table(1500, 500, 3);
  DetectorOptions options;
  options.batch_size = 128;
  options.epochs = 4;
  options.kl_warmup_epochs = 2;
  options.members = 3;  // betas 1, 0.1, 1
  options.engine.seed = 5;
  options.engine.gpu_math = testing::gpu_math_under_test();
  const TrainedDetector cpu = train_detector(table, options);
  options.device = EngineKind::cuda;
  const TrainedDetector gpu = train_detector(table, options);
  ASSERT_EQ(gpu.model.members(), 3u);
  EXPECT_EQ(gpu.model.member_seeds, cpu.model.member_seeds);
  EXPECT_EQ(gpu.model.member_betas, (std::vector<double>{1.0, 0.1, 1.0}));
  EXPECT_EQ(gpu.holdout_rows, cpu.holdout_rows);
  for (std::size_t k = 0; k < 3; ++k)
    EXPECT_NEAR(gpu.model.member_scales[k], cpu.model.member_scales[k],
                0.05 * cpu.model.member_scales[k])
        << "member " << k;
  const ScoredRows on_cpu =
      score_table(gpu.model, table, EngineKind::cpu, gpu.model.threshold_rule, false);
  const ScoredRows on_gpu =
      score_table(gpu.model, table, EngineKind::cuda, gpu.model.threshold_rule, false);
  EXPECT_TRUE(all_close(on_gpu.scores, on_cpu.scores, 1e-4, 1e-4));
  const ScoredRows cpu_model =
      score_table(cpu.model, table, EngineKind::cpu, cpu.model.threshold_rule, false);
  EXPECT_NEAR(evaluate_scores(on_gpu, table).roc_auc, evaluate_scores(cpu_model, table).roc_auc,
              0.02);
}

}  // namespace
}  // namespace vaead

namespace vaead {
namespace {

ExperimentConfig twelve_models() {
  ExperimentConfig config = testing::short_study(600, 200, 300, 2);
  config.device = EngineKind::cuda;
  config.engine.gpu_math = testing::gpu_math_under_test();
  config.engine.batch_size = 64;
  config.train.kl_warmup_epochs = 1;
  config.latent_dims = {2, 4, 6};
  config.betas = {1.0, 0.1};
  config.seed_count = 2;
  return config;
}

DataShape shape_of(const ExperimentConfig& config) {
  return {static_cast<std::size_t>(config.data.train_rows),
          static_cast<std::size_t>(config.data.validation_rows),
          static_cast<std::size_t>(config.data.test_rows), config.features()};
}

void expect_same_runs(const std::vector<RunResult>& a, const std::vector<RunResult>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("run " + std::to_string(i));
    EXPECT_EQ(a[i].parameters, b[i].parameters);
    EXPECT_EQ(a[i].validation_scores, b[i].validation_scores);
    EXPECT_EQ(a[i].roc_auc, b[i].roc_auc);
    EXPECT_EQ(a[i].threshold, b[i].threshold);
  }
}

// The device memory an engine of `count` models holds once it has trained and scored.
std::size_t bytes_held(const ExperimentConfig& config, std::size_t count) {
  std::size_t free_before = 0, free_after = 0, total = 0;
  EXPECT_EQ(cudaMemGetInfo(&free_before, &total), cudaSuccess);
  EngineConfig shared = config.engine;
  shared.architecture.input_dim = config.features();
  EngineModels models;
  std::vector<SyntheticConfig> slots;
  for (std::size_t m = 0; m < count; ++m) {
    models.specs.push_back({.latent_dim = 6, .seed = m, .data_slot = static_cast<int>(m)});
    slots.push_back(config.data_for(m));
  }
  models.data_slots = static_cast<int>(count);
  cuda::CudaEngine engine(shared, models.specs, models.data_slots);
  engine.load_synthetic_slots(slots);
  engine.train_epochs(0, std::vector<double>(count, 0.0));
  engine.score_resident_models(ResidentSplit::validation);
  engine.score_resident_models(ResidentSplit::test);
  engine.rank_last_scores({});
  EXPECT_EQ(cudaMemGetInfo(&free_after, &total), cudaSuccess);
  return free_before - free_after;
}

// A sweep trains in waves, model for model the same bits as in one wave. The footprint it sizes
// waves by holds what an engine of its models holds, and is not loose by more than half.
TEST(GpuSweep, WavesGiveTheSameBitsAndTheFootprintHoldsTheEngine) {
  VAEAD_REQUIRE_GPU();
  const ExperimentConfig config = twelve_models();
  const ExperimentResult whole = run_experiment(config);
  std::vector<std::size_t> every(12), waves;
  std::iota(every.begin(), every.end(), std::size_t{0});
  ExperimentCallbacks callbacks;
  callbacks.on_wave = [&](std::span<const std::size_t> indices, std::span<const RunResult>) {
    waves.push_back(indices.size());
  };
  expect_same_runs(run_waves(config, every, 5, callbacks), whole.runs);
  EXPECT_EQ(waves, (std::vector<std::size_t>{5, 5, 2}));

  EngineConfig widest = config.engine;
  widest.architecture.input_dim = config.features();
  widest.architecture.latent_dim = 6;
  const CudaFootprint footprint = cuda_footprint(widest, shape_of(config));
  const std::size_t one = bytes_held(config, 1), four = bytes_held(config, 4);
  EXPECT_LE(one, footprint.fixed + footprint.per_model);
  EXPECT_LE(four, footprint.fixed + 4 * footprint.per_model);
  const double per_model = static_cast<double>(four - one) / 3.0;
  EXPECT_GT(static_cast<double>(footprint.per_model), 0.5 * per_model);
  EXPECT_LT(static_cast<double>(footprint.per_model), 1.5 * per_model);
}

// Models stopped between epochs and set going again from their optimizer states in a new engine
// (padded latents; the tiled and the fused step) train to the bits of models never stopped.
TEST(GpuSweep, ATrainingResumedFromItsStateEqualsOneNeverStopped) {
  VAEAD_REQUIRE_GPU();
  const Matrix rows = testing::random_matrix<float>(300, 13, 12);
  const std::vector<ModelSpec> specs = {{.latent_dim = 2, .seed = 5, .data_slot = 0},
                                        {.latent_dim = 5, .seed = 6, .data_slot = 0}};
  std::vector<TrainConfig> schedules(2);
  for (TrainConfig& schedule : schedules) {
    schedule.epochs = 4;
    schedule.kl_warmup_epochs = 2;
  }
  for (const GpuMath math : {GpuMath::fp32, GpuMath::tf32x3}) {
    SCOPED_TRACE(gpu_math_name(math));
    EngineConfig config = small_config();
    config.gpu_math = math;
    cuda::CudaEngine whole(config, specs, 1), first(config, specs, 1), second(config, specs, 1);
    whole.set_training_data(rows);
    train_models(whole, schedules);
    first.set_training_data(rows);
    TrainingProgress stopped;
    std::vector<OptimizerState> states;
    train_models(first, schedules, {}, nullptr, [&](const TrainingProgress& progress) {
      if (progress.epochs_done != 2) return;
      stopped = progress;
      for (int m = 0; m < 2; ++m)
        states.push_back(first.optimizer_state(m));
    });
    second.set_training_data(rows);
    for (int m = 0; m < 2; ++m)
      second.set_optimizer_state(m, states[static_cast<std::size_t>(m)]);
    train_models(second, schedules, {}, &stopped);
    for (int m = 0; m < 2; ++m) {
      SCOPED_TRACE("model " + std::to_string(m));
      EXPECT_EQ(second.parameters_of(m), whole.parameters_of(m));
      const OptimizerState a = second.optimizer_state(m), b = whole.optimizer_state(m);
      EXPECT_EQ(a.first_moment, b.first_moment);
      EXPECT_EQ(a.second_moment, b.second_moment);
      EXPECT_EQ(a.steps, b.steps);
    }
  }
}

#if VAEAD_CUDA_EMULATED
// A sweep larger than the device's memory (the emulator's, made small) trains in waves sized to
// the free memory instead of failing; a wave asked for that does not fit is halved until it does.
TEST(GpuSweep, ASweepLargerThanTheDeviceTrainsInWavesThatFit) {
  const ExperimentConfig config = twelve_models();
  const ExperimentResult whole = run_experiment(config);  // 16 GiB: one wave
  EngineConfig widest = config.engine;
  widest.architecture.input_dim = config.features();
  widest.architecture.latent_dim = 6;
  const CudaFootprint footprint = cuda_footprint(widest, shape_of(config));
  // Room for three models and a half by the estimate, beside what stays allocated (the runtime's).
  std::size_t free = 0, total = 0;
  ASSERT_EQ(cudaMemGetInfo(&free, &total), cudaSuccess);
  const std::size_t memory =
      total - free + (footprint.fixed + footprint.per_model * 7 / 2) / 9 * 10 + 4096;
  ASSERT_EQ(setenv("VAEAD_EMU_DEVICE_MEMORY", std::to_string(memory).c_str(), 1), 0);
  EXPECT_EQ(models_at_once(config), 3u);
  std::vector<std::size_t> waves;
  ExperimentCallbacks callbacks;
  callbacks.on_wave = [&](std::span<const std::size_t> indices, std::span<const RunResult>) {
    waves.push_back(indices.size());
  };
  std::vector<std::size_t> every(12);
  std::iota(every.begin(), every.end(), std::size_t{0});
  expect_same_runs(run_waves(config, every, models_at_once(config), callbacks), whole.runs);
  EXPECT_EQ(waves, (std::vector<std::size_t>{3, 3, 3, 3}));
  expect_same_runs(run_experiment(config).runs, whole.runs);  // the sweep's own waves
  // A memory that holds three models' engine but not six: twelve asked for at once are halved
  // until a wave fits.
  ASSERT_EQ(unsetenv("VAEAD_EMU_DEVICE_MEMORY"), 0);
  const std::size_t three = bytes_held(config, 3), six = bytes_held(config, 6);
  ASSERT_EQ(setenv("VAEAD_EMU_DEVICE_MEMORY", std::to_string((three + six) / 2).c_str(), 1), 0);
  waves.clear();
  expect_same_runs(run_waves(config, every, 12, callbacks), whole.runs);
  ASSERT_FALSE(waves.empty());
  EXPECT_LE(waves.front(), 3u);
  EXPECT_EQ(std::accumulate(waves.begin(), waves.end(), std::size_t{0}), 12u);
  // Not one model fits: the device's error, not a loop.
  ASSERT_EQ(setenv("VAEAD_EMU_DEVICE_MEMORY", "64K", 1), 0);
  EXPECT_THROW(run_waves(config, every, 12), std::bad_alloc);
  ASSERT_EQ(unsetenv("VAEAD_EMU_DEVICE_MEMORY"), 0);
}
#endif

}  // namespace
}  // namespace vaead

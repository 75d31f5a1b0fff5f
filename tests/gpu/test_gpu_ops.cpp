// The VAE's own kernels against plain formulas evaluated on the host in double.
#include <gtest/gtest.h>

#include <climits>
#include <cmath>

#include "cuda/latent_padding.hpp"
#include "gpu_support.hpp"
#include "rows.cuh"
#include "test_support.hpp"
#include "vae_ops.cuh"
#include "vaead/model/model.hpp"
#include "vaead/philox.hpp"
#include "vaead/scorer.hpp"
#include "vaead/vae_elements.hpp"

namespace vaead {
namespace {

using testing::all_close;
using testing::random_matrix;
using testing::to_device;

// A device StepState with the given counters.
cuda::DeviceBuffer<cuda::StepState> device_state(long long global_step, int step_in_epoch,
                                                 double kl_weight) {
  return to_device(std::vector<cuda::StepState>{{global_step, step_in_epoch, kl_weight}});
}

TEST(GpuOps, EpsAreTheCpuEnginesDraws) {
  VAEAD_REQUIRE_GPU();
  for (int latent : {1, 3, 4, 7, 32}) {
    const int rows = 301;
    const long long step = 12345;
    auto state = device_state(step, 0, 0.0);
    cuda::DeviceBuffer<float> eps(static_cast<std::size_t>(rows) * latent);
    auto seed = to_device(std::vector<std::uint64_t>{99});
    auto own_latent = to_device(std::vector<int>{latent});
    cuda::draw_eps(cuda::ModelTable{1, seed.data(), own_latent.data()}, state.data(), rows, latent,
                   eps.data(), nullptr);
    const CounterRng rng{99, RandomStream::reparameterization};
    std::vector<float> expected;
    for (int r = 0; r < rows; ++r)
      for (int l = 0; l < latent; ++l) {
        double block[4];
        rng.normal4(static_cast<std::uint32_t>(l / 4), static_cast<std::uint32_t>(r),
                    static_cast<std::uint32_t>(step), block);
        expected.push_back(static_cast<float>(block[l % 4]));
      }
    // The same Philox counters and the same arithmetic (portable_math.hpp): the same bits.
    EXPECT_EQ(eps.to_host(nullptr), expected) << "latent " << latent;
  }
}

// The scoring kernel runs the Scorer's definition: the host's bits, row by row and feature by
// feature.
TEST(GpuOps, ReconstructionScoresAreTheScorersBits) {
  VAEAD_REQUIRE_GPU();
  for (int features : {1, 30, 33, 129}) {
    const int rows = 517;
    const Matrix x = random_matrix<float>(rows, static_cast<std::size_t>(features), 3);
    const Matrix x_hat = random_matrix<float>(rows, static_cast<std::size_t>(features), 4, 2.0);
    auto device_x = to_device(x.values), device_x_hat = to_device(x_hat.values);
    cuda::DeviceBuffer<float> scores(rows), errors(x.values.size());
    cuda::reconstruction_scores(device_x.data(), device_x_hat.data(), rows, features, scores.data(),
                                errors.data(), nullptr);
    const std::vector<float> got = scores.to_host(nullptr), got_errors = errors.to_host(nullptr);
    std::vector<float> want_errors(x.values.size());
    for (std::size_t r = 0; r < static_cast<std::size_t>(rows); ++r) {
      const std::size_t offset = r * static_cast<std::size_t>(features);
      EXPECT_EQ(got[r],
                reconstruction_score(x.row(r), x_hat.row(r), features, want_errors.data() + offset))
          << "row " << r << " of " << features << " features";
    }
    EXPECT_EQ(got_errors, want_errors);
  }
}

TEST(GpuOps, ReparameterizationForwardAndBackward) {
  VAEAD_REQUIRE_GPU();
  const int rows = 77, latent = 5, count = rows * latent;
  const auto mu = random_matrix<float>(rows, latent, 1);
  auto logvar_raw = random_matrix<float>(rows, latent, 2, 4.0);  // some beyond the clamp
  const auto eps = random_matrix<float>(rows, latent, 3);
  const auto grad_z = random_matrix<float>(rows, latent, 4);
  const float low = -3.0f, high = 2.5f;
  const double kl_weight = 0.7;
  auto dmu = to_device(mu.values), draw = to_device(logvar_raw.values),
       deps = to_device(eps.values);
  auto dgz = to_device(grad_z.values);
  cuda::DeviceBuffer<float> logvar(count), z(count), grad_mu(count), grad_logvar(count);
  cuda::reparameterize_forward(dmu.data(), draw.data(), deps.data(), rows, latent, low, high,
                               logvar.data(), z.data(), nullptr);
  auto state = device_state(0, 0, kl_weight);
  cuda::reparameterize_backward(dgz.data(), dmu.data(), logvar.data(), draw.data(), deps.data(), 1,
                                rows, latent, state.data(), low, high, grad_mu.data(),
                                grad_logvar.data(), nullptr);
  std::vector<double> want_z, want_gmu, want_glv;
  for (int i = 0; i < count; ++i) {
    const double raw = logvar_raw.values[i], lv = std::clamp(raw, double{low}, double{high});
    want_z.push_back(mu.values[i] + std::exp(lv / 2) * eps.values[i]);
    want_gmu.push_back(grad_z.values[i] + kl_weight / rows * mu.values[i]);
    want_glv.push_back(raw < low || raw > high
                           ? 0.0
                           : grad_z.values[i] * eps.values[i] * std::exp(lv / 2) / 2 +
                                 kl_weight / rows * (std::exp(lv) - 1) / 2);
  }
  EXPECT_TRUE(all_close(z.to_host(nullptr), want_z, 1e-6, 1e-5));
  EXPECT_TRUE(all_close(grad_mu.to_host(nullptr), want_gmu, 1e-7, 1e-5));
  EXPECT_TRUE(all_close(grad_logvar.to_host(nullptr), want_glv, 1e-7, 1e-5));
  // And bit for bit the CPU engine's element arithmetic (vaead/vae_elements.hpp).
  std::vector<float> cpu_z, cpu_glv;
  const float kl_scale = static_cast<float>(kl_weight / rows);
  for (int i = 0; i < count; ++i) {
    const float raw = logvar_raw.values[i], lv = elements::clamp_logvar(raw, low, high);
    cpu_z.push_back(elements::reparameterized(mu.values[i], lv, eps.values[i]));
    cpu_glv.push_back(elements::logvar_gradient(grad_z.values[i], eps.values[i], lv, kl_scale,
                                                raw >= low && raw <= high));
  }
  EXPECT_EQ(z.to_host(nullptr), cpu_z);
  EXPECT_EQ(grad_logvar.to_host(nullptr), cpu_glv);
}

TEST(GpuOps, FusedLossPartsAndGradientAndTheirSums) {
  VAEAD_REQUIRE_GPU();
  for (int features : {1, 30, 33, 100}) {
    const int rows = 513, latent = 6;
    const auto x = random_matrix<float>(rows, features, 5);
    const auto x_hat = random_matrix<float>(rows, features, 6);
    const auto mu = random_matrix<float>(rows, latent, 7);
    const auto logvar = random_matrix<float>(rows, latent, 8);
    auto dx = to_device(x.values), dxh = to_device(x_hat.values), dmu = to_device(mu.values);
    auto dlv = to_device(logvar.values);
    cuda::DeviceBuffer<double> recon(rows), kl(rows), totals(8);
    cuda::DeviceBuffer<float> grad(x.values.size());
    cuda::loss_forward_backward(dx.data(), dxh.data(), dmu.data(), dlv.data(), 1, rows, features,
                                latent, nullptr, recon.data(), kl.data(), grad.data(), nullptr);
    auto state = device_state(0, 3, 1.0);  // slot 3
    cuda::sum_loss_parts(recon.data(), kl.data(), 1, rows, state.data(), totals.data(), 8, nullptr);
    std::vector<double> want_recon, want_kl, want_grad;
    double recon_sum = 0, kl_sum = 0;
    for (int r = 0; r < rows; ++r) {
      double squared = 0, divergence = 0;
      for (int j = 0; j < features; ++j) {
        const double diff = static_cast<double>(x(r, j)) - x_hat(r, j);
        squared += diff * diff;
        want_grad.push_back(2.0 / rows * (x_hat(r, j) - x(r, j)));
      }
      for (int l = 0; l < latent; ++l) {  // in double, as the kernel sums it
        const double m = mu(r, l), lv = logvar(r, l);
        divergence += 1 + lv - m * m - std::exp(lv);
      }
      want_recon.push_back(squared);
      want_kl.push_back(-0.5 * divergence);
      recon_sum += squared;
      kl_sum += -0.5 * divergence;
    }
    EXPECT_TRUE(all_close(recon.to_host(nullptr), want_recon, 1e-12, 1e-12));
    EXPECT_TRUE(all_close(kl.to_host(nullptr), want_kl, 1e-12, 1e-12));
    EXPECT_TRUE(all_close(grad.to_host(nullptr), want_grad, 1e-7, 1e-6));
    const std::vector<double> got = totals.to_host(nullptr);
    EXPECT_NEAR(got[6], recon_sum, 1e-9 * recon_sum);
    EXPECT_NEAR(got[7], kl_sum, 1e-9 * std::abs(kl_sum));
  }
}

TEST(GpuOps, AdamMatchesTorchFormulaAndStopsAfterAFailure) {
  VAEAD_REQUIRE_GPU();
  const std::size_t count = 1000;
  const auto p = random_matrix<float>(1, count, 9), g = random_matrix<float>(1, count, 10);
  const auto m = random_matrix<float>(1, count, 11);
  auto v = random_matrix<float>(1, count, 12);
  for (float& value : v.values)
    value = value * value;
  auto dp = to_device(p.values), dg = to_device(g.values), dm = to_device(m.values);
  auto dv = to_device(v.values);
  auto state = device_state(6, 0, 0.0);  // t = 7
  auto status = to_device(std::vector<cuda::TrainingStatus>{{-1, 0, INT_MAX}});
  const cuda::AdamHyper hyper{0.01, 0.8, 0.95, 1e-6};
  cuda::adam_update(dp.data(), dg.data(), dm.data(), dv.data(), count, 1, hyper, state.data(),
                    status.data(), nullptr);
  std::vector<double> want;
  for (std::size_t i = 0; i < count; ++i) {
    const double m1 = 0.8 * m.values[i] + 0.2 * g.values[i];
    const double v1 = 0.95 * v.values[i] + 0.05 * g.values[i] * g.values[i];
    want.push_back(p.values[i] - 0.01 / (1 - std::pow(0.8, 7)) * m1 /
                                     (std::sqrt(v1) / std::sqrt(1 - std::pow(0.95, 7)) + 1e-6));
  }
  const std::vector<float> updated = dp.to_host(nullptr);
  EXPECT_TRUE(all_close(updated, want, 1e-6, 1e-5));
  // And bit for bit the CPU engine's update (vaead/vae_elements.hpp).
  const elements::AdamStep constants = elements::adam_step(0.01, 0.8, 0.95, 7);
  std::vector<float> cpu = p.values, cpu_m = m.values, cpu_v = v.values;
  for (std::size_t i = 0; i < count; ++i)
    elements::adam_element(g.values[i], 0.8f, 0.95f, static_cast<float>(constants.step_size),
                           static_cast<float>(constants.bias_correction2_sqrt), 1e-6f, &cpu[i],
                           &cpu_m[i], &cpu_v[i]);
  EXPECT_EQ(updated, cpu);
  EXPECT_EQ(dm.to_host(nullptr), cpu_m);
  EXPECT_EQ(dv.to_host(nullptr), cpu_v);
  // A recorded failure freezes every parameter.
  auto failed = to_device(std::vector<cuda::TrainingStatus>{{2, 1, INT_MAX}});
  cuda::adam_update(dp.data(), dg.data(), dm.data(), dv.data(), count, 1, hyper, state.data(),
                    failed.data(), nullptr);
  EXPECT_EQ(dp.to_host(nullptr), updated);
}

TEST(GpuOps, NonFiniteGuardNamesTheFirstStepAndTheSmallestIndex) {
  VAEAD_REQUIRE_GPU();
  std::vector<float> grads(5000, 0.5f);
  grads[3000] = std::nanf("");
  grads[77] = INFINITY;
  auto dg = to_device(grads);
  auto totals = to_device(std::vector<double>{1.0, 2.0, 3.0, 4.0});
  auto status = to_device(std::vector<cuda::TrainingStatus>{{-1, 0, INT_MAX}});
  auto step1 = device_state(10, 1, 1.0);
  cuda::check_finite(totals.data(), 4, dg.data(), grads.size(), 1, {}, nullptr, step1.data(),
                     status.data(), nullptr);
  cuda::TrainingStatus got = status.to_host(nullptr)[0];
  EXPECT_EQ(got.failed_step, 1);
  EXPECT_EQ(got.loss_non_finite, 0);
  EXPECT_EQ(got.bad_gradient, 77);
  // A later step cannot overwrite the report.
  grads[5] = std::nanf("");
  auto dg2 = to_device(grads);
  auto step2 = device_state(11, 2, 1.0);
  cuda::check_finite(totals.data(), 4, dg2.data(), grads.size(), 1, {}, nullptr, step2.data(),
                     status.data(), nullptr);
  got = status.to_host(nullptr)[0];
  EXPECT_EQ(got.failed_step, 1);
  EXPECT_EQ(got.bad_gradient, 77);
  // A non-finite loss total is reported as the loss.
  auto nan_totals = to_device(std::vector<double>{1.0, 2.0, std::nan(""), 4.0});
  auto fresh = to_device(std::vector<cuda::TrainingStatus>{{-1, 0, INT_MAX}});
  std::vector<float> finite(5000, 0.5f);
  auto dg3 = to_device(finite);
  cuda::check_finite(nan_totals.data(), 4, dg3.data(), finite.size(), 1, {}, nullptr, step1.data(),
                     fresh.data(), nullptr);
  got = fresh.to_host(nullptr)[0];
  EXPECT_EQ(got.failed_step, 1);
  EXPECT_EQ(got.loss_non_finite, 1);
}

// A model of latent 2 trained beside one of latent 4 has padded head rows and decoder columns;
// a non-finite gradient there is not the model's: the guard reports the first of its own.
TEST(GpuOps, NonFiniteGuardSkipsTheLatentPaddingOfASmallerModel) {
  VAEAD_REQUIRE_GPU();
  const ParameterLayout padded = make_layout(Architecture{5, {6}, 4, {3}});
  const cuda::LatentPadding padding = cuda::latent_padding(padded);
  std::vector<float> grads(2 * padded.size, 0.0f);                        // two models
  const std::size_t padded_row = padded.mu.weight_offset + 2 * 6 + 1;     // mu row 2: padding
  const std::size_t padded_column = padded.decoder[0].weight_offset + 3;  // decoder.0 [0][3]
  const std::size_t real = padded.decoder[0].weight_offset + 4 + 1;       // decoder.0 [1][1]
  for (std::size_t i : {padded_row, padded_column, real})
    grads[i] = std::nanf("");
  grads[padded.size + padded_row] = std::nanf("");  // model 1 (latent 4): row 2 is its own
  auto dg = to_device(grads);
  auto totals = to_device(std::vector<double>{1.0, 2.0, 1.0, 2.0});
  auto status = to_device(std::vector<cuda::TrainingStatus>(2, {-1, 0, INT_MAX}));
  auto state = to_device(std::vector<cuda::StepState>(2, {0, 0, 1.0}));
  auto latent = to_device(std::vector<int>{2, 4});
  cuda::check_finite(totals.data(), 2, dg.data(), padded.size, 2, padding, latent.data(),
                     state.data(), status.data(), nullptr);
  const std::vector<cuda::TrainingStatus> got = status.to_host(nullptr);
  EXPECT_EQ(got[0].bad_gradient, static_cast<int>(real));
  EXPECT_EQ(got[1].bad_gradient, static_cast<int>(padded_row));
  EXPECT_EQ(got[0].failed_step, 0);
}

}  // namespace
}  // namespace vaead

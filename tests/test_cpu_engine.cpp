// The CPU reference engine: the whole loss's gradient against central differences in double, Adam
// against a hand computation, and the properties the trainer relies on.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/cpu_engine.hpp"
#include "cpu/dense_ops.hpp"
#include "cpu/reference_ops.hpp"
#include "test_support.hpp"
#include "vaead/model/network_plan.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

using cpu::CpuModel;
using testing::all_close;
using testing::random_matrix;

// Bit for bit, where any NaN equals any NaN (a payload is not a result) and -0 differs from +0.
template <class T>
::testing::AssertionResult same_bits(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
    if (!both_nan && std::memcmp(&got[i], &want[i], sizeof(T)) != 0)
      return ::testing::AssertionFailure()
             << "element " << i << ": " << got[i] << " against " << want[i];
  }
  return ::testing::AssertionSuccess();
}

template <class T>
void expect_tiled_ops_equal_plain_loops() {
  const std::size_t widths[] = {1, 3, 7, 8, 9, 16, 30, 33, 64, 100};
  std::uint32_t seed = 1;
  // Up to 300 rows: the weight gradient's row blocks (kParamRowBlock) and a partial last one.
  for (std::size_t rows : {1, 5, 8, 13, 37, 129, 300})
    for (std::size_t in : widths)
      for (std::size_t out : widths) {
        SCOPED_TRACE("rows " + std::to_string(rows) + ", in " + std::to_string(in) + ", out " +
                     std::to_string(out));
        auto x = random_matrix<T>(rows, in, ++seed);
        const auto w = random_matrix<T>(out, in, ++seed);
        auto gy = random_matrix<T>(rows, out, ++seed);
        const auto mask = random_matrix<T>(rows, in, ++seed);
        const auto bias = random_matrix<T>(1, out, ++seed).values;
        // A NaN must stay NaN through the ReLU and its mask (the guard finds it in the loss); an
        // input row of zeros with a -0 bias sums to +0 or -0, whose sign the ReLU keeps as
        // std::max(sum, 0) does.
        if (rows > 4) {
          x(rows - 2, 0) = std::numeric_limits<T>::quiet_NaN();
          gy(rows - 3, 0) = std::numeric_limits<T>::quiet_NaN();
          std::fill(&x(rows - 1, 0), &x(rows - 1, 0) + in, T(0));
        }
        std::vector<T> signed_bias = bias;
        signed_bias[0] = -T(0);
        std::vector<T> wt(out * in);
        cpu::transpose_rows(w.data(), out, in, 0, in, wt.data());
        for (int threads : {1, 3}) {
          // Every loop split over the threads, however small (work_per_thread 1).
          cpu::WorkerPool pool(threads, 1.0);
          for (bool relu : {true, false}) {
            MatrixT<T> want(rows, out), got(rows, out);
            cpu::reference::linear_forward(x.data(), rows, in, w.data(), signed_bias.data(), out,
                                           relu, want.data());
            cpu::linear_forward(x.data(), rows, in, wt.data(), signed_bias.data(), out, relu,
                                got.data(), &pool);
            EXPECT_TRUE(same_bits(got.values, want.values))
                << "forward, relu " << relu << ", threads " << threads;
          }
          for (bool accumulate : {true, false})
            for (const MatrixT<T>* relu_output : {&mask, static_cast<const MatrixT<T>*>(nullptr)}) {
              MatrixT<T> gx_want = random_matrix<T>(rows, in, 99), gx_got = gx_want;
              if (!accumulate) std::fill(gx_want.values.begin(), gx_want.values.end(), T(0));
              cpu::reference::linear_backward_input(
                  gy.data(), rows, out, w.data(), in,
                  relu_output == nullptr ? nullptr : relu_output->data(), gx_want.data());
              cpu::linear_backward_input(gy.data(), rows, out, w.data(), in, accumulate,
                                         relu_output == nullptr ? nullptr : relu_output->data(),
                                         gx_got.data(), &pool);
              EXPECT_TRUE(same_bits(gx_got.values, gx_want.values))
                  << "backward input, accumulate " << accumulate << ", mask "
                  << (relu_output != nullptr) << ", threads " << threads;
            }

          MatrixT<T> gw_want(out, in), gw_got(out, in);
          std::vector<T> gb_want(out), gb_got(out);
          cpu::reference::linear_backward_params(gy.data(), x.data(), rows, in, out, gw_want.data(),
                                                 gb_want.data());
          cpu::linear_backward_params(gy.data(), x.data(), rows, in, out, gw_got.data(),
                                      gb_got.data(), &pool);
          EXPECT_TRUE(same_bits(gw_got.values, gw_want.values))
              << "backward params, threads " << threads;
          EXPECT_TRUE(same_bits(gb_got, gb_want)) << "bias gradient, threads " << threads;
        }
      }
}

TEST(CpuEngine, TiledLayerOpsEqualPlainLoopsBitForBit) {
  expect_tiled_ops_equal_plain_loops<float>();
  expect_tiled_ops_equal_plain_loops<double>();
}

EngineConfig small_config(int latent_dim) {
  EngineConfig config;
  config.architecture = Architecture{5, {7, 6, 4}, latent_dim, {3, 6}};
  config.seed = 11;
  config.threads = 2;
  return config;
}

// Every parameter's gradient against (L(p + h) - L(p - h)) / 2h, in double.
void check_gradients(CpuModel<double>& engine, const MatrixT<double>& x, const MatrixT<double>& eps,
                     double kl_weight) {
  engine.loss_and_gradients(x.data(), x.rows, eps.data(), kl_weight);
  const std::vector<double> analytic(engine.gradient_values().begin(),
                                     engine.gradient_values().end());
  std::vector<double> numeric(analytic.size());
  std::span<double> params = engine.parameter_values();
  constexpr double h = 1e-6;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const double saved = params[i];
    params[i] = saved + h;
    const double plus = engine.loss(x.data(), x.rows, eps.data(), kl_weight).loss;
    params[i] = saved - h;
    const double minus = engine.loss(x.data(), x.rows, eps.data(), kl_weight).loss;
    params[i] = saved;
    numeric[i] = (plus - minus) / (2 * h);
  }
  EXPECT_TRUE(all_close(analytic, numeric, 1e-7, 1e-6,
                        [&](std::size_t i) { return engine.layout().describe(i); }));
}

TEST(CpuEngineGradient, WholeLossMatchesCentralDifferencesForEveryParameter) {
  for (int latent : {1, 3, 6}) {
    CpuModel<double> engine(small_config(latent));
    const auto x = random_matrix<double>(9, 5, 100 + latent);
    const auto eps = random_matrix<double>(9, latent, 200 + latent);
    SCOPED_TRACE("latent " + std::to_string(latent));
    check_gradients(engine, x, eps, 0.7);
  }
}

TEST(CpuEngineGradient, ClampedLogvarPassesNoGradient) {
  EngineConfig config = small_config(2);
  config.logvar_max = 0.5;
  CpuModel<double> engine(config);
  // Push every logvar far above the clamp: its parameters must get exactly zero gradient.
  const LinearLayout& logvar = engine.layout().logvar;
  for (int o = 0; o < logvar.out; ++o)
    engine.parameter_values()[logvar.bias_offset + o] = 50.0;
  const auto x = random_matrix<double>(6, 5, 3);
  const auto eps = random_matrix<double>(6, 2, 4);
  check_gradients(engine, x, eps, 1.0);
  const std::size_t end = logvar.bias_offset + static_cast<std::size_t>(logvar.out);
  for (std::size_t i = logvar.weight_offset; i < end; ++i)
    EXPECT_EQ(engine.gradient_values()[i], 0.0) << engine.layout().describe(i);
}

TEST(CpuEngineGradient, FloatEngineAgreesWithDoubleEngine) {
  CpuModel<double> reference(small_config(3));
  CpuModel<float> engine(small_config(3));
  const auto x = random_matrix<float>(64, 5, 8);
  const auto eps = random_matrix<float>(64, 3, 9);
  MatrixT<double> x64(x.rows, x.cols), eps64(eps.rows, eps.cols);
  std::copy(x.values.begin(), x.values.end(), x64.values.begin());
  std::copy(eps.values.begin(), eps.values.end(), eps64.values.begin());
  const double expected = reference.loss_and_gradients(x64.data(), 64, eps64.data(), 0.5).loss;
  EXPECT_NEAR(engine.loss_and_gradients(x.data(), 64, eps.data(), 0.5).loss, expected,
              1e-5 * std::abs(expected));
  EXPECT_TRUE(all_close(engine.gradients(), reference.gradients(), 1e-6, 1e-4));
}

// torch.optim.Adam, written out for two steps with the gradients the engine reports.
TEST(CpuEngineAdam, TwoStepsMatchHandComputation) {
  EngineConfig config = small_config(2);
  config.adam = AdamConfig{0.01, 0.8, 0.95, 1e-6};
  CpuModel<double> engine(config);
  std::vector<double> p(engine.parameter_values().begin(), engine.parameter_values().end());
  std::vector<double> m(p.size(), 0.0), v(p.size(), 0.0);
  for (int t = 1; t <= 2; ++t) {
    const auto x = random_matrix<double>(5, 5, 30 + t);
    const auto eps = random_matrix<double>(5, 2, 40 + t);
    engine.loss_and_gradients(x.data(), 5, eps.data(), 1.0);
    const std::span<const double> g = engine.gradient_values();
    for (std::size_t i = 0; i < p.size(); ++i) {
      m[i] = 0.8 * m[i] + 0.2 * g[i];
      v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
      const double m_hat = m[i] / (1 - std::pow(0.8, t));
      const double v_hat = v[i] / (1 - std::pow(0.95, t));
      p[i] -= 0.01 * m_hat / (std::sqrt(v_hat) + 1e-6);
    }
    engine.adam_update();
    EXPECT_EQ(engine.steps_taken(), t);
    const std::vector<double> actual(engine.parameter_values().begin(),
                                     engine.parameter_values().end());
    EXPECT_TRUE(all_close(actual, p, 1e-13, 1e-11)) << "after step " << t;
  }
}

TEST(CpuEngine, FirstAdamStepWithDefaultsIsLearningRateTimesSignOfGradient) {
  // With m_hat = g and v_hat = g^2, step one is lr * g / (|g| + eps): about lr against the
  // gradient.
  CpuModel<double> engine(small_config(2));
  const std::vector<double> before(engine.parameter_values().begin(),
                                   engine.parameter_values().end());
  const auto x = random_matrix<double>(8, 5, 5);
  const auto eps = random_matrix<double>(8, 2, 6);
  engine.loss_and_gradients(x.data(), 8, eps.data(), 1.0);
  engine.adam_update();
  for (std::size_t i = 0; i < before.size(); ++i) {
    const double g = engine.gradient_values()[i];
    EXPECT_NEAR(engine.parameter_values()[i] - before[i], -1e-3 * g / (std::abs(g) + 1e-8), 1e-15)
        << engine.layout().describe(i);
  }
}

// The plan both engines walk: each Linear once forward and its gradient once backward, every
// buffer read after it was written (forward from x and eps, backward from the loss's gradient),
// and buffers wide enough for what the steps put in them.
TEST(NetworkPlan, EveryLayerOnceForwardAndBackwardAndNothingReadBeforeItIsWritten) {
  const ParameterLayout layout = make_layout(Architecture{7, {12, 5}, 3, {4, 9}});
  const NetworkPlan plan = make_plan(layout);
  std::vector<bool> written(plan.buffers.size(), false);
  written[static_cast<std::size_t>(plan.x)] = written[static_cast<std::size_t>(plan.eps)] = true;
  const auto read = [&](int id) {
    if (id < 0) return;
    EXPECT_TRUE(written[static_cast<std::size_t>(id)])
        << plan.buffers[static_cast<std::size_t>(id)].name;
  };
  const auto write = [&](int id, int width) {
    ASSERT_GE(id, 0);
    EXPECT_GE(plan.buffers[static_cast<std::size_t>(id)].width, width);
    written[static_cast<std::size_t>(id)] = true;
  };
  std::vector<int> forward(layout.layers().size(), 0), backward(layout.layers().size(), 0);
  for (const PlanStep& step : plan.forward) {
    if (step.op == PlanOp::reparameterize) {
      for (int id : {plan.mu, plan.logvar_raw})
        read(id);
      write(plan.logvar, 3);
      write(plan.z, 3);
      continue;
    }
    ASSERT_EQ(step.op, PlanOp::dense);
    ++forward[static_cast<std::size_t>(step.layer_index)];
    EXPECT_EQ(layout.layers()[static_cast<std::size_t>(step.layer_index)]->name, step.layer.name);
    read(step.input);
    EXPECT_EQ(plan.buffers[static_cast<std::size_t>(step.input)].width, step.layer.in);
    write(step.output, step.layer.out);
  }
  EXPECT_EQ(plan.x_hat, plan.forward.back().output);
  write(plan.grad_x_hat, 7);
  for (const PlanStep& step : plan.backward) {
    read(step.gradient);
    if (step.op == PlanOp::reparameterize_grad) {
      write(plan.grad_mu, 3);
      write(plan.grad_logvar, 3);
    } else if (step.op == PlanOp::dense_params_grad) {
      ++backward[static_cast<std::size_t>(step.layer_index)];
      read(step.input);
    } else {
      ASSERT_EQ(step.op, PlanOp::dense_input_grad);
      read(step.mask);
      if (step.accumulate) read(step.output);
      write(step.output, step.layer.in);
    }
  }
  for (std::size_t l = 0; l < forward.size(); ++l) {
    EXPECT_EQ(forward[l], 1) << layout.layers()[l]->name;
    EXPECT_EQ(backward[l], 1) << layout.layers()[l]->name;
  }
}

// The steps an engine may take as one product: the heads' forward, weight gradients and input
// gradients, each pair the same op on layers of one shape over one input.
TEST(NetworkPlan, OnlyTheHeadsArePairedAndEachPairSharesItsInput) {
  const ParameterLayout layout = make_layout(Architecture{7, {12, 5}, 3, {4, 9}});
  const NetworkPlan plan = make_plan(layout);
  std::vector<PlanOp> paired;
  for (const std::vector<PlanStep>* steps : {&plan.forward, &plan.backward})
    for (std::size_t i = 0; i < steps->size(); ++i) {
      const PlanStep& first = (*steps)[i];
      if (!first.with_next) continue;
      ASSERT_LT(i + 1, steps->size());
      const PlanStep& second = (*steps)[i + 1];
      EXPECT_FALSE(second.with_next);
      EXPECT_EQ(first.op, second.op);
      EXPECT_EQ(first.layer.name, "mu");
      EXPECT_EQ(second.layer.name, "logvar");
      EXPECT_EQ(first.layer.in, second.layer.in);
      EXPECT_EQ(first.layer.out, second.layer.out);
      if (first.op == PlanOp::dense_input_grad) {
        EXPECT_EQ(first.output, second.output);  // one sum, under the second's mask
        EXPECT_FALSE(first.accumulate);
        EXPECT_TRUE(second.accumulate);
        EXPECT_LT(first.mask, 0);
      } else {
        EXPECT_EQ(first.input, second.input);
        EXPECT_EQ(first.relu, second.relu);
      }
      paired.push_back(first.op);
    }
  EXPECT_EQ(paired, (std::vector<PlanOp>{PlanOp::dense, PlanOp::dense_params_grad,
                                         PlanOp::dense_input_grad}));
}

TEST(CpuEngine, LayoutFollowsPyTorchOrderAndNames) {
  const ParameterLayout layout = make_layout(Architecture{30, {128, 64}, 8, {64, 128}});
  const std::vector<const LinearLayout*> layers = layout.layers();
  const std::vector<std::string> names{"encoder.0", "encoder.2", "mu",       "logvar",
                                       "decoder.0", "decoder.2", "decoder.4"};
  ASSERT_EQ(layers.size(), names.size());
  std::size_t offset = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    EXPECT_EQ(layers[i]->name, names[i]);
    EXPECT_EQ(layers[i]->weight_offset, offset);
    offset = layers[i]->bias_offset + static_cast<std::size_t>(layers[i]->out);
  }
  // 30*128+128 + 128*64+64 + 2*(64*8+8) + 8*64+64 + 64*128+128 + 128*30+30
  EXPECT_EQ(layout.size, 3968u + 8256u + 1040u + 576u + 8320u + 3870u);
  EXPECT_EQ(layout.describe(3840), "encoder.0.bias[0]");
  EXPECT_EQ(layout.describe(3968 + 65), "encoder.2.weight[65]");
}

TEST(CpuEngine, InitializationIsPyTorchDefaultUniform) {
  const ParameterLayout layout = make_layout(Architecture{30, {128, 64}, 8, {64, 128}});
  const std::vector<float> p = initial_parameters(layout, 5);
  for (const LinearLayout* l : layout.layers()) {
    const double bound = 1.0 / std::sqrt(l->in);
    double sum_sq = 0.0;
    for (std::size_t i = l->weight_offset; i < l->bias_offset; ++i) {
      ASSERT_LE(std::abs(p[i]), bound) << layout.describe(i);
      sum_sq += p[i] * p[i];
    }
    // U(-b, b) has variance b^2 / 3.
    EXPECT_NEAR(sum_sq / l->weight_count(), bound * bound / 3, 0.15 * bound * bound / 3) << l->name;
  }
  EXPECT_EQ(p, initial_parameters(layout, 5));
  EXPECT_NE(p, initial_parameters(layout, 6));
}

TEST(CpuEngine, ScoresAreMeanSquaredErrorOfTheMeanReconstruction) {
  CpuModel<double> engine(small_config(3));
  const auto x = random_matrix<float>(10, 5, 12);
  std::vector<float> scores(10);
  Matrix per_feature;
  engine.score(x, scores, &per_feature);
  // Reconstruct through loss() with eps = 0 (z = mu): its reconstruction term is sum_j err^2.
  for (std::size_t r = 0; r < x.rows; ++r) {
    MatrixT<double> row(1, 5);
    std::copy(x.row(r), x.row(r) + 5, row.data());
    const MatrixT<double> zero_eps(1, 3);
    const double sum = engine.loss(row.data(), 1, zero_eps.data(), 0.0).reconstruction;
    EXPECT_NEAR(scores[r], sum / 5, 1e-6 * sum);
    double feature_sum = 0.0;
    for (std::size_t j = 0; j < 5; ++j)
      feature_sum += per_feature(r, j);
    EXPECT_NEAR(feature_sum, sum, 1e-5 * sum);
  }
}

TEST(CpuEngine, BitsDoNotDependOnTheThreadCount) {
  EngineConfig one = small_config(4), three = small_config(4);
  one.threads = 1;
  three.threads = 3;
  // Every loop of `b` split over its 3 threads, however small (work_per_thread 1).
  CpuModel<float> a(one), b(three, 1.0);
  const auto rows = random_matrix<float>(700, 5, 77);
  a.set_training_data(rows);
  b.set_training_data(rows);
  for (int epoch = 0; epoch < 3; ++epoch) {
    EXPECT_EQ(a.train_epoch(epoch, 0.5).mean.loss, b.train_epoch(epoch, 0.5).mean.loss);
  }
  EXPECT_EQ(a.parameters(), b.parameters());
}

// The default network at large batches: the forward pass's row blocks, the weight gradient's row
// blocks and groups of output tiles, split over 1, 2 and 3 threads (however small the loop).
// The default network (30 -> 128 -> 64 -> latent -> 64 -> 128 -> 30).
EngineConfig default_network(int latent_dim, int batch_size) {
  EngineConfig config;
  config.architecture.input_dim = 30;
  config.architecture.latent_dim = latent_dim;
  config.batch_size = batch_size;
  return config;
}

TEST(CpuEngine, BitsDoNotDependOnTheThreadCountAtLargeBatches) {
  EngineConfig config = default_network(16, 1000);
  const auto rows = random_matrix<float>(2500, 30, 78);
  std::vector<float> first;
  for (int threads : {1, 2, 3}) {
    config.threads = threads;
    CpuModel<float> model(config, 1.0);
    model.set_training_data(rows);
    const double loss = model.train_epoch(0, 0.5).mean.loss;
    EXPECT_TRUE(std::isfinite(loss));
    if (first.empty())
      first = model.parameters();
    else
      EXPECT_EQ(model.parameters(), first) << threads << " threads";
  }
}

// The backward pass goes through the layers a slice of rows at a time; the weight gradients add
// slice after slice, so the gradient (and the trained model) must not depend on the slices: one
// slice, slices of whole tiles, and slices that split tiles, on one and two threads.
TEST(CpuEngine, BitsDoNotDependOnTheBackwardSlices) {
  EngineConfig config = default_network(8, 600);
  const auto rows = random_matrix<float>(1300, 30, 79);
  const auto batch = random_matrix<float>(600, 30, 80);
  const auto eps = random_matrix<float>(600, 8, 81);
  std::vector<float> first_gradients, first_parameters;
  for (const std::size_t slice : {std::size_t{600}, std::size_t{256}, std::size_t{7}})
    for (int threads : {1, 2}) {
      SCOPED_TRACE("slice " + std::to_string(slice) + ", " + std::to_string(threads) + " threads");
      config.threads = threads;
      CpuModel<float> model(config, 1.0, slice);
      model.loss_and_gradients(batch.data(), batch.rows, eps.data(), 0.7);
      const std::vector<float> gradients = model.gradients();
      model.set_training_data(rows);
      EXPECT_TRUE(std::isfinite(model.train_epoch(0, 0.5).mean.loss));
      if (first_gradients.empty()) {
        first_gradients = gradients;
        first_parameters = model.parameters();
      } else {
        EXPECT_EQ(gradients, first_gradients);
        EXPECT_EQ(model.parameters(), first_parameters);
      }
    }
  EXPECT_THROW(CpuModel<float>(config, 1.0, 0), InputError);
}

TEST(CpuEngine, TrainStepIsGradientThenAdam) {
  CpuModel<float> stepped(small_config(2)), manual(small_config(2));
  const auto x = random_matrix<float>(16, 5, 1);
  const auto eps = random_matrix<float>(16, 2, 2);
  const LossParts parts = stepped.train_step(x, &eps, 0.3);
  const LossParts expected = manual.loss_and_gradients(x.data(), 16, eps.data(), 0.3);
  manual.adam_update();
  EXPECT_EQ(parts.loss, expected.loss);
  EXPECT_DOUBLE_EQ(parts.loss, parts.reconstruction + 0.3 * parts.kl);
  EXPECT_EQ(stepped.parameters(), manual.parameters());
  EXPECT_THROW(stepped.train_step(random_matrix<float>(4, 6, 1), nullptr, 1.0), InputError);
}

TEST(CpuEngine, NonFiniteLossStopsTheEpochBeforeAnyUpdate) {
  CpuModel<float> engine(small_config(2));
  auto rows = random_matrix<float>(100, 5, 1);
  rows(37, 2) = std::numeric_limits<float>::infinity();
  engine.set_training_data(rows);
  const std::vector<float> before = engine.parameters();
  const EpochResult result = engine.train_epoch(0, 1.0);  // one batch of all 100 rows
  ASSERT_TRUE(result.non_finite.has_value());
  EXPECT_EQ(result.non_finite->quantity, "loss");
  EXPECT_EQ(result.non_finite->step, 0);
  EXPECT_EQ(result.steps, 0);
  EXPECT_EQ(engine.parameters(), before);
}

}  // namespace
}  // namespace vaead

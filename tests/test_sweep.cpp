// Sweeps: concurrent models give exactly the single runs' results; summaries, the label-free
// choice, table splits and model files of a sweep.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "test_support.hpp"
#include "vaead/io/sweep_part.hpp"
#include "vaead/report/results_json.hpp"
#include "vaead/study/experiment.hpp"
#include "vaead/study/sweep_summary.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/version.hpp"

namespace vaead {
namespace {

ExperimentConfig tiny_sweep() {
  ExperimentConfig config = testing::short_study(600, 200, 300, 3);
  config.engine.architecture.encoder_hidden = {24, 12};
  config.engine.architecture.decoder_hidden = {12, 24};
  config.engine.batch_size = 64;
  config.train.kl_warmup_epochs = 2;
  config.latent_dims = {1, 3};  // mixed latent sizes
  config.betas = {1.0, 0.01};   // and betas
  config.seed_count = 2;
  config.engine.threads = 2;
  return config;
}

void expect_same_run(const RunResult& a, const RunResult& b) {
  EXPECT_EQ(a.latent_dim, b.latent_dim);
  EXPECT_EQ(a.beta, b.beta);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.parameters, b.parameters);  // bitwise
  EXPECT_EQ(a.validation_scores, b.validation_scores);
  EXPECT_EQ(a.roc_auc, b.roc_auc);
  EXPECT_EQ(a.pr_auc, b.pr_auc);
  EXPECT_EQ(a.validation_error, b.validation_error);
  EXPECT_EQ(a.threshold, b.threshold);
  ASSERT_EQ(a.training.epochs.size(), b.training.epochs.size());
  for (std::size_t e = 0; e < a.training.epochs.size(); ++e)
    EXPECT_EQ(a.training.epochs[e].mean.loss, b.training.epochs[e].mean.loss) << "epoch " << e;
}

TEST(Sweep, ConcurrentModelsMatchSingleRunsBitwise) {
  ExperimentConfig config = tiny_sweep();
  config.concurrency = 0;  // two at a time on two threads, one thread each
  const ExperimentResult sweep = run_experiment(config);
  const std::vector<SweepPoint> points = config.points();
  ASSERT_EQ(sweep.runs.size(), 8u);
  ExperimentConfig alone = tiny_sweep();  // each model alone, with both threads
  for (std::size_t i = 0; i < points.size(); ++i) {
    SCOPED_TRACE("latent " + std::to_string(points[i].latent_dim) + " beta " +
                 std::to_string(points[i].beta) + " seed " + std::to_string(points[i].seed));
    expect_same_run(sweep.runs[i], run_once(alone, points[i]));
  }
  // The betas really differ: the same latent size and seed end with different parameters.
  EXPECT_NE(sweep.runs[0].parameters, sweep.runs[2].parameters);
}

// One model whose training fails (beta 1e300: its KL gradient overflows once the warm-up gives it
// weight) is reported as failed, with the epochs it finished; the others finish as they would
// alone.
TEST(Sweep, AFailedModelIsReportedAndTheOthersFinish) {
  ExperimentConfig config = tiny_sweep();
  config.latent_dims = {3};
  config.betas = {1.0, 1e300};
  config.seed_count = 1;
  const ExperimentResult sweep = run_experiment(config);
  ASSERT_EQ(sweep.runs.size(), 2u);
  const RunResult& healthy = sweep.runs[0];
  const RunResult& failed = sweep.runs[1];
  EXPECT_TRUE(healthy.failure.empty()) << healthy.failure;
  expect_same_run(healthy, run_once(config, {3, 1.0, 0}));
  EXPECT_NE(failed.failure.find("non-finite gradient"), std::string::npos) << failed.failure;
  EXPECT_NE(failed.failure.find("epoch 2"), std::string::npos) << failed.failure;
  EXPECT_EQ(failed.training.epochs.size(), 1u) << "the epoch before the failure is kept";
  EXPECT_TRUE(std::isnan(failed.roc_auc));
  EXPECT_TRUE(std::isnan(failed.validation_error));
  // The summary counts the failure; the choices never pick a configuration whose runs all failed.
  const std::vector<SweepCell> cells = summarize_sweep(sweep);
  ASSERT_EQ(cells.size(), 2u);
  EXPECT_EQ(cells[0].runs, 1u);
  EXPECT_EQ(cells[1].runs, 0u);
  EXPECT_EQ(cells[1].failed, 1u);
  EXPECT_TRUE(std::isnan(cells[1].roc_auc.mean));
  const SweepChoice choice = choose_configuration(cells);
  EXPECT_EQ(choice.label_free, 0u);
  EXPECT_EQ(choice.best_roc_auc, std::optional<std::size_t>(0));
  const nlohmann::json json = nlohmann::json::parse(sweep_json(sweep, cells, choice));
  EXPECT_EQ(json["runs"][1]["failure"], failed.failure);
  EXPECT_EQ(json["cells"][1]["failed"], 1);
}

// A part carries every run exactly, a failed run's NaNs included, and parts merge back into
// points() order, whichever shares trained them.
TEST(SweepPart, PartsRoundTripExactlyAndMergeIntoTheSweep) {
  ExperimentConfig config = tiny_sweep();
  config.betas = {1.0, 1e300};  // one beta fails: NaN metrics must survive the trip
  const ExperimentResult whole = run_experiment(config);
  const std::vector<std::vector<std::size_t>> shares = assign_points(config, 3);
  std::vector<SweepPart> parts;
  std::vector<std::string> sources;
  for (std::size_t k = 0; k < shares.size(); ++k) {
    SweepPart part{std::string(version()),
                   k,
                   3,
                   {"--latents", "1,3"},
                   grid_description(config),
                   data_fingerprint(config),
                   EngineKind::cpu,
                   shares[k],
                   {},
                   1.5};
    for (std::size_t i : shares[k])
      part.runs.push_back(whole.runs[i]);
    const std::string text = serialize_part(part);
    parts.push_back(parse_part(text, "part" + std::to_string(k)));
    EXPECT_EQ(serialize_part(parts.back()), text);  // every field read back exactly
    EXPECT_EQ(parts.back().arguments, part.arguments);
    sources.push_back("part" + std::to_string(k));
  }
  const std::vector<RunResult> merged = merge_parts(parts, sources, config);
  ASSERT_EQ(merged.size(), whole.runs.size());
  for (std::size_t i = 0; i < merged.size(); ++i) {
    if (whole.runs[i].failure.empty()) expect_same_run(merged[i], whole.runs[i]);
    EXPECT_EQ(merged[i].parameters, whole.runs[i].parameters);
    EXPECT_EQ(merged[i].failure, whole.runs[i].failure);
    EXPECT_EQ(std::isnan(merged[i].roc_auc), std::isnan(whole.runs[i].roc_auc));
    EXPECT_EQ(merged[i].standardizer.mean, whole.runs[i].standardizer.mean);
    EXPECT_EQ(merged[i].histogram_counts, whole.runs[i].histogram_counts);
    EXPECT_EQ(merged[i].roc.x, whole.runs[i].roc.x);
  }
  ExperimentResult from_parts{config, merged};
  const std::vector<SweepCell> cells = summarize_sweep(whole);
  EXPECT_EQ(sweep_csv(summarize_sweep(from_parts)), sweep_csv(cells));
  EXPECT_THROW(parse_part("{\"kind\": \"sweep\"}", "x.json"), InputError);
}

TEST(SweepPart, SharesAreBalancedByCostAndCoverEveryPointOnce) {
  ExperimentConfig config = tiny_sweep();
  config.latent_dims = {1, 2, 4, 8, 16, 32};
  config.engine.architecture.encoder_hidden = {128, 64};
  config.engine.architecture.decoder_hidden = {64, 128};
  const std::size_t points = config.points().size();
  for (std::size_t shares : {1u, 2u, 3u, 5u, 40u}) {
    const auto assigned = assign_points(config, shares);
    ASSERT_EQ(assigned.size(), shares);
    std::vector<int> seen(points, 0);
    for (const auto& share : assigned) {
      EXPECT_TRUE(std::is_sorted(share.begin(), share.end()));
      for (std::size_t i : share)
        ++seen[i];
    }
    EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<long>(points)) << shares;
  }
  // Two shares of 24 models whose cost grows with the latent size: the work differs by less
  // than the cheapest model's, not by the count of models.
  const auto two = assign_points(config, 2);
  const std::vector<SweepPoint> all = config.points();
  double work[2] = {0, 0};
  for (int s = 0; s < 2; ++s)
    for (std::size_t i : two[s]) {
      Architecture a = config.engine.architecture;
      a.input_dim = config.features();
      a.latent_dim = all[i].latent_dim;
      work[s] += make_layout(a).training_flops_per_sample();
    }
  Architecture smallest = config.engine.architecture;
  smallest.input_dim = config.features();
  smallest.latent_dim = 1;
  EXPECT_LT(std::abs(work[0] - work[1]), make_layout(smallest).training_flops_per_sample() * 1.01);
}

TEST(Sweep, ResultsDoNotDependOnConcurrency) {
  ExperimentConfig config = tiny_sweep();
  config.latent_dims = {2};
  config.concurrency = 1;
  const ExperimentResult one_at_a_time = run_experiment(config);
  config.concurrency = 3;  // more workers than threads: each engine gets one thread
  const ExperimentResult three = run_experiment(config);
  ASSERT_EQ(one_at_a_time.runs.size(), three.runs.size());
  for (std::size_t i = 0; i < three.runs.size(); ++i)
    expect_same_run(one_at_a_time.runs[i], three.runs[i]);
}

TEST(Sweep, PointsAreLatentMajorThenBetaThenSeed) {
  ExperimentConfig config = tiny_sweep();
  const std::vector<SweepPoint> points = config.points();
  ASSERT_EQ(points.size(), 8u);
  EXPECT_EQ(points[0].latent_dim, 1);
  EXPECT_EQ(points[0].beta, 1.0);
  EXPECT_EQ(points[1].seed, 1u);
  EXPECT_EQ(points[2].beta, 0.01);
  EXPECT_EQ(points[4].latent_dim, 3);
  config.betas.clear();
  config.train.beta = 0.5;
  EXPECT_EQ(config.beta_values(), std::vector<double>{0.5});
}

TEST(Sweep, RefusesRepeatedOrNegativeBetas) {
  ExperimentConfig config = tiny_sweep();
  config.betas = {0.1, 0.1};
  EXPECT_THROW(run_experiment(config), InputError);
  config.betas = {-1.0};
  EXPECT_THROW(run_experiment(config), InputError);
}

RunResult fake_run(int latent, double beta, std::uint64_t seed, double auc, double error) {
  RunResult run;
  run.latent_dim = latent;
  run.beta = beta;
  run.seed = seed;
  run.roc_auc = auc;
  run.pr_auc = auc / 2;
  run.validation_error = error;
  return run;
}

TEST(Sweep, SummaryAndChoices) {
  ExperimentResult result;
  result.config.latent_dims = {2, 8};
  result.config.betas = {1.0, 0.1};
  result.config.seed_count = 2;
  // latent 2: beta 1 (0.70, 0.72; error 0.5), beta 0.1 (0.80, 0.84; error 0.40)
  // latent 8: beta 1 (0.90, 0.94; error 0.30), beta 0.1 (0.88, 0.86; error 0.20)
  const double table[4][4] = {{0.70, 0.72, 0.5, 0.5},
                              {0.80, 0.84, 0.4, 0.4},
                              {0.90, 0.94, 0.3, 0.3},
                              {0.88, 0.86, 0.2, 0.2}};
  for (int c = 0; c < 4; ++c)
    for (std::uint64_t s = 0; s < 2; ++s)
      result.runs.push_back(
          fake_run(c < 2 ? 2 : 8, c % 2 == 0 ? 1.0 : 0.1, s, table[c][s], table[c][2 + s]));
  const std::vector<SweepCell> cells = summarize_sweep(result);
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells[1].latent_dim, 2);
  EXPECT_EQ(cells[1].beta, 0.1);
  EXPECT_EQ(cells[1].runs, 2u);
  EXPECT_NEAR(cells[1].roc_auc.mean, 0.82, 1e-12);
  EXPECT_NEAR(cells[1].roc_auc.std, std::sqrt(0.0008), 1e-12);
  EXPECT_NEAR(cells[2].pr_auc.mean, 0.46, 1e-12);
  const SweepChoice choice = choose_configuration(cells);
  EXPECT_EQ(choice.label_free, 3u);  // lowest validation error
  ASSERT_TRUE(choice.best_roc_auc.has_value());
  EXPECT_EQ(*choice.best_roc_auc, 2u);  // highest mean ROC-AUC

  const nlohmann::json json = nlohmann::json::parse(sweep_json(result, cells, choice));
  EXPECT_EQ(json["kind"], "sweep");
  EXPECT_NEAR(json["grid"]["roc_auc_mean"][1][0].get<double>(), 0.92, 1e-12);  // latent 8, beta 1
  EXPECT_EQ(json["choice"]["label_free"]["latent_dim"], 8);
  EXPECT_EQ(json["choice"]["best_roc_auc"]["beta"], 1.0);
  const std::string csv = sweep_csv(cells);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  EXPECT_NE(csv.find("\n8,0.1,2,0.87,"), std::string::npos) << csv;

  for (RunResult& run : result.runs)
    run.roc_auc = std::nan("");  // no labels
  const SweepChoice unlabelled = choose_configuration(summarize_sweep(result));
  EXPECT_FALSE(unlabelled.best_roc_auc.has_value());
  EXPECT_EQ(unlabelled.label_free, 3u);
}

Table labelled_table(std::size_t normal, std::size_t anomalous) {
  Table table;
  table.source = "rows.csv";
  const std::size_t rows = normal + anomalous;
  table.data.features = Matrix(rows, 4);
  const std::size_t step = rows / anomalous;  // anomalies spread evenly: rows 1, 1 + step, ...
  for (std::size_t r = 0; r < rows; ++r) {
    const bool anomaly = r % step == 1 && r / step < anomalous;
    const double base = std::sin(0.37 * static_cast<double>(r));
    for (std::size_t c = 0; c < 4; ++c)
      table.data.features(r, c) = static_cast<float>(base * (c + 1) + (anomaly ? 4.0 * c : 0.0) +
                                                     0.05 * std::cos(1.3 * r * (c + 2)));
    table.data.labels.push_back(anomaly ? 1 : 0);
  }
  table.data.column_names = {"a", "b", "c", "d"};
  return table;
}

TEST(SweepTable, SplitsNormalRowsAndTestsEveryAnomaly) {
  const Table table = labelled_table(1000, 50);
  const std::size_t anomalies = table.data.count_label(1);
  ASSERT_EQ(anomalies, 50u);
  const TableSplits splits = split_table(table, 0.2, 0.1, 7, 64);
  const std::size_t normal = table.data.rows() - anomalies;
  EXPECT_EQ(splits.validation.rows, 200u);
  EXPECT_EQ(splits.test.rows, 100u + anomalies);
  EXPECT_EQ(splits.train.rows, normal - 300u);
  EXPECT_EQ(std::count(splits.test_labels.begin(), splits.test_labels.end(), 1),
            static_cast<std::ptrdiff_t>(anomalies));
  // Standardized with the training rows: their means are 0.
  for (std::size_t c = 0; c < 4; ++c) {
    double mean = 0.0;
    for (std::size_t r = 0; r < splits.train.rows; ++r)
      mean += splits.train(r, c);
    EXPECT_NEAR(mean / static_cast<double>(splits.train.rows), 0.0, 1e-5);
  }
  // The split depends on its seed.
  const TableSplits other = split_table(table, 0.2, 0.1, 8, 64);
  EXPECT_NE(other.validation.values, splits.validation.values);

  Table unlabelled = table;
  unlabelled.data.labels.clear();
  const TableSplits plain = split_table(unlabelled, 0.2, 0.1, 7, 64);
  EXPECT_EQ(plain.test.rows, 0u);
  EXPECT_EQ(plain.train.rows + plain.validation.rows, unlabelled.data.rows());

  try {
    split_table(table, 0.2, 0.1, 7, 4096);
    ADD_FAILURE() << "a split without one training batch was accepted";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("rows.csv"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("--batch-size"), std::string::npos) << error.what();
  }
}

// One configuration (latent 2, beta 1, two seeds) on `table`, split with seed 0.
ExperimentConfig table_sweep(const Table& table, int epochs) {
  ExperimentConfig config = tiny_sweep();
  config.table = std::make_shared<TableSplits>(split_table(table, 0.2, 0.2, 0, 64));
  config.latent_dims = {2};
  config.betas = {1.0};
  config.train.epochs = epochs;
  return config;
}

TEST(SweepTable, SweepOnATableFindsItsAnomaliesAndSavesScorableModels) {
  const Table table = labelled_table(1500, 60);
  const ExperimentConfig config = table_sweep(table, 6);
  const ExperimentResult result = run_experiment(config);
  ASSERT_EQ(result.runs.size(), 2u);
  for (const RunResult& run : result.runs) {
    EXPECT_GT(run.roc_auc, 0.9) << "seed " << run.seed;
    EXPECT_TRUE(std::isnan(run.per_kind_roc_auc[0]));  // a table has no kinds
  }
  // The model file of a run scores the validation rows exactly as the sweep did.
  const RunResult& run = result.runs[1];
  const ModelFile model = parse_model(serialize_model(model_of_run(config, run)), "memory");
  EXPECT_EQ(model.feature_names, table.data.column_names);
  EXPECT_EQ(model.engine.architecture.latent_dim, 2);
  EXPECT_EQ(model.engine.seed, 1u);
  EXPECT_EQ(model.holdout_scores, run.validation_scores);
  EXPECT_EQ(model.threshold, run.threshold);
  const std::unique_ptr<Engine> engine = make_engine(EngineKind::cpu, model.engine);
  engine->set_parameters(model.parameters);
  std::vector<float> scores(config.table->validation.rows);
  engine->score(config.table->validation, scores, nullptr);
  std::sort(scores.begin(), scores.end());
  EXPECT_EQ(scores, run.validation_scores);
}

// Without labels nothing at the threshold is measured: n/a (NaN, null in JSON), never 0.
TEST(SweepTable, WithoutLabelsPrecisionAndRecallAreNotApplicable) {
  Table table = labelled_table(600, 30);
  table.data.labels.clear();
  const ExperimentConfig config = table_sweep(table, 2);
  const ExperimentResult result = run_experiment(config);
  const std::vector<SweepCell> cells = summarize_sweep(result);
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(cells[0].runs, 2u);
  EXPECT_TRUE(std::isfinite(cells[0].validation_error.mean));
  for (const Spread* s : {&cells[0].roc_auc, &cells[0].precision, &cells[0].recall, &cells[0].f1})
    EXPECT_TRUE(std::isnan(s->mean));
  const nlohmann::json json =
      nlohmann::json::parse(sweep_json(result, cells, choose_configuration(cells)));
  for (const char* key : {"precision", "recall", "f1", "confusion"})
    EXPECT_TRUE(json["runs"][0][key].is_null()) << key;
  EXPECT_TRUE(json["cells"][0]["precision"]["mean"].is_null());
  // With labels they are measured.
  const ExperimentResult measured = run_experiment(table_sweep(labelled_table(600, 30), 2));
  EXPECT_TRUE(measured.runs[0].labelled);
  EXPECT_TRUE(std::isfinite(summarize_sweep(measured)[0].precision.mean));
}

TEST(SweepPadding, APaddedModelScoresExactlyAsTheModelAndUnpadsToItself) {
  // The padding the GPU sweep uses, checked with the CPU engine: a latent-3 model embedded in a
  // latent-8 network (zero head rows, zero decoder columns) scores every row exactly as before.
  EngineConfig small;
  small.architecture = Architecture{7, {16, 9}, 3, {9, 16}};
  small.threads = 1;
  EngineConfig large = small;
  large.architecture.latent_dim = 8;
  const ParameterLayout from = make_layout(small.architecture),
                        to = make_layout(large.architecture);
  const std::vector<float> own = initial_parameters(from, 5);
  const std::vector<float> padded = embed_parameters(from, to, own);
  ASSERT_EQ(padded.size(), to.size);
  // Indices move as the values do: each of the model's own lands where embed_parameters put its
  // value and comes back; an index of the padding has no place in the model.
  std::size_t padding = 0;
  for (std::size_t i = 0; i < to.size; ++i) {
    const std::optional<std::size_t> back = index_in_layout(to, i, from);
    if (!back) {
      ++padding;
      EXPECT_EQ(padded[i], 0.0f) << to.describe(i);
      continue;
    }
    EXPECT_EQ(own[*back], padded[i]) << to.describe(i);
    EXPECT_EQ(index_in_layout(from, *back, to), i);
  }
  EXPECT_EQ(padding, to.size - from.size);
  EXPECT_EQ(embed_parameters(to, from, padded), own);
  // The padding is zero: head rows 3..7 (weights and biases), decoder.0 columns 3..7.
  for (const LinearLayout* head : {&to.mu, &to.logvar})
    for (int o = 3; o < 8; ++o) {
      EXPECT_EQ(padded[head->bias_offset + o], 0.0f) << head->name;
      for (int i = 0; i < head->in; ++i)
        EXPECT_EQ(padded[head->weight_offset + static_cast<std::size_t>(o) * head->in + i], 0.0f)
            << head->name;
    }
  const LinearLayout& first = to.decoder[0];
  for (int o = 0; o < first.out; ++o)
    for (int l = 3; l < 8; ++l)
      EXPECT_EQ(padded[first.weight_offset + static_cast<std::size_t>(o) * first.in + l], 0.0f);
  const std::unique_ptr<Engine> a = make_engine(EngineKind::cpu, small);
  const std::unique_ptr<Engine> b = make_engine(EngineKind::cpu, large);
  a->set_parameters(own);
  b->set_parameters(padded);
  Matrix rows(50, 7);
  for (std::size_t i = 0; i < rows.values.size(); ++i)
    rows.values[i] = static_cast<float>(std::sin(0.7 * static_cast<double>(i)));
  std::vector<float> want(50), got(50);
  a->score(rows, want, nullptr);
  b->score(rows, got, nullptr);
  EXPECT_EQ(got, want);
  EXPECT_THROW(embed_parameters(from, to, padded), InputError);  // sizes are checked
}

}  // namespace
}  // namespace vaead

// The `vaead` binary as a user runs it: outputs, exit codes, and one-line errors.
#include <gtest/gtest.h>

#include "cli_support.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace {

using vaead::testing::Cli;
using vaead::testing::count_lines;
using vaead::testing::Result;
using vaead::testing::slurp;
namespace fs = std::filesystem;

TEST_F(Cli, GenerateWritesThreeCsvFilesWithLabelsAndKinds) {
  const Result r = run("generate --out " + (dir_ / "data").string() +
                       " --train-rows 100 --val-rows 50 --test-rows 60 --seed 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(slurp(dir_ / "data" / "train.csv")), 101u);
  EXPECT_EQ(count_lines(slurp(dir_ / "data" / "val.csv")), 51u);
  const std::string test = slurp(dir_ / "data" / "test.csv");
  EXPECT_EQ(count_lines(test), 61u);
  EXPECT_EQ(test.substr(0, 9), "x0,x1,x2,");
  EXPECT_NE(test.find(",x29,label,kind\n"), std::string::npos);
  std::size_t anomalies = 0;
  for (const char* kind : {",1,mean_shift\n", ",1,correlation_break\n", ",1,variance_explosion\n"})
    for (std::size_t at = test.find(kind); at != std::string::npos; at = test.find(kind, at + 1))
      ++anomalies;
  EXPECT_EQ(anomalies, 6u);
}

TEST_F(Cli, ExperimentPrintsTheTableAndWritesJson) {
  const fs::path json_path = dir_ / "result.json";
  const Result r =
      run("experiment --latents 2,4 --seeds 2 --epochs 2 --train-rows 600 "
          "--val-rows 200 --test-rows 300 --threads 1 --json " +
          json_path.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("ROC-AUC"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mean + 3 std of held-out normal scores (validation rows)"),
            std::string::npos)
      << r.out;
  const nlohmann::json json = nlohmann::json::parse(slurp(json_path));
  EXPECT_EQ(json["runs"].size(), 4u);
  EXPECT_EQ(json["config"]["latent_dims"], (std::vector<int>{2, 4}));
  EXPECT_EQ(json["config"]["training"]["threads"], 1);
  EXPECT_EQ(json["config"]["training"]["gpu_math"], "fp32");
  for (const auto& entry : fs::directory_iterator(dir_))  // no temporary file is left behind
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

// A model that fails is a warning and "failed" in the table; the others' results stand. When every
// model fails there is nothing to report: one line and exit 1.
TEST_F(Cli, FailedModelsAreReportedAndOnlyAllFailingIsAnError) {
  const std::string small =
      " --seeds 1 --epochs 3 --kl-warmup 2 --train-rows 600 --val-rows 200"
      " --test-rows 300 --threads 1 --batch-size 64";
  const Result sweep = run("sweep --latents 2 --betas 1,1e300" + small);
  ASSERT_EQ(sweep.exit_code, 0) << sweep.err;
  EXPECT_NE(sweep.out.find("(1 of 1 failed)"), std::string::npos) << sweep.out;
  EXPECT_NE(sweep.err.find("warning: the model with latent 2, beta 1e+300, seed 0 failed: "
                           "training stopped: non-finite gradient"),
            std::string::npos)
      << sweep.err;
  const Result all = run("experiment --latents 2 --beta 1e300" + small);
  EXPECT_EQ(all.exit_code, 1);
  EXPECT_NE(all.err.find("every model failed; the first: training stopped: non-finite"),
            std::string::npos)
      << all.err;
  EXPECT_EQ(all.out, "");
}

TEST_F(Cli, ConfigFileSetsFlags) {
  std::ofstream(dir_ / "study.toml") << "latents = [3]\nseeds = 1\nepochs = 1\ntrain-rows = 300\n"
                                        "val-rows = 100\ntest-rows = 100\nbeta = 0.5\n";
  const fs::path json_path = dir_ / "out.json";
  // The command line wins over the file.
  const Result r = run("experiment --config " + (dir_ / "study.toml").string() + " --json " +
                       json_path.string() + " --beta 0.25");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = nlohmann::json::parse(slurp(json_path));
  EXPECT_EQ(json["runs"][0]["latent_dim"], 3);
  EXPECT_EQ(json["config"]["data"]["train_rows"], 300);
  EXPECT_EQ(json["config"]["training"]["beta"], 0.25);
}

TEST_F(Cli, BadFlagsFailWithOneLineNamingFlagAndValue) {
  const std::pair<const char*, const char*> cases[] = {
      {"experiment --batch-size 0", "--batch-size: must be at least 1, got '0'"},
      {"experiment --latents 2,x", "--latents: must be a whole number, at least 1, got 'x'"},
      {"experiment --lr -0.5", "--lr: must be positive, got '-0.5'"},
      {"experiment --adam-beta2 1", "--adam-beta2: must be in [0, 1), got '1'"},
      {"experiment --no-such-flag", "--no-such-flag"},
      {"experiment --device gpu", "--device: must be auto, cpu or cuda, got 'gpu'"},
      // Every count has a ceiling (vaead/util/limits.hpp): none aborts or takes the machine's
      // memory.
      {"experiment --threads 1000000", "--threads: must be at most 1024, got '1000000'"},
      {"sweep --concurrency 5000", "--concurrency: must be at most 1024, got '5000'"},
      {"experiment --latents 2,100000", "--latents: must be at most 16384, got '100000'"},
      {"experiment --encoder-hidden 2147483647",
       "--encoder-hidden: must be at most 16384, got '2147483647'"},
      {"experiment --epochs 2000000000", "--epochs: must be at most 1000000, got '2000000000'"},
      {"experiment --batch-size 99999999", "--batch-size: must be at most 16777216"},
      {"sweep --seeds 20000", "--seeds: must be at most 10000, got '20000'"},
      {"generate --out x --train-rows 2000000000", "--train-rows: must be at most 100000000"},
      {"generate --out x --features 99999", "--features: must be at most 16384, got '99999'"},
      {"generate --out x --noise-std 1e300", "--noise-std: must be from 0 to 1e6, got '1e300'"},
      {"train --data x.csv --out m --steps 3000000000", "--steps: must be at most 1000000000"},
      {"train --data x.csv --out m --kl-warmup 9999999", "--kl-warmup: must be at most 1000000"},
      {"train --data x.csv --out m --checkpoint-every 0", "--checkpoint-every: must be at least 1"},
      {"", "A subcommand is required"},
  };
  for (const auto& [arguments, message] : cases) {
    const Result r = run(arguments);
    EXPECT_EQ(r.exit_code, 2) << arguments;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
}

// A configuration file is a page of flags: one nested thousands of tables deep (whose parsing
// took memory as the square of the depth) or larger than 1 MiB is refused before it is parsed.
TEST_F(Cli, ConfigFilesAreLimitedInDepthAndSize) {
  std::string deep = "[sweep";
  for (int level = 0; level < 50000; ++level)
    deep += ".a";
  deep += "]\nepochs = 1\n";
  const Result nested = run("sweep --config " + file("deep.toml", deep));
  EXPECT_EQ(nested.exit_code, 2);
  EXPECT_NE(nested.err.find("line 1: a name nested 50001 levels deep"), std::string::npos)
      << nested.err;
  const Result dotted = run("sweep --config " + file("key.toml", "# flags\na.b.c.d.e = 1\n"));
  EXPECT_EQ(dotted.exit_code, 2);
  EXPECT_NE(dotted.err.find("line 2: a name nested 5 levels deep"), std::string::npos)
      << dotted.err;
  const Result large = run("sweep --config " + file("large.toml", std::string(2 << 20, '#')));
  EXPECT_EQ(large.exit_code, 2);
  EXPECT_NE(large.err.find("2097152 bytes; a flags file may hold at most 1 MiB"), std::string::npos)
      << large.err;
  // What the file format allows within the limits still reads.
  const Result fine =
      run("sweep --config " + file("fine.toml", "[sweep]\nlatents = [2]\nseeds = 1\nepochs = 1\n") +
          " --train-rows 100 --val-rows 20 --test-rows 20 --device cpu");
  EXPECT_EQ(fine.exit_code, 0) << fine.err;
}

TEST_F(Cli, ConfigFileWithUnknownKeyIsRefused) {
  std::ofstream(dir_ / "bad.toml") << "latents = [3]\nbatch_sise = 12\n";
  const Result r = run("experiment --config " + (dir_ / "bad.toml").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown key 'batch_sise'"), std::string::npos) << r.err;
}

TEST_F(Cli, UnwritableJsonPathFailsBeforeTrainingWithOneLine) {
  const std::string target = (dir_ / "missing" / "out.json").string();
  const Result r = run("experiment --json " + target);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(target), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(Cli, InvalidSyntheticConfigurationIsOneLine) {
  const Result r = run("generate --out " + dir_.string() + " --shift-features 40");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("40"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "train.csv"));
}

TEST_F(Cli, DeviceCudaWithoutAGpuIsOneLineBeforeAnyWork) {
  const std::string no_emulated_device = "VAEAD_EMU_NO_DEVICE=1 ";  // the emulated build's GPU
  if (run("info", no_emulated_device).out.find("GPU 0: ") != std::string::npos)
    GTEST_SKIP() << "this machine has a GPU: --device cuda is valid here";
  const Result r = run("experiment --device cuda", no_emulated_device);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("--device cuda: "), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(Cli, InfoNamesVersionAndCuda) {
  const Result r = run("info");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("vaead 0."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CUDA support: "), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.find("GPU 0: ") != std::string::npos ||
              r.out.find("no CUDA") != std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("--device auto runs on: "), std::string::npos) << r.out;
}

}  // namespace

namespace {

using vaead::testing::Cli;
using vaead::testing::count_lines;
using vaead::testing::Result;
namespace fs = std::filesystem;

TEST_F(Cli, ReportWritesFiguresAndOnePage) {
  if (std::system("python3 -c 'import matplotlib' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with matplotlib is not installed (pip install matplotlib)";
  const Result r =
      run("experiment --latents 2,4 --seeds 2 --epochs 2 --train-rows 800 "
          "--val-rows 300 --test-rows 400 --report " +
          (dir_ / "report").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("report: " + (dir_ / "report" / "report.html").string()), std::string::npos)
      << r.out;
  for (const char* name : {"experiment.json", "report.html", "roc_pr_curves.png",
                           "score_histograms.png", "training_curves.png", "latent_study.png"})
    EXPECT_TRUE(fs::exists(dir_ / "report" / name)) << name;
}

TEST_F(Cli, ReportWithoutMatplotlibSaysHowToInstallIt) {
  // A python3 without matplotlib, first on PATH.
  fs::create_directories(dir_ / "bin");
  file("bin/python3", "#!/bin/sh\nexit 1\n");
  fs::permissions(dir_ / "bin" / "python3", fs::perms::owner_all);
  const Result r =
      run("experiment --latents 2 --seeds 1 --epochs 1 --train-rows 300 "
          "--val-rows 100 --test-rows 100 --report " +
              (dir_ / "report").string(),
          "PATH=" + (dir_ / "bin").string() + ":$PATH ");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("--report needs Python 3 with matplotlib (pip install matplotlib); the "
                       "results are in " +
                       (dir_ / "report" / "experiment.json").string()),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "report" / "experiment.json"));
}

}  // namespace

namespace {

// What a run's JSON holds that is a measurement of time, not a result.
void drop_timings(nlohmann::json& json) {
  for (auto& run : json["runs"]) {
    run.erase("train_seconds");
    run.erase("samples_per_second");
    for (auto& epoch : run["epochs"])
      epoch.erase("seconds");
  }
}

// The seed study is the project's reference: `vaead experiment` with its defaults gives the JSON
// in tests/data/seed_study_default.json (its timings dropped), bit for bit, whatever defaults
// `train` gained since. Made by tests/data/make_golden.sh with the portable build (the project's
// own log, exp, sin and cos, no contraction): the same bits on any x86-64 machine, from GCC or
// Clang, for any -march and thread count (scripts/compare_builds.sh proves it in CI).
TEST_F(Cli, SeedStudyWithItsDefaultsGivesTheSameJsonAsBefore) {
  const fs::path json_path = dir_ / "study.json";
  const Result r = run("experiment --device cpu --json " + json_path.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json now = nlohmann::json::parse(slurp(json_path));
  drop_timings(now);
  const nlohmann::json before = nlohmann::json::parse(
      slurp(fs::path(VAEAD_SOURCE_DIR) / "tests" / "data" / "seed_study_default.json"));
  ASSERT_EQ(now["runs"].size(), before["runs"].size());
  for (std::size_t i = 0; i < before["runs"].size(); ++i)
    EXPECT_EQ(now["runs"][i], before["runs"][i]) << "run " << i;
  now.erase("runs");
  nlohmann::json config = before;
  config.erase("runs");
  EXPECT_EQ(now, config);
}

// A sweep's metrics stay what they were: the runs and cells of two sweeps, on generated data and on
// a table, as tests/data/make_golden.sh wrote them (tests/data/sweep_before_*.json: timings, curves
// and histograms dropped, the last epoch kept); first made before the architectures became
// configurable, remade by the portable build.
TEST_F(Cli, SweepsGiveTheSameMetricsAsBefore) {
  const Result generated = run("generate --out " + (dir_ / "d").string() +
                               " --train-rows 100 --val-rows 100 --test-rows 2500 --seed 9");
  ASSERT_EQ(generated.exit_code, 0) << generated.err;
  const std::pair<std::string, std::string> sweeps[] = {
      {"synthetic",
       "--latents 2,8 --betas 1,0.01 --seeds 2 --epochs 4 --train-rows 2000 "
       "--val-rows 500 --test-rows 500"},
      {"table", "--data " + (dir_ / "d" / "test.csv").string() +
                    " --label-column label --latents 3 --betas 1,0.1 --seeds 2"},
  };
  for (const auto& [name, flags] : sweeps) {
    const fs::path json_path = dir_ / (name + ".json");
    const Result r = run("sweep --device cpu " + flags + " --json " + json_path.string());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    nlohmann::json now = nlohmann::json::parse(slurp(json_path));
    const nlohmann::json before = nlohmann::json::parse(
        slurp(fs::path(VAEAD_SOURCE_DIR) / "tests" / "data" / ("sweep_before_" + name + ".json")));
    EXPECT_EQ(now["cells"], before["cells"]) << name;
    ASSERT_EQ(now["runs"].size(), before["runs"].size()) << name;
    for (std::size_t i = 0; i < before["runs"].size(); ++i) {
      nlohmann::json& run_now = now["runs"][i];
      for (const char* key :
           {"train_seconds", "samples_per_second", "roc_curve", "pr_curve", "score_histogram"})
        run_now.erase(key);
      nlohmann::json last = run_now["epochs"].back();
      last.erase("seconds");
      run_now["epochs"] = nlohmann::json::array({last});
      EXPECT_EQ(run_now, before["runs"][i]) << name << " run " << i;
    }
  }
}

}  // namespace

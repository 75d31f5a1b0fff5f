// train, score and evaluate as a user runs them, and one clear line (with the right exit code,
// and no output destroyed) for every bad input the README promises to refuse.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace {

using vaead::testing::Cli;
using vaead::testing::CliData;
using vaead::testing::count_lines;
using vaead::testing::Result;
using vaead::testing::slurp;
namespace fs = std::filesystem;

TEST_F(CliData, TrainScoreEvaluateAsTheReadmeShows) {
  make_data_and_model();
  Result r = run("score --model " + path("model.safetensors") + " --data " + path("test.csv") +
                 " --label-column label --out " + path("scores.csv") + " --per-feature --top 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("scored 800 rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("most anomalous rows"), std::string::npos) << r.out;
  const std::string scores = slurp(path("scores.csv"));
  EXPECT_EQ(count_lines(scores), 801u);
  EXPECT_EQ(scores.substr(0, 39), "row,score,is_anomaly,error_x0,error_x1,");

  r = run("evaluate --model " + path("model.safetensors") + " --data " + path("test.csv") +
          " --label-column label --json " + path("eval.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto json = nlohmann::json::parse(slurp(path("eval.json")));
  EXPECT_EQ(json["rows"], 800);
  EXPECT_EQ(json["anomalies"], 80);
  EXPECT_GT(json["roc_auc"].get<double>(), 0.7);    // 4 epochs on 1200 rows: measured 0.80
  EXPECT_EQ(json["threshold"]["rule"], "iqr:1.5");  // train's default

  // A rule chosen at scoring time replaces the model's.
  r = run("evaluate --model " + path("model.safetensors") + " --data " + path("test.csv") +
          " --label-column label --threshold contamination:0.1 --json " + path("eval2.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto json2 = nlohmann::json::parse(slurp(path("eval2.json")));
  EXPECT_EQ(json2["confusion"]["true_positives"].get<int>() +
                json2["confusion"]["false_positives"].get<int>(),
            80);
}

TEST_F(CliData, ThresholdRuleChosenAtTrainingIsKeptInTheModel) {
  ASSERT_EQ(run("generate --out " + dir_.string() + " --train-rows 600 --test-rows 100").exit_code,
            0);
  const Result r = run("train --data " + path("train.csv") + " --label-column label --epochs 1 " +
                       "--batch-size 32 --threshold percentile:99 --out " + path("m.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("percentile 99 of held-out normal scores"), std::string::npos) << r.out;
  const Result s = run("score --model " + path("m.safetensors") + " --data " + path("test.csv") +
                       " --label-column label");
  EXPECT_NE(s.out.find("(percentile 99 of held-out normal scores)"), std::string::npos) << s.out;
}

// With every default, a table of 24 normal rows trains (a batch of 16: the automatic batch),
// an ensemble whose schedule, members and threshold the summary states, and scores.
TEST_F(CliData, ASmallTableTrainsWithEveryDefault) {
  std::string text = "a,b,c,label\n";
  for (int i = 0; i < 24; ++i)
    text += std::to_string(i % 5) + "," + std::to_string((i * 7) % 11) + "," +
            std::to_string(i % 3) + ".5,0\n";
  text += "40,-30,9,1\n";
  const std::string data = file("small.csv", text);
  const Result r = run("train --data " + data + " --label-column label --threads 1 --steps 300 " +
                       "--out " + path("m.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("trained on 16 normal rows"), std::string::npos) << r.out;  // 8 held out
  EXPECT_NE(r.out.find("an ensemble of 4 models (seed, beta: 0, 1; 1, 0.1; 2, 1; 3, 0.1)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("300 epochs of batch 16 (300 steps)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("threshold: upper quartile + 1.5 interquartile ranges"), std::string::npos)
      << r.out;
  const Result s = run("score --model " + path("m.safetensors") + " --data " + data +
                       " --label-column label --top 1");
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("scored 25 rows"), std::string::npos) << s.out;
}

// A training killed (SIGKILL) after a checkpoint, or in the middle of writing one, resumes from
// its last checkpoint and writes the uninterrupted training's model file byte for byte; the
// checkpoint is removed once the model is written. A checkpoint of another training, or a damaged
// one, is refused with the file named.
TEST_F(CliData, ATrainingKilledResumesToTheSameModelFile) {
  ASSERT_EQ(run("generate --out " + dir_.string() +
                " --train-rows 1200 --val-rows 2 "
                "--test-rows 10")
                .exit_code,
            0);
  const std::string train =
      "train --data " + path("train.csv") + " --label-column label --epochs 9 --threads 2 --out ";
  ASSERT_EQ(run(train + path("whole.safetensors")).exit_code, 0);
  const std::string resumable =
      train + path("m.safetensors") + " --checkpoint " + path("ck") + " --checkpoint-every 2";
  const auto killed = [](const Result& r) { return r.exit_code == -1 || r.exit_code == 137; };
  EXPECT_TRUE(killed(run(resumable, "VAEAD_FAULT=train-after-write:4 ")));
  ASSERT_TRUE(fs::exists(path("ck")));
  EXPECT_FALSE(fs::exists(path("m.safetensors")));
  EXPECT_TRUE(killed(run(resumable, "VAEAD_FAULT=train-in-write:6 ")));  // from epoch 4
  // Another training's state is not taken up.
  const Result other = run(train + path("o.safetensors") + " --seed 3 --checkpoint " + path("ck"));
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("ck: written for another training"), std::string::npos) << other.err;
  // A beta that differs past six digits is another training too.
  const Result close =
      run(train + path("o.safetensors") + " --betas 1,0.1000001 --checkpoint " + path("ck"));
  EXPECT_EQ(close.exit_code, 1);
  EXPECT_NE(close.err.find("ck: written for another training"), std::string::npos) << close.err;
  const Result resumed = run(resumable);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(slurp(dir_ / "m.safetensors"), slurp(dir_ / "whole.safetensors"));
  for (const auto& entry : fs::directory_iterator(dir_))  // no checkpoint, no temporary left
    EXPECT_EQ(entry.path().filename().string().find("ck"), std::string::npos) << entry.path();
  // A flipped byte is found.
  EXPECT_TRUE(killed(run(resumable, "VAEAD_FAULT=train-after-write:2 ")));
  std::string damaged = slurp(dir_ / "ck");
  damaged[damaged.size() / 3] ^= 4;
  std::ofstream(path("ck"), std::ios::binary) << damaged;
  const Result refused = run(resumable);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("does not match its checksum"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("remove it to train from the first epoch"), std::string::npos);
}

// A disk that fills (here: a file size limit) ends a checkpointed sweep with one line and no
// half-written file; the same command afterwards resumes.
TEST_F(CliData, ACheckpointOnAFullDiskIsOneLineAndNothingHalfWritten) {
  const std::string sweep =
      "sweep --latents 2,3 --betas 1 --seeds 2 --epochs 1 --train-rows 300 "
      "--val-rows 50 --test-rows 50 --threads 1 --checkpoint " +
      path("ck") + " --json " + path("s.json");
  const std::string binary = VAEAD_BINARY;
  const int status = std::system(("sh -c 'trap \"\" XFSZ; ulimit -f 40; exec " + binary + " " +
                                  sweep + "' >" + path("out") + " 2>" + path("err"))
                                     .c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = slurp(dir_ / "err");
  EXPECT_NE(err.find("run-0.json: write failed (disk full?)"), std::string::npos) << err;
  EXPECT_EQ(count_lines(err), 1u) << err;
  EXPECT_TRUE(fs::is_empty(path("ck")));
  EXPECT_FALSE(fs::exists(path("s.json")));
  const Result resumed = run(sweep);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_TRUE(fs::exists(path("s.json")));
}

// Seeds count up from --seed (an ensemble's members, a sweep's seeds): none may wrap past 2^64 - 1.
TEST_F(CliData, SeedsThatWouldWrapAreRefused) {
  ASSERT_EQ(run("generate --out " + dir_.string() + " --train-rows 300 --val-rows 2 --test-rows 10")
                .exit_code,
            0);
  const Result train = run("train --data " + path("train.csv") +
                           " --label-column label --epochs 1 --seed 18446744073709551614 --out " +
                           path("m.safetensors"));
  EXPECT_EQ(train.exit_code, 1);
  EXPECT_NE(train.err.find("members take seeds up to seed + 3, past 2^64 - 1"), std::string::npos)
      << train.err;
  const Result sweep = run("sweep --seed 18446744073709551614 --seeds 3 --epochs 1");
  EXPECT_EQ(sweep.exit_code, 1);
  EXPECT_NE(sweep.err.find("the seeds 18446744073709551614 .. + 2 pass 2^64 - 1"),
            std::string::npos)
      << sweep.err;
}

// When the system refuses a thread (here: the address space is too small for 1024 stacks), the
// run ends with one line that says so, instead of aborting.
TEST_F(CliData, AThreadTheSystemRefusesIsOneLine) {
  ASSERT_EQ(run("generate --out " + dir_.string() +
                " --train-rows 3000 --val-rows 2 "
                "--test-rows 10")
                .exit_code,
            0);
  const std::string binary = VAEAD_BINARY;
  const int status = std::system(
      ("sh -c 'ulimit -v 2000000; exec " + binary + " train --data " + path("train.csv") +
       " --label-column label --threads 1024 --epochs 1 --members 1 --batch-size 256 --out " +
       path("m.safetensors") + "' >" + path("out") + " 2>" + path("err"))
          .c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string err = slurp(dir_ / "err");
  EXPECT_NE(err.find("vaead: error: could not start CPU thread "), std::string::npos) << err;
  EXPECT_NE(err.find(" of 1024 (Resource temporarily unavailable): ask for fewer threads"),
            std::string::npos)
      << err;
  EXPECT_FALSE(fs::exists(path("m.safetensors")));
}

// A sweep on a small table picks its batch and epochs as train does (it once refused).
TEST_F(CliData, ASweepOnASmallTableFitsItsSchedule) {
  std::string text = "a,b,c\n";
  for (int i = 0; i < 40; ++i)
    text += std::to_string(i % 5) + "," + std::to_string((i * 7) % 11) + "," +
            std::to_string(i % 3) + ".5\n";
  const Result r = run("sweep --data " + file("small.csv", text) +
                       " --latents 2 --betas 1 --seeds 1 --threads 1 --epochs 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 40 rows: 8 validate, no test rows without labels, 32 train: batch 16 (32 / 8 -> 4 -> 16).
  EXPECT_NE(r.out.find("32 train / 8 validation / 0 test rows; 3 epochs, batch 16"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("n/a"), std::string::npos) << r.out;  // precision and recall: no labels
}

TEST_F(CliData, BadTablesAreOneLineNamingFileLineColumnAndText) {
  const std::string header = "a,b,c\n";
  std::string rows;
  for (int i = 0; i < 40; ++i)
    rows += std::to_string(i) + "," + std::to_string(i % 7) + ",1\n";
  const std::string train = " --epochs 1 --batch-size 8 --out " + path("m.safetensors");
  expect_refused("train --data " + path("missing.csv") + train, 1,
                 "cannot open " + path("missing.csv") + ": no such file");
  expect_refused("train --data " + dir_.string() + train, 1, "it is a directory");
  expect_refused("train --data " + file("empty.csv", "") + train, 1, "empty.csv is empty");
  expect_refused("train --data " + file("ragged.csv", header + rows + "5,6\n") + train, 1,
                 "ragged.csv: line 42 has 2 fields, expected 3 (as in the header)");
  expect_refused("train --data " + file("text.csv", header + "1,2,3\n4,five,6\n" + rows) + train, 1,
                 "text.csv: line 3, column 'b': 'five' is not a number");
  expect_refused("train --data " + file("nan.csv", header + rows + "1,NaN,2\n") + train, 1,
                 "nan.csv: line 42, column 'b': 'NaN' is not finite");
  expect_refused("train --data " + file("inf.csv", header + rows + "1,2,inf\n") + train, 1,
                 "inf.csv: line 42, column 'c': 'inf' is not finite");
  expect_refused("train --data " + file("few.csv", header + "1,2,3\n4,5,6\n7,8,9\n") + train, 1,
                 "few.csv: 3 normal rows; training needs 10 (2 held out for the threshold and "
                 "one batch of 8): lower --batch-size or --holdout");
  expect_refused("train --data " + file("one.csv", header + "1,2,3\n") + train, 1,
                 "one.csv: 1 normal row; training needs 10");
  expect_refused("train --data " + file("npy.npy", "\x93NUMPY junk") + train, 1,
                 "npy.npy: unsupported .npy version");
  EXPECT_FALSE(fs::exists(path("m.safetensors")));
}

TEST_F(CliData, ConstantColumnIsAWarningNotAFailure) {
  std::string text = "a,b,c\n";
  for (int i = 0; i < 60; ++i)
    text += std::to_string(i % 5) + ",3," + std::to_string(i % 3) + "\n";
  const Result r = run("train --data " + file("constant.csv", text) +
                       " --epochs 1 --batch-size 8 --out " + path("m.safetensors"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("column 'b' is constant in the training rows"), std::string::npos) << r.err;
}

TEST_F(CliData, UnreadableFileIsRefused) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file: permissions cannot be tested here";
  const std::string locked = file("locked.csv", "a\n1\n");
  fs::permissions(locked, fs::perms::none);
  expect_refused("train --data " + locked + " --out " + path("m.safetensors"), 1,
                 "cannot open " + locked + ": permission denied");
}

TEST_F(CliData, ScoringDataMustHaveTheModelsFeatures) {
  make_data_and_model();
  std::string text = slurp(path("test.csv"));
  text.replace(text.find("x3,"), 3, "y3,");
  expect_refused("score --model " + path("model.safetensors") + " --data " +
                     file("renamed.csv", text) + " --label-column label",
                 1, "missing: x3; not in the model: y3");
  expect_refused("score --model " + path("model.safetensors") + " --data " +
                     file("narrow.csv", "x0,x1\n1,2\n"),
                 1, "the feature columns differ from the model's (2 here, 30 in the model)");
}

TEST_F(CliData, DamagedModelsAreRefusedAndOutputsSurviveFailures) {
  make_data_and_model();
  const std::string bytes = slurp(path("model.safetensors"));
  const std::string score =
      " --data " + path("test.csv") + " --label-column label --out " + path("scores.csv");
  file("scores.csv", "keep me\n");
  expect_refused(
      "score --model " + file("cut.safetensors", bytes.substr(0, bytes.size() / 2)) + score, 1,
      "cut.safetensors: not a valid vaead model");
  expect_refused("score --model " + file("text.safetensors", "hello, world") + score, 1,
                 "text.safetensors: not a valid vaead model");
  expect_refused("score --model " + path("nope.safetensors") + score, 2,
                 "--model: File does not exist");
  expect_refused("score --model " + path("model.safetensors") + " --data " +
                     file("bad.csv", "x0\nzz\n") + " --out " + path("scores.csv"),
                 1, "bad.csv: no numeric feature columns");
  EXPECT_EQ(slurp(path("scores.csv")), "keep me\n");
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

// `vaead export --onnx` writes the scoring graph (ONNX Runtime's check is python/tests/
// test_onnx.py), and refuses, in one line, what it cannot read or write, leaving no file.
TEST_F(CliData, ExportWritesAnOnnxModelAndRefusesWhatItCannotWrite) {
  make_data_and_model();
  const std::string model = " --model " + path("model.safetensors");
  const Result written = run("export" + model + " --onnx " + path("model.onnx"));
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_NE(written.out.find("outputs score and feature_errors"), std::string::npos) << written.out;
  const std::string onnx = slurp(path("model.onnx"));
  EXPECT_EQ(onnx.substr(0, 2), std::string("\x08\x08", 2));  // ir_version 8, the first field
  for (const char* text : {"vaead", "feature_names", "encoder.0.weight", "ReduceMean", "Gemm"})
    EXPECT_NE(onnx.find(text), std::string::npos) << text;
  const std::string before = slurp(path("model.safetensors"));
  expect_refused("export" + model + " --onnx " + path("model.safetensors"), 1, "--onnx");
  EXPECT_EQ(slurp(path("model.safetensors")), before);
  expect_refused("export" + model + " --onnx " + path("no/such/dir/model.onnx"), 1,
                 "no/such/dir does not exist");
  expect_refused("export" + model, 2, "--onnx is required");
  expect_refused(
      "export --model " + file("text.safetensors", "hello") + " --onnx " + path("text.onnx"), 1,
      "text.safetensors: not a valid vaead model");
  EXPECT_FALSE(fs::exists(path("text.onnx")));
}

// A row that scores NaN or inf is an error naming it (exit 1), never a silent "not flagged".
TEST_F(CliData, ARowThatScoresNonFiniteIsOneLineNamingIt) {
  make_data_and_model();
  std::string csv = slurp(path("test.csv"));
  const std::size_t row5 = [&] {  // the start of data row 5 (after the header)
    std::size_t at = csv.find('\n');
    for (int r = 0; r < 5; ++r)
      at = csv.find('\n', at + 1);
    return at + 1;
  }();
  csv.replace(row5, csv.find(',', row5) - row5, "3e38");
  file("extreme.csv", csv);
  file("scores.csv", "keep me\n");
  expect_refused("score --model " + path("model.safetensors") + " --data " + path("extreme.csv") +
                     " --label-column label --out " + path("scores.csv"),
                 1, "extreme.csv: row 5 scores ");
  EXPECT_EQ(slurp(path("scores.csv")), "keep me\n");
}

TEST_F(CliData, InvalidFlagsAreOneLineWithExitCodeTwo) {
  const std::string data = " --data x.csv --out m.safetensors";
  expect_refused("train" + data + " --latent 0", 2, "--latent: must be at least 1, got '0'");
  expect_refused("train" + data + " --holdout 1.5", 2,
                 "--holdout: must be strictly between 0 and 1, got '1.5'");
  expect_refused("train" + data + " --device tpu", 2, "--device: must be auto, cpu or cuda");
  expect_refused("train" + data + " --threshold median:3", 2, "a threshold rule is mean-std:K");
  expect_refused("train" + data + " --epochs -2", 2,
                 "--epochs: must be a whole number, at least 1, got '-2'");
  expect_refused("train --out m.safetensors", 2, "--data is required");
  expect_refused("evaluate --model x --data y.csv", 2, "--model: File does not exist");
}

// The same kind of mistake gets the same kind of message, and a message never
// floods the terminal nor stops at a NUL.
TEST_F(CliData, MessagesAreConsistentShortAndExitTwoForFlags) {
  const std::string data = " --data x.csv --out m.safetensors";
  expect_refused("train" + data + " --seed -1", 2,
                 "--seed: must be a whole number, 0 or more, got '-1'");
  expect_refused(
      "generate --train-rows 20 --val-rows 2 --test-rows 2 --out " + dir_.string() + " --seed -1",
      2, "--seed: must be a whole number, 0 or more, got '-1'");
  expect_refused("experiment --seeds 1 --latents 2 --epochs 1 --seed 18446744073709551616", 2,
                 "--seed: must be at most 18446744073709551615");
  expect_refused("train" + data + " --label-column ''", 2, "--label-column: must name a column");
  expect_refused("train" + data + " --lr inf", 2, "--lr: must be a finite number, got 'inf'");
  expect_refused("train" + data + " --logvar-max nan", 2, "--logvar-max: must be a finite number");
  expect_refused("train" + data + " --kl-warmup 2.5", 2, "--kl-warmup: must be a whole number");
  const std::string digits(300, '9');
  for (const std::string& arguments :
       {"train" + data + " --epochs " + digits, "train" + data + " --lr " + digits + "x",
        "train" + data + " --no-such-" + digits}) {
    const Result r = run(arguments);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_LT(r.err.size(), 200u) << r.err;
    EXPECT_NE(r.err.find("..."), std::string::npos) << r.err;
  }

  // Cells: every number beyond the float range is refused alike; one below it reads as 0.
  const std::string rows = [] {
    std::string text;
    for (int i = 0; i < 40; ++i)
      text += std::to_string(i) + "," + std::to_string(i % 7) + "\n";
    return text;
  }();
  const std::string train = " --epochs 1 --batch-size 8 --out " + path("m.safetensors");
  for (const char* big : {"1e39", "1e400", "-1e4000"})
    expect_refused(
        "train --data " + file("big.csv", "a,b\n" + rows + "1," + big + "\n") + train, 1,
        "big.csv: line 42, column 'b': '" + std::string(big) + "' is beyond the float range");
  for (const char* tiny : {"1e-40", "1e-310", "1e-400"}) {
    const Result r = run("train --data " + file("tiny.csv", "a,b\n" + rows + "1," + tiny + "\n") +
                         " --epochs 1 --batch-size 8 --out " + path("tiny.safetensors"));
    EXPECT_EQ(r.exit_code, 0) << tiny << ": " << r.err;
  }
  expect_refused("train --data " + file("long.csv", "a,b\n" + rows + "1,1" + digits + "\n") + train,
                 1,
                 "long.csv: line 42, column 'b': '1" + std::string(39, '9') +
                     "... "
                     "(301 bytes)' is beyond the float range");
  std::string nul = "a,b\n" + rows + "1,x";
  nul += '\0';
  nul += "y\n";
  expect_refused("train --data " + file("nul.csv", nul) + train, 1,
                 "nul.csv: line 42, column 'b': 'x\\x00y' is not a number");
  // A column name that is not UTF-8 is refused when the table is read, naming line and column.
  expect_refused("train --data " + file("latin1.csv", "a,caf\xE9\n" + rows) + train, 1,
                 "latin1.csv: line 1, column 2: the name 'caf\\xE9' is not valid UTF-8");
  EXPECT_FALSE(fs::exists(path("m.safetensors")));
}

// A data file whose name is not UTF-8 (Latin-1) is read, and the JSON that names it is written,
// its bad byte as U+FFFD (JSON holds only UTF-8), not a library error after the whole run.
TEST_F(CliData, AFileNameThatIsNotUtf8StillGivesItsJson) {
  std::string text = "a,b,label\n";
  for (int i = 0; i < 300; ++i)
    text +=
        std::to_string(i % 11) + "," + std::to_string(i % 7) + "," + (i % 30 ? "0" : "1") + "\n";
  const std::string data = file("caf\xE9.csv", text);
  const Result r = run("sweep --data '" + data +
                       "' --label-column label --latents 2 --betas 1 --seeds 1 --epochs 1 "
                       "--batch-size 8 --json " +
                       path("sweep.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(slurp(path("sweep.json")).find("caf\xEF\xBF\xBD.csv"), std::string::npos);
}

// The model file loads into PyTorch (safetensors + load_state_dict) and gives the same scores.
TEST_F(CliData, ModelLoadsIntoPyTorchWithTheSameScores) {
  if (std::system("python3 -c 'import torch, safetensors' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with torch and safetensors is not installed "
                    "(pip install torch safetensors)";
  make_data_and_model();
  ASSERT_EQ(run("score --model " + path("model.safetensors") + " --data " + path("test.csv") +
                " --label-column label --out " + path("scores.csv"))
                .exit_code,
            0);
  const std::string check = "python3 " + std::string(VAEAD_SOURCE_DIR) +
                            "/tests/python/pytorch_model_check.py " + path("model.safetensors") +
                            " " + path("test.csv") + " " + path("scores.csv") + " > " +
                            path("check.log") + " 2>&1";
  EXPECT_EQ(std::system(check.c_str()), 0) << slurp(path("check.log"));
}

TEST_F(CliData, SweepOnATableWritesTableJsonCsvAndScorableModels) {
  ASSERT_EQ(run("generate --out " + dir_.string() +
                " --train-rows 1200 --val-rows 2 --test-rows 600 --seed 3")
                .exit_code,
            0);
  const Result r =
      run("sweep --data " + path("test.csv") +
          " --label-column label --features x0,x1,x2,x3,x4,x5,x6,x7,x8,x9 "
          "--latents 2,4 --betas 1,0.1 --seeds 2 --epochs 3 --batch-size 64 "
          "--json " +
          path("sweep.json") + " --csv " + path("sweep.csv") + " --save-best " + path("best"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("8 models (2 latent sizes x 2 betas x 2 seeds)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("label-free choice (lowest validation error): latent "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("best by ROC-AUC (needs labels): latent "), std::string::npos) << r.out;
  const nlohmann::json json = nlohmann::json::parse(slurp(path("sweep.json")));
  EXPECT_EQ(json["kind"], "sweep");
  EXPECT_EQ(json["runs"].size(), 8u);
  EXPECT_EQ(json["cells"].size(), 4u);
  EXPECT_EQ(json["config"]["data"]["features"], 10);
  EXPECT_TRUE(json["choice"]["best_roc_auc"].is_object());
  EXPECT_EQ(count_lines(slurp(path("sweep.csv"))), 5u);
  // The chosen models, one per seed, score the table as `vaead train`'s would.
  std::size_t models = 0;
  for (const auto& entry : fs::directory_iterator(path("best"))) {
    ++models;
    const Result scored =
        run("score --model " + entry.path().string() + " --data " + path("test.csv") +
            " --label-column label --features x0,x1,x2,x3,x4,x5,x6,x7,x8,x9 "
            "--out " +
            path("scores.csv"));
    EXPECT_EQ(scored.exit_code, 0) << scored.err;
  }
  EXPECT_TRUE(models == 2 || models == 4) << models;
}

TEST_F(CliData, SweepWithoutLabelsStillChoosesAndBadInputsAreOneLine) {
  ASSERT_EQ(run("generate --out " + dir_.string() + " --train-rows 600 --val-rows 2 --test-rows 2")
                .exit_code,
            0);
  const Result r = run("sweep --data " + path("train.csv") +
                       " --features x0,x1,x2,x3 --latents 1,2 --betas 1 --seeds 1 --epochs 2 "
                       "--batch-size 64");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no labelled test rows"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<- label-free choice"), std::string::npos) << r.out;
  expect_refused("sweep --betas 1,-2", 2, "--betas");
  expect_refused("sweep --betas 0.1,0.1 --epochs 1", 1, "betas must be distinct");
  expect_refused("sweep --data " + path("nope.csv"), 1, "nope.csv");
  expect_refused("sweep --data " + path("train.csv") + " --batch-size 4096 --features x0", 1,
                 "--batch-size");
}

}  // namespace

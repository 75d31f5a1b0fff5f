// A sweep over several processes is the single-process sweep: over MPI ranks (mpirun) and over
// scheduler jobs (--shard I/N, then merge), the same metrics, table, CSV and chosen models; a
// killed rank or a mismatched part leaves no output.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"

namespace vaead::testing {
namespace {

class CliRanks : public Cli {
 protected:
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A labelled table (the generator's test rows: both classes), so the data travels too.
  std::string table() {
    const Result generated = run("generate --out " + path("data") +
                                 " --train-rows 100 --val-rows 100 --test-rows 3000 --seed 4");
    EXPECT_EQ(generated.exit_code, 0) << generated.err;
    return path("data/test.csv");
  }

  static std::string grid(const std::string& data, int epochs = 3) {
    return "sweep --data " + data +
           " --label-column label --latents 2,4,8 --betas 1,0.1 --seeds 2 --threads 1 --epochs " +
           std::to_string(epochs);
  }

  // mpirun with `ranks` processes on this machine (more ranks than cores allowed).
  static std::string mpirun(int ranks) {
    // --timeout: a rank that cannot even start MPI (OpenMPI waits in MPI_Init) fails the test
    // instead of hanging it.
    return "mpirun -np " + std::to_string(ranks) + " --oversubscribe --timeout 120 " +
           (geteuid() == 0 ? "--allow-run-as-root " : "");
  }

  // The runs of a sweep JSON without what depends on the machine's speed.
  static nlohmann::json metrics(const std::string& file) {
    nlohmann::json runs = nlohmann::json::parse(slurp(file)).at("runs");
    for (nlohmann::json& run : runs) {
      run.erase("train_seconds");
      run.erase("samples_per_second");
      for (nlohmann::json& epoch : run.at("epochs"))
        epoch.erase("seconds");
    }
    return runs;
  }

  // The files of a --save-best folder, by name.
  static std::map<std::string, std::string> models(const std::string& folder) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::directory_iterator(folder))
      files[entry.path().filename().string()] = slurp(entry.path());
    return files;
  }
};

bool with_mpi() {
  return VAEAD_WITH_MPI != 0;
}

TEST_F(CliRanks, ShardsAndMergeGiveTheSingleProcessSweep) {
  const std::string data = table();
  const Result whole = run(grid(data) + " --json " + path("whole.json") + " --csv " +
                           path("whole.csv") + " --save-best " + path("best"));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  std::string parts;
  for (int i = 0; i < 3; ++i) {
    const std::string part = path("part" + std::to_string(i) + ".json");
    const Result shard = run(grid(data) + " --shard " + std::to_string(i) + "/3 --part " + part);
    ASSERT_EQ(shard.exit_code, 0) << shard.err;
    EXPECT_NE(shard.out.find("shard " + std::to_string(i) + " of 3: trained 4 of 12 models"),
              std::string::npos)
        << shard.out;  // shares balanced by cost: here four models each
    parts += " " + part;
  }
  const Result merged = run("sweep merge" + parts + " --json " + path("merged.json") + " --csv " +
                            path("merged.csv") + " --save-best " + path("merged_best"));
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  EXPECT_EQ(metrics(path("merged.json")), metrics(path("whole.json")));
  EXPECT_EQ(slurp(path("merged.csv")), slurp(path("whole.csv")));
  EXPECT_EQ(models(path("merged_best")), models(path("best")));
  EXPECT_FALSE(models(path("best")).empty());
  // the printed table, but its timing line
  const auto table_of = [](const std::string& out) { return out.substr(0, out.find("trained ")); };
  EXPECT_EQ(table_of(merged.out), table_of(whole.out));
}

TEST_F(CliRanks, MergeRefusesPartsThatAreNotOneSweep) {
  const std::string data = table();
  const auto shard = [&](const std::string& flags, const std::string& name) {
    const Result r = run(grid(data) + " " + flags + " --part " + path(name));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return path(name);
  };
  const std::string a0 = shard("--shard 0/2", "a0.json"), a1 = shard("--shard 1/2", "a1.json");
  const std::string other = shard("--shard 1/2 --lr 0.01", "other.json");
  const std::string of3 = shard("--shard 1/3", "of3.json");
  std::string text = slurp(a1);
  text.replace(text.find("\"vaead_version\":\"") + 17, 1, "9");
  const std::string old = file("old.json", text);
  const std::pair<std::string, std::string> cases[] = {
      {a0 + " " + other, "other.json: a different sweep (grid, model, training or threshold)"},
      {a0, "shard 1 of 2 is missing"},
      {a0 + " " + a0, "a0.json: shard 0 of 2 is given twice"},
      {a0 + " " + of3, "of3.json: shard 1 of 3, but "},
      {a0 + " " + old, "old.json: written by vaead 9"},
      {a0 + " " + path("data/test.csv"), "test.csv: not a readable part of a sweep"},
  };
  for (const auto& [parts, expected] : cases) {
    const Result r = run("sweep merge " + parts + " --json " + path("out.json"));
    EXPECT_EQ(r.exit_code, 1) << parts;
    EXPECT_NE(r.err.find(expected), std::string::npos)
        << "expected " << expected << ", got " << r.err;
    EXPECT_FALSE(fs::exists(path("out.json")));
  }
  // The same flags on another table (the file changed while the shards ran) are refused too.
  const std::string rows = slurp(data);
  std::string changed_rows = rows;
  char& digit = changed_rows[changed_rows.find(',', changed_rows.find('\n')) - 1];
  digit = digit == '1' ? '2' : '1';  // the last digit of the first value: the same rows, shapes
  std::ofstream(data, std::ios::binary) << changed_rows;
  const std::string b1 = shard("--shard 1/2", "b1.json");
  std::ofstream(data, std::ios::binary) << rows;
  const Result changed = run("sweep merge " + a0 + " " + b1);
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_NE(changed.err.find("b1.json: trained on different data"), std::string::npos)
      << changed.err;
}

TEST_F(CliRanks, ShardFlagsAreChecked) {
  const std::string synthetic = "sweep --latents 2 --seeds 1 --epochs 1 ";
  const std::pair<std::string, std::string> cases[] = {
      {"--shard 3/3 --part " + path("p.json"), "--shard 3/3: the index counts from 0"},
      {"--shard two/3 --part " + path("p.json"), "'two/3' is not I/N"},
      {"--shard 0/3", "--shard needs --part FILE"},
      {"--part " + path("p.json"), "--part needs --shard I/N"},
      {"--shard 0/3 --part " + path("p.json") + " --json " + path("x.json"),
       "are written by vaead sweep merge"},
  };
  for (const auto& [flags, expected] : cases) {
    const Result r = run(synthetic + flags);
    EXPECT_EQ(r.exit_code, 1) << flags;
    EXPECT_NE(r.err.find(expected), std::string::npos)
        << "expected " << expected << ", got " << r.err;
  }
}

TEST_F(CliRanks, OneTwoAndThreeRanksGiveTheSameSweep) {
  if (!with_mpi()) GTEST_SKIP() << "this build has no MPI (VAEAD_MPI found none)";
  const std::string data = table();
  const Result whole = run(grid(data) + " --json " + path("whole.json") + " --csv " +
                           path("whole.csv") + " --save-best " + path("best"));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  for (int ranks : {1, 2, 3}) {
    const std::string name = "ranks" + std::to_string(ranks);
    const Result r = run(grid(data) + " --json " + path(name + ".json") + " --csv " +
                             path(name + ".csv") + " --save-best " + path(name),
                         mpirun(ranks));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(metrics(path(name + ".json")), metrics(path("whole.json"))) << ranks << " ranks";
    EXPECT_EQ(slurp(path(name + ".csv")), slurp(path("whole.csv"))) << ranks << " ranks";
    EXPECT_EQ(models(path(name)), models(path("best"))) << ranks << " ranks";
    // one table, printed by rank 0
    EXPECT_EQ(r.out.find("vaead sweep: 12 models"), r.out.rfind("vaead sweep: 12 models"));
  }
  // Other commands run in one process.
  const Result train = run("train --data " + data + " --out " + path("m.safetensors"), mpirun(2));
  EXPECT_NE(train.exit_code, 0);
  EXPECT_NE(train.err.find("vaead train runs in one process"), std::string::npos) << train.err;
}

TEST_F(CliRanks, AKilledRankEndsTheRunWithoutOutput) {
  if (!with_mpi()) GTEST_SKIP() << "this build has no MPI (VAEAD_MPI found none)";
  const std::string data = table();
  // Rank 1 is killed a second into a long training; the others must not wait for it.
  const std::string binary = VAEAD_BINARY;
  const std::string command =
      mpirun(3) + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then (sleep 1; kill -9 $$) & fi; " +
      "exec " + binary + " " + grid(data, 2000) + " --json " + path("killed.json") + "'";
  const auto start = std::chrono::steady_clock::now();
  const int status = std::system((command + " >" + path("out") + " 2>" + path("err")).c_str());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_NE(status, 0);
  EXPECT_NE(slurp(path("err")).find("process rank 1"), std::string::npos) << slurp(path("err"));
  EXPECT_NE(slurp(path("err")).find("signal 9"), std::string::npos) << slurp(path("err"));
  EXPECT_FALSE(fs::exists(path("killed.json")));
  EXPECT_LT(seconds, 60.0);  // 2000 epochs would take minutes
}

// A rank that fails (here: out of memory under a lower limit than the others) is named by rank 0
// in one line, and nothing is written.
TEST_F(CliRanks, AFailedRankIsNamedAndNothingIsWritten) {
  if (!with_mpi()) GTEST_SKIP() << "this build has no MPI (VAEAD_MPI found none)";
  const std::string binary = VAEAD_BINARY;
  const std::string command =
      mpirun(3) + "sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 1 ]; then ulimit -v 350000; fi; " +
      "exec " + binary +
      " sweep --latents 2,4,8 --seeds 1 --betas 1 --epochs 1 --train-rows 32 --val-rows 16 "
      "--test-rows 20 --batch-size 16 --encoder-hidden 2048,2048 --decoder-hidden 2048,2048 "
      "--json " +
      path("failed.json") + "'";
  const int status = std::system((command + " >" + path("out") + " 2>" + path("err")).c_str());
  EXPECT_NE(status, 0);
  const std::string err = slurp(path("err"));
  EXPECT_NE(err.find("vaead: error: rank 1 of 3 failed: out of memory"), std::string::npos) << err;
  EXPECT_EQ(err.find("vaead: error:"), err.rfind("vaead: error:")) << err;  // one line
  EXPECT_FALSE(fs::exists(path("failed.json")));
}

}  // namespace
}  // namespace vaead::testing

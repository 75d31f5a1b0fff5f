// A sweep over several processes is the single-process sweep: over MPI ranks (mpirun) and over
// scheduler jobs (--shard I/N, then merge), the same metrics, table, CSV and chosen models; a
// killed rank or a mismatched part leaves no output.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "cli_support.hpp"
#include "io/sha256.hpp"

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

  // The whole sweep's outputs, to compare a resumed one with.
  void sweep_whole(const std::string& data) {
    const Result whole = run(grid(data) + " --json " + path("whole.json") + " --csv " +
                             path("whole.csv") + " --save-best " + path("best"));
    ASSERT_EQ(whole.exit_code, 0) << whole.err;
  }
  // `name`.json, .csv and folder are the whole sweep's.
  void expect_whole(const std::string& name, const std::string& what) {
    EXPECT_EQ(metrics(path(name + ".json")), metrics(path("whole.json"))) << what;
    EXPECT_EQ(slurp(path(name + ".csv")), slurp(path("whole.csv"))) << what;
    EXPECT_EQ(models(path(name)), models(path("best"))) << what;
  }
  std::string outputs(const std::string& name) {
    return " --json " + path(name + ".json") + " --csv " + path(name + ".csv") + " --save-best " +
           path(name);
  }
  // The runs a checkpoint folder holds.
  std::size_t checkpointed(const std::string& folder) {
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(path(folder)))
      files += entry.path().filename().string().starts_with("run-") ? 1 : 0;
    return files;
  }

  // The files of a --save-best folder, by name.
  static std::map<std::string, std::string> models(const std::string& folder) {
    std::map<std::string, std::string> files;
    for (const auto& entry : fs::directory_iterator(folder))
      files[entry.path().filename().string()] = slurp(entry.path());
    return files;
  }
};

// Ended by SIGKILL (as the shell reports it, or the signal itself).
bool killed(const Result& r) {
  return r.exit_code == -1 || r.exit_code == 128 + 9;
}

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
  nlohmann::json text = nlohmann::json::parse(slurp(a1));  // as another version writes it
  text.erase("sha256");
  text["vaead_version"] = "9" + text["vaead_version"].get<std::string>();
  text["sha256"] = sha256_hex(text.dump());
  const std::string old = file("old.json", text.dump());
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

// A part proves its content: an edited number, or a run moved to a point it is not, is refused
// with the part and the run named.
TEST_F(CliRanks, MergeRefusesPartsWhoseContentWasChanged) {
  const std::string data = table();
  std::string parts;
  for (int i = 0; i < 2; ++i) {
    const Result r = run(grid(data, 1) + " --device cpu --gpu-math tf32 --shard " +
                         std::to_string(i) + "/2 --part " + path("p" + std::to_string(i)));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // --device and --gpu-math are kept as given, so merge parses them again.
  const Result merged =
      run("sweep merge " + path("p0") + " " + path("p1") + " --json " + path("merged.json"));
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  const std::string text = slurp(path("p1"));
  // A digit of an ROC-AUC changed by hand (the sum not recomputed).
  std::string edited = text;
  const std::size_t at = edited.find("\"roc_auc\":0.") + 12;
  edited[at] = edited[at] == '1' ? '2' : '1';
  // A run's latent size moved outside the grid, with the sum recomputed.
  nlohmann::json moved = nlohmann::json::parse(text);
  moved.erase("sha256");
  moved["runs"][0]["latent_dim"] = 5;
  moved["sha256"] = sha256_hex(nlohmann::json(moved).dump());
  const std::pair<std::string, std::string> cases[] = {
      {file("edited", edited), "edited: its content does not match its checksum (sha256)"},
      {file("moved", moved.dump()), "moved: the run of point 1 is latent 5, beta 1, seed 1, not"},
  };
  for (const auto& [part, expected] : cases) {
    const Result r = run("sweep merge " + path("p0") + " " + part + " --json " + path("out.json"));
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(expected), std::string::npos)
        << "expected " << expected << ", got " << r.err;
    EXPECT_FALSE(fs::exists(path("out.json")));
  }
}

// A sweep killed (SIGKILL) after some models, or in the middle of writing one, resumes from its
// checkpoint and writes what the uninterrupted sweep writes; a damaged file trains again.
TEST_F(CliRanks, ASweepKilledAtAnyPointResumesToTheSameOutputs) {
  const std::string data = table();
  sweep_whole(data);
  const std::string resumable = grid(data) + " --checkpoint " + path("ck");
  const Result after = run(resumable + outputs("a"), "VAEAD_FAULT=sweep-after-write:4 ");
  EXPECT_TRUE(killed(after)) << after.exit_code;
  EXPECT_EQ(checkpointed("ck"), 4u);
  EXPECT_FALSE(fs::exists(path("a.json")));
  const Result during = run(resumable + outputs("a"), "VAEAD_FAULT=sweep-in-write:3 ");
  EXPECT_TRUE(killed(during)) << during.exit_code;
  EXPECT_NE(during.out.find("resuming: 4 of 12 models read from"), std::string::npos) << during.out;
  EXPECT_EQ(checkpointed("ck"), 6u);  // the third file was never renamed into place
  // A flipped byte in one file: said, and its model trained again.
  std::string damaged = slurp(path("ck/run-1.json"));
  damaged[damaged.size() / 2] ^= 1;
  std::ofstream(path("ck/run-1.json"), std::ios::binary) << damaged;
  const Result resumed = run(resumable + outputs("a"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("resuming: 5 of 12 models"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.err.find("run-1.json: "), std::string::npos) << resumed.err;
  expect_whole("a", "resumed after two kills");
  for (const auto& entry : fs::directory_iterator(path("ck")))
    EXPECT_TRUE(entry.path().filename().string().starts_with("run-")) << entry.path();
  // The folder of a finished sweep writes the outputs again without training.
  const Result again = run(resumable + outputs("b"));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("resuming: 12 of 12 models"), std::string::npos) << again.out;
  expect_whole("b", "from a complete checkpoint");
  // Another sweep's folder is refused, naming the file.
  const Result other = run(grid(data) + " --lr 0.01 --checkpoint " + path("ck"));
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("belongs to another sweep"), std::string::npos) << other.err;
}

// A shard killed half-way resumes from its checkpoint, and the parts merge into the whole sweep.
TEST_F(CliRanks, AKilledShardResumesAndMerges) {
  const std::string data = table();
  sweep_whole(data);
  std::string parts;
  for (int i = 0; i < 2; ++i) {
    const std::string shard = grid(data) + " --shard " + std::to_string(i) + "/2 --part " +
                              path("p" + std::to_string(i)) + " --checkpoint " + path("ck");
    EXPECT_TRUE(killed(run(shard, "VAEAD_FAULT=sweep-after-write:2 ")));
    EXPECT_FALSE(fs::exists(path("p" + std::to_string(i))));
    const Result resumed = run(shard);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    parts += " " + path("p" + std::to_string(i));
  }
  const Result merged = run("sweep merge" + parts + outputs("m"));
  ASSERT_EQ(merged.exit_code, 0) << merged.err;
  expect_whole("m", "merged from resumed shards");
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

// Killed under one number of ranks (a rank dies, so mpirun ends the others), resumed under
// another: the same outputs as the uninterrupted sweep.
TEST_F(CliRanks, AnMpiSweepKilledResumesWithAnyNumberOfRanks) {
  if (!with_mpi()) GTEST_SKIP() << "this build has no MPI (VAEAD_MPI found none)";
  const std::string data = table();
  sweep_whole(data);
  const std::pair<int, int> cases[] = {{3, 2}, {2, 1}, {1, 3}};
  for (const auto& [killed, resumed] : cases) {
    const std::string folder = "ck" + std::to_string(killed);
    const std::string resumable = grid(data) + " --checkpoint " + path(folder);
    const Result dead =
        run(resumable + outputs("x"), "VAEAD_FAULT=sweep-after-write:2 " + mpirun(killed));
    EXPECT_NE(dead.exit_code, 0);
    EXPECT_FALSE(fs::exists(path("x.json")));
    EXPECT_GE(checkpointed(folder), 2u);
    EXPECT_LT(checkpointed(folder), 12u);
    const std::string name = "r" + std::to_string(killed);
    const Result r = run(resumable + outputs(name), mpirun(resumed));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    expect_whole(name,
                 std::to_string(killed) + " ranks killed, " + std::to_string(resumed) + " resumed");
  }
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

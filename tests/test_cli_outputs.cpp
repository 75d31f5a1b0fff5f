// What the commands write, as a careless or hostile user would point them: an output that is an
// input, a link, a FIFO, a device, stdout, a directory or nothing is written through or refused
// before any work, and nothing that should survive is destroyed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "cli_support.hpp"

namespace {

using vaead::testing::CliData;
using vaead::testing::Result;
using vaead::testing::slurp;
namespace fs = std::filesystem;

class CliOutputs : public CliData {
 protected:
  std::string score_args() const {
    return "score --model " + path("model.safetensors") + " --data " + path("test.csv") +
           " --label-column label";
  }
};

// --out naming an input (by its own path, another spelling, a symbolic or a hard link) is refused
// before any work, and the input is untouched.
TEST_F(CliOutputs, AnOutputThatIsAnInputIsRefused) {
  make_data_and_model();
  const std::string data = slurp(path("test.csv")), model = slurp(path("model.safetensors"));
  fs::create_symlink(path("test.csv"), path("link.csv"));
  fs::create_hard_link(path("test.csv"), path("hard.csv"));
  for (const std::string& out :
       {path("test.csv"), (dir_ / "." / "test.csv").string(), path("link.csv"), path("hard.csv")})
    expect_refused(score_args() + " --out " + out, 1, "is the input --data");
  expect_refused(score_args() + " --out " + path("model.safetensors"), 1, "is the input --model");
  expect_refused("evaluate --model " + path("model.safetensors") + " --data " + path("test.csv") +
                     " --label-column label --json " + path("link.csv"),
                 1, "is the input --data");
  expect_refused(
      "train --data " + path("train.csv") + " --label-column label --out " + path("train.csv"), 1,
      "--out " + path("train.csv") + " is the input --data");
  const std::string config = file("study.toml", "epochs = 1\n");
  expect_refused("experiment --config " + config + " --json " + config, 1, "is the input --config");
  expect_refused("sweep --data " + path("test.csv") + " --label-column label --json " +
                     path("sweep.json") + " --csv " + path("sweep.json"),
                 1, "--csv " + path("sweep.json") + " is the input --json");
  EXPECT_EQ(slurp(path("test.csv")), data);
  EXPECT_EQ(slurp(path("model.safetensors")), model);
  EXPECT_EQ(slurp(config), "epochs = 1\n");
}

// A symbolic link is followed: the file it names gets the output, the link stays a link.
TEST_F(CliOutputs, AnOutputThroughASymbolicLinkReplacesTheFileItNames) {
  make_data_and_model();
  fs::create_directories(dir_ / "elsewhere");
  const std::string real = file("elsewhere/scores.csv", "old\n");
  fs::create_symlink(real, path("scores.csv"));
  const Result r = run(score_args() + " --out " + path("scores.csv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(path("scores.csv")));
  EXPECT_EQ(slurp(real).substr(0, 19), "row,score,is_anomal");
  // A link to a file that does not exist yet: the file is created, the link kept.
  fs::create_symlink(dir_ / "elsewhere" / "new.csv", path("dangling.csv"));
  ASSERT_EQ(run(score_args() + " --out " + path("dangling.csv")).exit_code, 0);
  EXPECT_TRUE(fs::is_symlink(path("dangling.csv")));
  EXPECT_EQ(slurp(dir_ / "elsewhere" / "new.csv").substr(0, 3), "row");
}

// A FIFO is written through (as `cat > fifo` would), never replaced by a file; so is a device, and
// /dev/stdout puts the scores on standard output.
TEST_F(CliOutputs, AFifoADeviceAndStdoutAreWrittenThrough) {
  make_data_and_model();
  const std::string fifo = path("scores.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  std::string received;
  std::atomic<bool> done{false};
  // The reader opens without blocking first, then drains until vaead has finished.
  const int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  std::thread drain([&] {
    char buffer[4096];
    for (;;) {
      const ssize_t n = read(reader, buffer, sizeof buffer);
      if (n > 0) received.append(buffer, static_cast<std::size_t>(n));
      if (n <= 0 && done) break;
      if (n <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  const Result r = run(score_args() + " --out " + fifo);
  done = true;
  drain.join();
  close(reader);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::is_fifo(fifo)) << "the FIFO was replaced";
  EXPECT_EQ(received.substr(0, 19), "row,score,is_anomal");

  // A device: the test's own null device where it may make one (as root, a bug here would
  // otherwise replace the machine's /dev/null), else /dev/null, which others cannot replace.
  std::string device = path("null");
  if (mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) device = "/dev/null";
  EXPECT_EQ(run(score_args() + " --out " + device).exit_code, 0);
  EXPECT_TRUE(fs::is_character_file(device));

  const Result out = run(score_args() + " --out /dev/stdout");
  EXPECT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(out.out.substr(0, 19), "row,score,is_anomal");
  EXPECT_EQ(std::count(out.out.begin(), out.out.end(), '\n'), 801) << "801 lines of CSV only";
  EXPECT_NE(out.err.find("scored 800 rows"), std::string::npos) << out.err;
}

// A directory, a path ending in '/', an empty path or a missing directory is refused before the
// work starts (the training below would take minutes).
TEST_F(CliOutputs, ABadOutputPathIsRefusedBeforeTheWork) {
  make_data_and_model();
  const std::string train =
      "train --data " + path("train.csv") + " --label-column label --epochs 100000 --out ";
  expect_refused(train + dir_.string(), 1, "is a directory");
  expect_refused(train + dir_.string() + "/", 1, "is a directory");
  expect_refused(train + (dir_ / "no" / "model.safetensors").string(), 1, "does not exist");
  expect_refused(train + "''", 2, "--out: must not be empty");
  expect_refused("experiment --epochs 100000 --json ''", 2, "--json: must not be empty");
  expect_refused("experiment --epochs 100000 --json " + dir_.string(), 1, "is a directory");
  expect_refused("generate --out " + path("train.csv"), 1, "is not a directory");
}

// generate writes its three files together: where an earlier set stands, a new set replaces all
// three or (on a failure) none.
TEST_F(CliOutputs, GenerateReplacesItsThreeFilesTogether) {
  const std::string dir = (dir_ / "data").string();
  ASSERT_EQ(
      run("generate --out " + dir + " --train-rows 50 --val-rows 10 --test-rows 20").exit_code, 0);
  const std::string earlier = slurp(dir + "/val.csv");
  // test.csv made unwritable as a file (a directory in its place): nothing of the new set lands.
  fs::remove(dir + "/test.csv");
  fs::create_directories(dir + "/test.csv");
  EXPECT_NE(run("generate --out " + dir + " --train-rows 60 --val-rows 11 --test-rows 20 --seed 3")
                .exit_code,
            0);
  EXPECT_EQ(slurp(dir + "/val.csv"), earlier);
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

}  // namespace

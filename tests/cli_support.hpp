// Running the `vaead` binary as a user does: arguments in, exit code, stdout and stderr out.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace vaead::testing {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out, err;
};

inline std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("vaead_" + std::string(test->test_suite_name()) + "_" + test->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs vaead with `arguments`; `environment` ("NAME=value ") is prefixed to the command. The
  // binary is this build's, or VAEAD_TEST_BINARY's (to hold another build to these tests).
  Result run(const std::string& arguments, const std::string& environment = "") const {
    const char* other = std::getenv("VAEAD_TEST_BINARY");
    const std::string binary = other != nullptr && *other != '\0' ? other : VAEAD_BINARY;
    const std::string command = environment + binary + " " + arguments + " >" +
                                (dir_ / "stdout").string() + " 2>" + (dir_ / "stderr").string();
    const int status = std::system(command.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir_ / "stdout"),
            slurp(dir_ / "stderr")};
  }

  // Writes `text` to a file in the test's directory; returns its path.
  std::string file(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return (dir_ / name).string();
  }

  fs::path dir_;
};

inline std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A table, and a model trained on it, for the commands that read them.
class CliData : public Cli {
 protected:
  // generate's train.csv and test.csv, small, and a model trained on the first.
  void make_data_and_model() {
    ASSERT_EQ(run("generate --out " + dir_.string() +
                  " --train-rows 1500 --val-rows 2 --test-rows 800 --seed 6")
                  .exit_code,
              0);
    const Result r =
        run("train --data " + path("train.csv") +
            " --label-column label --epochs 4 --batch-size 64 --out " + path("model.safetensors"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static std::size_t occurrences(const std::string& text, const std::string& what) {
    std::size_t count = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
      ++count;
    return count;
  }

  // One bad run: its exit code, exactly one error line (notes may precede it), the words in it.
  void expect_refused(const std::string& arguments, int exit_code, const std::string& words) {
    const Result r = run(arguments);
    EXPECT_EQ(r.exit_code, exit_code) << arguments << "\n" << r.err;
    EXPECT_EQ(occurrences(r.err, "vaead: error: "), 1u) << arguments << "\n" << r.err;
    EXPECT_EQ(count_lines(r.err), 1 + occurrences(r.err, "vaead: note: ")) << r.err;
    EXPECT_NE(r.err.find(words), std::string::npos)
        << arguments << "\nexpected: " << words << "\ngot: " << r.err;
  }
};

}  // namespace vaead::testing

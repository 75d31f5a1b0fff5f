// Every example the documentation shows runs as shown: the commands of every `sh` block of
// README.md and docs/*.md, in the order a reader meets them, in one working directory (so that
// data/ and model.safetensors, made by the first examples, serve the later ones). `vaead` and
// `build/vaead` are this build's binary. Two things differ from a reader's run, so that the whole
// takes seconds: a command that trains gets `--epochs 2` unless it sets its epochs, and mpirun
// may start more ranks than there are cores. Set-up commands (scripts/, cmake, ctest, apt-get,
// pip) are not examples: they are what CI itself runs. The Python blocks run in
// python/tests/test_docs.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <regex>
#include <string>
#include <vector>

#include "cli_support.hpp"

namespace vaead::testing {
namespace {

// One command of a document, its continuation lines joined, its comment cut.
struct Example {
  std::string document;
  std::string command;
};

std::vector<std::string> shell_lines(const std::string& block) {
  std::vector<std::string> lines;
  std::string joined;
  std::istringstream in(block);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\\') {
      joined += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    joined += line;
    // A comment starts at " # " or at the line's start (no example quotes a '#').
    const std::size_t comment = joined.starts_with("#") ? 0 : joined.find(" # ");
    if (comment != std::string::npos) joined.erase(comment);
    while (!joined.empty() && joined.back() == ' ')
      joined.pop_back();
    if (!joined.empty()) lines.push_back(joined);
    joined.clear();
  }
  return lines;
}

bool is_set_up(const std::string& command) {
  for (const char* prefix : {"bash scripts/", "cmake ", "ctest ", "sudo ", "pip "})
    if (command.starts_with(prefix)) return true;
  return false;
}

std::vector<Example> documented_examples() {
  const fs::path root = VAEAD_SOURCE_DIR;
  std::vector<fs::path> documents{root / "README.md"};
  for (const char* name :
       {"user-guide.md", "python.md", "sweeps.md", "benchmarks.md", "design.md", "testing.md"})
    documents.push_back(root / "docs" / name);
  const std::regex block("```sh\n([\\s\\S]*?)```");
  std::vector<Example> examples;
  for (const fs::path& document : documents) {
    const std::string text = slurp(document);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), block);
         it != std::sregex_iterator(); ++it)
      for (const std::string& command : shell_lines((*it)[1].str()))
        if (!is_set_up(command)) examples.push_back({document.filename().string(), command});
  }
  return examples;
}

// `command` as this test runs it: the build's binary, the repository's scripts where they are, two
// epochs, mpirun allowed to oversubscribe.
std::string as_run(std::string command) {
  const std::regex binary("(^|\\s)(build/)?vaead(?=\\s)");
  command = std::regex_replace(command, binary, "$1" + std::string(VAEAD_BINARY));
  // The repository's scripts, which the documents name from its root.
  command = std::regex_replace(command, std::regex("(^|\\s)(tests|scripts|bench)/"),
                               "$1" + std::string(VAEAD_SOURCE_DIR) + "/$2/");
  const std::regex trains(" (train|experiment|sweep) ");
  if (std::regex_search(command, trains) && command.find(" merge ") == std::string::npos &&
      command.find("--epochs") == std::string::npos)
    command += " --epochs 2";
  if (command.starts_with("mpirun "))
    command.insert(
        7, std::string("--oversubscribe ") + (geteuid() == 0 ? "--allow-run-as-root " : ""));
  return command;
}

bool python_has(const std::string& modules) {
  return std::system(("python3 -c 'import " + modules + "' >/dev/null 2>&1").c_str()) == 0;
}

class Docs : public Cli {};

TEST_F(Docs, EveryShellExampleRunsAsShown) {
  const std::vector<Example> examples = documented_examples();
  // The documents show the CLI's commands: if the parser found none, it is broken.
  ASSERT_GE(examples.size(), 20u);
  for (const Example& example : examples) {
    const std::string& command = example.command;
    SCOPED_TRACE(example.document + ": " + command);
    if (command.starts_with("mpirun ") && !VAEAD_WITH_MPI) continue;
    // The PyTorch recipe needs torch and safetensors, which vaead does not: where they are
    // missing (CI's machines), tests/test_cli_data.cpp's PyTorch test skips too.
    if (command.find("pytorch_model_check.py") != std::string::npos &&
        !python_has("torch, safetensors"))
      continue;
    const std::string script = "cd '" + dir_.string() + "' && " + as_run(command) + " >'" +
                               (dir_ / "stdout").string() + "' 2>'" + (dir_ / "stderr").string() +
                               "' </dev/null";
    const int status = std::system(script.c_str());
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    const std::string err = slurp(dir_ / "stderr");
    if (command.find("--report") != std::string::npos && !python_has("matplotlib")) {
      // The report needs matplotlib; without it the run says so in one line (exit 1).
      EXPECT_EQ(code, 1) << err;
      EXPECT_NE(err.find("matplotlib"), std::string::npos) << err;
      continue;
    }
    EXPECT_EQ(code, 0) << err;
    // What the command says it writes is there.
    const std::regex output("--(json|csv|out|part) (\\S+)");
    for (auto it = std::sregex_iterator(command.begin(), command.end(), output);
         it != std::sregex_iterator(); ++it)
      EXPECT_TRUE(fs::exists(dir_ / (*it)[2].str())) << (*it)[2].str();
  }
}

}  // namespace
}  // namespace vaead::testing

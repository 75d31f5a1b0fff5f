#include "cli/report.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "vaead/util/error.hpp"

namespace vaead::cli {
namespace {

namespace fs = std::filesystem;

// 'text' for a POSIX shell.
std::string shell_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text)
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// Beside the executable (the build copies it there), else in the source tree it was built from.
fs::path report_script() {
  std::error_code error;
  const fs::path executable = fs::read_symlink("/proc/self/exe", error);
  if (!error && fs::exists(executable.parent_path() / "vaead_report.py"))
    return executable.parent_path() / "vaead_report.py";
  const fs::path source = fs::path(VAEAD_SOURCE_DIR) / "scripts" / "vaead_report.py";
  if (fs::exists(source)) return source;
  throw InputError("--report: scripts/vaead_report.py is neither beside " + executable.string() +
                   " nor in " + std::string(VAEAD_SOURCE_DIR));
}

}  // namespace

void add_report_option(CLI::App& command, std::string& directory) {
  command.add_option("--report", directory,
                     "Write figures and report.html here (needs Python with matplotlib)");
}

std::string result_json_path(const std::string& json_path, const std::string& report_directory,
                             const std::string& default_name) {
  if (!json_path.empty() || report_directory.empty()) return json_path;
  std::error_code error;
  fs::create_directories(report_directory, error);
  if (error)
    throw InputError("--report: cannot create " + report_directory + ": " + error.message());
  return (fs::path(report_directory) / default_name).string();
}

void make_report(const std::string& json_path, const std::string& directory) {
  const fs::path script = report_script();
  if (std::system("python3 -c 'import matplotlib' >/dev/null 2>&1") != 0)
    throw InputError(
        "--report needs Python 3 with matplotlib (pip install matplotlib); the "
        "results are in " +
        json_path);
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) throw InputError("--report: cannot create " + directory + ": " + error.message());
  const std::string command = "python3 " + shell_quoted(script.string()) + " " +
                              shell_quoted(json_path) + " --out " + shell_quoted(directory) +
                              " >/dev/null";
  if (std::system(command.c_str()) != 0)
    throw InputError("--report: the report tool failed on " + json_path);
  std::cout << "report: " << (fs::path(directory) / "report.html").string() << '\n';
}

}  // namespace vaead::cli

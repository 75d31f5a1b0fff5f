// --report DIR: figures and one HTML page from a result JSON, by scripts/vaead_report.py
// (Python with matplotlib: optional, and said so when missing).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace vaead::cli {

void add_report_option(CLI::App& command, std::string& directory);

// Where a command writes its JSON: `json_path` when given, else `default_name` inside the report
// directory (created) when a report is asked for, else "" (no JSON).
std::string result_json_path(const std::string& json_path, const std::string& report_directory,
                             const std::string& default_name);

// Runs the report tool on `json_path` into `directory`; InputError saying how to install
// matplotlib when Python or matplotlib is missing.
void make_report(const std::string& json_path, const std::string& directory);

}  // namespace vaead::cli

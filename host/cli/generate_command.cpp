// `vaead generate`: the seed study's data as CSV files, so other tools can run on the same rows.
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/shared_options.hpp"
#include "cli/table_input.hpp"
#include "vaead/data/csv_writer.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/util/error.hpp"

namespace vaead::cli {
namespace {

struct GenerateOptions {
  SyntheticConfig data;
  std::string out_dir;
  std::shared_ptr<std::string> config;
};

void run(const GenerateOptions& options) {
  namespace fs = std::filesystem;
  const fs::path dir(options.out_dir);
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_directory(dir, error))
    throw InputError("--out " + options.out_dir + " is not a directory");
  for (const char* name : {"train.csv", "val.csv", "test.csv"})
    if (fs::exists(dir, error)) check_output("--out", dir / name, inputs({}, *options.config));
  const SyntheticData data = generate_synthetic(options.data);
  fs::create_directories(options.out_dir, error);
  if (error)
    throw InputError("cannot create directory " + options.out_dir + ": " + error.message());
  const std::pair<const char*, const Dataset*> files[] = {
      {"train.csv", &data.train}, {"val.csv", &data.validation}, {"test.csv", &data.test}};
  // The three files are written together: a failure leaves the earlier three as they were.
  std::vector<FileToWrite> writes;
  for (const auto& [name, dataset] : files) {
    const Dataset* rows = dataset;  // a structured binding cannot be captured before C++20's P1091
    writes.push_back({dir / name, [rows](std::ostream& out) { write_dataset_csv(out, *rows); }});
  }
  write_files_atomically(writes);
  for (const auto& [name, dataset] : files) {
    std::cout << (dir / name).string() << ": " << dataset->rows() << " rows, "
              << dataset->features.cols << " features";
    if (dataset->count_label(1) > 0) {
      std::cout << ", " << dataset->count_label(1) << " anomalies (";
      for (std::size_t k = 0; k < 3; ++k)
        std::cout << (k ? ", " : "") << dataset->count_kind(kAnomalyKinds[k]) << ' '
                  << anomaly_kind_name(kAnomalyKinds[k]);
      std::cout << ')';
    }
    std::cout << '\n';
  }
  std::cout << "raw (unstandardized) values; columns x0..x" << options.data.features - 1
            << ", then label (1 = anomaly) and kind\n";
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* command = app.add_subcommand(
      "generate", "Write the seed study's synthetic data as train.csv, val.csv and test.csv");
  command->add_option("--out", options->out_dir, "Directory for the three files")
      ->required()
      ->check(a_path());
  command->add_option("--seed", options->data.seed, "Data seed")
      ->check(a_seed())
      ->capture_default_str();
  add_data_options(*command, options->data);
  options->config = add_config_option(*command);
  return {command, [options] { run(*options); }, options->config};
}

}  // namespace vaead::cli

// `vaead export`: a model file's scoring graph for other runtimes (ONNX).
#include <iostream>

#include "cli/commands.hpp"
#include "cli/shared_options.hpp"
#include "cli/table_input.hpp"
#include "vaead/io/onnx_export.hpp"
#include "vaead/io/output_file.hpp"

namespace vaead::cli {
namespace {

struct ExportOptions {
  std::string model;
  std::string onnx;
};

void run(const ExportOptions& options) {
  const std::vector<NamedPath> named = {{"--model", options.model}};
  check_output("--onnx", options.onnx, named);
  const ModelFile model = read_model(options.model);
  write_onnx(options.onnx, model);
  std::cout << "wrote " << options.onnx << ": ONNX (opset " << kOnnxOpset << ") of "
            << options.model << ", " << model.members()
            << (model.members() == 1 ? " model" : " members") << "; input X float32 [rows, "
            << model.feature_names.size()
            << "] (the model's feature order), outputs score and feature_errors\n";
}

}  // namespace

Command add_export_command(CLI::App& app) {
  auto options = std::make_shared<ExportOptions>();
  CLI::App* command =
      app.add_subcommand("export", "Write a model's scoring graph for ONNX Runtime (ONNX)");
  command->add_option("--model", options->model, "Model file written by vaead train")
      ->required()
      ->check(CLI::ExistingFile);
  command
      ->add_option("--onnx", options->onnx,
                   "ONNX file to write: input X, outputs score and feature_errors")
      ->required()
      ->check(a_path());
  return {command, [options] { run(*options); }, nullptr};
}

}  // namespace vaead::cli

// A finished sweep on the terminal and in its files: the table, JSON, CSV, chosen models, report.
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/console.hpp"
#include "cli/report.hpp"
#include "cli/sweep.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/report/results_json.hpp"
#include "vaead/util/error.hpp"

namespace vaead::cli {
namespace {

std::string configuration(const SweepCell& cell) {
  std::ostringstream text;
  text << "latent " << cell.latent_dim << ", beta " << cell.beta;
  return text.str();
}

void print_table(std::ostream& out, const ExperimentResult& result,
                 std::span<const SweepCell> cells, const SweepChoice& choice, double seconds) {
  const ExperimentConfig& c = result.config;
  out << "vaead sweep: " << result.runs.size() << " models (" << c.latent_dims.size()
      << " latent sizes x " << c.beta_values().size() << " betas x " << c.seed_count
      << " seeds) on the " << engine_kind_name(c.device) << " engine; ";
  if (c.table)
    out << c.table->source << ": " << c.table->train.rows << " train / " << c.table->validation.rows
        << " validation / " << c.table->test.rows << " test rows";
  else
    out << "synthetic data: " << c.data.train_rows << " train / " << c.data.validation_rows
        << " validation / " << c.data.test_rows << " test rows";
  out << "; " << c.train.epochs << " epochs, batch " << c.engine.batch_size << "\n";
  out << "threshold: " << c.threshold.describe()
      << " (validation rows); values are mean ± std over seeds; validation error is the mean "
         "score of the validation rows (all normal)\n\n";
  constexpr std::size_t kWidth = 16;
  out << pad("latent", 7) << pad("beta", 7);
  for (const char* name : {"ROC-AUC", "PR-AUC", "precision", "recall", "val. error"})
    out << pad(name, kWidth);
  out << '\n';
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const SweepCell& cell = cells[i];
    std::ostringstream beta;
    beta << cell.beta;
    out << pad(std::to_string(cell.latent_dim), 7) << pad(beta.str(), 7);
    for (const Spread* s : {&cell.roc_auc, &cell.pr_auc, &cell.precision, &cell.recall})
      out << pad(cell.runs == 0 ? "failed" : mean_std(*s, 3), kWidth);
    out << pad(cell.runs == 0 ? "failed" : mean_std(cell.validation_error, 4), kWidth);
    if (cell.failed > 0)
      out << " (" << cell.failed << " of " << cell.failed + cell.runs << " failed)";
    if (i == choice.label_free) out << " <- label-free choice";
    if (choice.best_roc_auc && i == *choice.best_roc_auc) out << " <- best ROC-AUC";
    out << '\n';
  }
  const SweepCell& picked = cells[choice.label_free];
  out << "\nlabel-free choice (lowest validation error): " << configuration(picked);
  if (std::isfinite(picked.roc_auc.mean)) out << ", ROC-AUC " << mean_std(picked.roc_auc, 3);
  out << '\n';
  if (choice.best_roc_auc) {
    const SweepCell& best = cells[*choice.best_roc_auc];
    out << "best by ROC-AUC (needs labels): " << configuration(best) << ", ROC-AUC "
        << mean_std(best.roc_auc, 3) << '\n';
  } else {
    out << "no labelled test rows: no ROC-AUC (give --label-column)\n";
  }
  double samples = 0.0;
  for (const RunResult& run : result.runs)
    samples += static_cast<double>(run.training.samples);
  out << "trained " << result.runs.size() << " models in " << fixed(seconds, 1)
      << " s: " << fixed(samples / seconds, 0) << " model-samples/s\n";
}

// The chosen configurations' models, one file per seed: L<latent>_beta<beta>_seed<seed>.
void save_best(const ExperimentResult& result, std::span<const SweepCell> cells,
               const SweepChoice& choice, const std::string& directory) {
  std::vector<std::size_t> chosen{choice.label_free};
  if (choice.best_roc_auc && *choice.best_roc_auc != choice.label_free)
    chosen.push_back(*choice.best_roc_auc);
  for (std::size_t index : chosen) {
    const SweepCell& cell = cells[index];
    for (const RunResult& run : result.runs) {
      if (run.latent_dim != cell.latent_dim || run.beta != cell.beta || !run.failure.empty())
        continue;
      std::ostringstream name;
      name << "L" << run.latent_dim << "_beta" << run.beta << "_seed" << run.seed << ".safetensors";
      const std::filesystem::path path = std::filesystem::path(directory) / name.str();
      write_model(path, model_of_run(result.config, run));
      std::cout << "model: " << path.string()
                << (index == choice.label_free ? " (label-free choice)" : " (best ROC-AUC)")
                << '\n';
    }
  }
}

}  // namespace

// Checks the output paths before any work (rank 0 alone writes); creates --save-best's folder.
void check_outputs(const Outputs& out, std::vector<NamedPath> named) {
  if (!out.json_path.empty()) {
    check_output("--json", out.json_path, named);
    named.emplace_back("--json", out.json_path);  // --csv may not overwrite it either
  }
  if (!out.csv_path.empty()) check_output("--csv", out.csv_path, named);
  if (!out.save_best_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(out.save_best_dir, error);
    if (error)
      throw InputError("--save-best: cannot create " + out.save_best_dir + ": " + error.message());
  }
}

// The table, the JSON and CSV, the chosen models and the report of a finished sweep.
void write_sweep(const ExperimentResult& result, double seconds, const Outputs& out) {
  report_failed_runs(result);
  const std::vector<SweepCell> cells = summarize_sweep(result);
  const SweepChoice choice = choose_configuration(cells);
  print_table(std::cout, result, cells, choice, seconds);
  const std::string json_path = result_json_path(out.json_path, out.report_dir, "sweep.json");
  if (!json_path.empty())
    write_file_atomically(json_path,
                          [&](std::ostream& file) { file << sweep_json(result, cells, choice); });
  if (!out.csv_path.empty())
    write_file_atomically(out.csv_path, [&](std::ostream& file) { file << sweep_csv(cells); });
  if (!out.save_best_dir.empty()) save_best(result, cells, choice, out.save_best_dir);
  if (!out.report_dir.empty()) make_report(json_path, out.report_dir);
}

}  // namespace vaead::cli

#include "cli/console.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "util/text.hpp"
#include "vaead/util/error.hpp"

namespace vaead::cli {

std::string fixed(double value, int digits) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(digits) << value;
  return text.str();
}

std::string mean_std(const Spread& s, int digits) {
  if (!std::isfinite(s.mean)) return "n/a";
  return fixed(s.mean, digits) + " ± " + fixed(s.std, digits);
}

void report_failed_runs(const ExperimentResult& result) {
  std::size_t failed = 0;
  for (const RunResult& run : result.runs) {
    if (run.failure.empty()) continue;
    ++failed;
    std::cerr << "vaead: warning: the model with latent " << run.latent_dim << ", beta " << run.beta
              << ", seed " << run.seed << " failed: " << run.failure << '\n';
  }
  if (failed > 0 && failed == result.runs.size())
    throw TrainingError("every model failed; the first: " + result.runs.front().failure);
}

bool progress_enabled(bool requested) {
  return requested || isatty(fileno(stderr)) != 0;
}

EpochCallback epoch_progress(bool requested, const std::string& prefix, int epochs) {
  if (!progress_enabled(requested)) return {};
  const bool terminal = !requested;
  return [prefix, epochs, terminal](const EpochRecord& e) {
    std::fprintf(stderr, "%s%s  epoch %d/%d  loss %.4f (recon %.4f, kl %.4f, weight %.2f)%s",
                 terminal ? "\r" : "", prefix.c_str(), e.epoch + 1, epochs, e.mean.loss,
                 e.mean.reconstruction, e.mean.kl, e.kl_weight, terminal ? "\033[K" : "\n");
    if (terminal && e.epoch + 1 == epochs) std::fputc('\n', stderr);
  };
}

std::string pad(const std::string& text, std::size_t width, bool right_align) {
  std::size_t columns = 0;
  for (unsigned char c : text)
    columns += (c & 0xC0) != 0x80 ? 1 : 0;  // count code points
  if (columns >= width) return text;
  const std::string fill(width - columns, ' ');
  return right_align ? fill + text : text + fill;
}

}  // namespace vaead::cli

// vaead: anomaly detection in tables with variational autoencoders.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/ranks.hpp"
#include "cli/shared_options.hpp"
#include "util/text.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/version.hpp"

namespace {

// CLI11's own messages quote what the user typed whole ("Could not convert: --epochs = 1000...");
// a word longer than any flag or number should be, or one with control characters or bytes that
// are not UTF-8, is shown cut and escaped, as in every other message.
std::string shortened(const std::string& message) {
  std::string out;
  std::size_t at = 0;
  while (at <= message.size()) {
    const std::size_t end = std::min(message.find(' ', at), message.size());
    const std::string_view word(message.data() + at, end - at);
    const bool plain = word.size() <= 60 && vaead::text::valid_utf8(word) &&
                       std::none_of(word.begin(), word.end(),
                                    [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    out += plain ? std::string(word) : vaead::text::quote(word);
    if (end < message.size()) out += ' ';
    at = end + 1;
  }
  return out;
}

}  // namespace

using namespace vaead::cli;

int run(int argc, char** argv) {
  CLI::App app{
      "vaead: trains variational autoencoders on normal rows of a table and flags the rows "
      "they cannot reconstruct.",
      "vaead"};
  app.set_version_flag("--version", std::string(vaead::version()));
  app.require_subcommand(1);
  const std::vector<Command> commands = {add_experiment_command(app), add_train_command(app),
                                         add_score_command(app),      add_evaluate_command(app),
                                         add_generate_command(app),   add_sweep_command(app),
                                         add_export_command(app),     add_info_command(app)};
  try {
    app.parse(argc, argv);
    for (const Command& command : commands) {
      if (!command.app->parsed()) continue;
      if (several_ranks_launched() && command.app->get_name() != "sweep")
        throw vaead::InputError("vaead " + command.app->get_name() +
                                " runs in one process; under mpirun only vaead sweep shares "
                                "its work between ranks");
      if (command.config_path && !command.config_path->empty())
        apply_config_file(*command.app, *command.config_path);
      command.run();
    }
  } catch (const CLI::CallForHelp& request) {
    return app.exit(request);
  } catch (const CLI::CallForAllHelp& request) {
    return app.exit(request);
  } catch (const CLI::CallForVersion& request) {
    return app.exit(request);
  } catch (const CLI::ParseError& error) {  // a bad flag or config file: one line, exit code 2
    std::cerr << "vaead: error: " << shortened(error.what()) << " (see vaead --help)\n";
    return 2;
  } catch (const std::exception& error) {
    if (reports_errors()) std::cerr << "vaead: error: " << error.what() << '\n';
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  const int code = run(argc, argv);
  vaead::cli::finish_ranks();
  return code;
}

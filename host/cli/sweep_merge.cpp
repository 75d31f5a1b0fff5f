// `vaead sweep merge PART...`: the parts of a sweep trained with --shard, written as one sweep.
#include <algorithm>
#include <string_view>

#include "cli/sweep.hpp"
#include "vaead/io/sweep_part.hpp"
#include "vaead/util/error.hpp"

namespace vaead::cli {

// `vaead sweep merge PART...`: the sweep rebuilt from the first part's flags (its table read
// again and checked against every part's), the runs from every part, written as one sweep.
void merge(const MergeOptions& options) {
  std::vector<NamedPath> named;
  for (const std::string& path : options.parts)
    named.emplace_back("part", path);
  check_outputs(options.out, named);
  std::vector<SweepPart> parts;
  double seconds = 0.0;
  for (const std::string& path : options.parts) {
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    parts.push_back(parse_part(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path));
    seconds = std::max(seconds, parts.back().seconds);  // the shards ran side by side
  }
  CLI::App rebuilt;
  SweepOptions sweep_options;
  add_sweep_options(rebuilt, sweep_options);
  std::vector<std::string> arguments(parts.front().arguments.rbegin(),
                                     parts.front().arguments.rend());
  try {
    rebuilt.parse(arguments);
  } catch (const CLI::ParseError& error) {
    throw InputError(options.parts.front() +
                     ": its sweep's flags do not parse here: " + error.what());
  }
  ExperimentResult result;
  try {
    result.config = prepare(sweep_options, rebuilt, parts.front().device);
  } catch (const InputError& error) {
    throw InputError("rebuilding the sweep of " + options.parts.front() + ": " + error.what() +
                     " (merge reads the sweep's --data again: run it where the shards ran)");
  }
  result.runs = merge_parts(parts, options.parts, result.config);
  write_sweep(result, seconds, options.out);
}

}  // namespace vaead::cli

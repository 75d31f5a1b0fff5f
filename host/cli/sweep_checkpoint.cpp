// A sweep's checkpoint: a folder with a file per finished model, written as each wave of models
// ends; the same command after a kill reads them back and trains only what is missing.
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>

#include "cli/sweep.hpp"
#include "io/fault_injection.hpp"
#include "vaead/data/table.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/io/sweep_part.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/version.hpp"

namespace vaead::cli {
namespace {

namespace fs = std::filesystem;

std::string file_name(std::size_t index) {
  return "run-" + std::to_string(index) + ".json";
}

// The point a file of the folder holds ("run-12.json": 12); nullopt for any other name (the
// temporaries of writes a kill interrupted, files of the user's).
std::optional<std::size_t> index_of(const std::string& name) {
  if (!name.starts_with("run-") || !name.ends_with(".json") || name.size() <= 9) return {};
  const std::string digits = name.substr(4, name.size() - 9);
  if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) return {};
  return static_cast<std::size_t>(std::stoul(digits));
}

}  // namespace

Checkpoint::Checkpoint(std::string folder, const ExperimentConfig& config, SweepPart header)
    : folder_(std::move(folder)), config_(config), header_(std::move(header)) {}

std::map<std::size_t, RunResult> Checkpoint::read() const {
  std::error_code error;
  fs::create_directories(folder_, error);
  if (!fs::is_directory(folder_))
    throw InputError("--checkpoint " + folder_ + ": not a folder that can be created (" +
                     error.message() + ")");
  std::map<std::size_t, RunResult> finished;
  const std::size_t total = config_.points().size();
  for (const fs::directory_entry& entry : fs::directory_iterator(folder_)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".run-") && name.find(".json.tmp") != std::string::npos) {
      fs::remove(entry.path(), error);  // a write that a kill stopped: never renamed into place
      continue;
    }
    const std::optional<std::size_t> index = index_of(name);
    if (!index) continue;
    const std::string source = entry.path().string();
    SweepPart part;
    try {
      const std::vector<std::uint8_t> bytes = read_file_bytes(entry.path());
      part = parse_part(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                        source);
    } catch (const InputError& damaged) {  // never used: its model trains again
      std::cerr << "vaead: note: " << damaged.what() << "; its model trains again\n";
      continue;
    }
    const auto refuse = [&](const std::string& why) {
      throw InputError("--checkpoint " + folder_ + ": " + source + " " + why +
                       "; resume with the flags and data it was written with, or give another "
                       "folder");
    };
    if (part.version != header_.version)
      refuse("was written by vaead " + part.version + ", this is vaead " + header_.version);
    if (part.grid != header_.grid) refuse("belongs to another sweep (grid, model or training)");
    if (part.data != header_.data) refuse("was trained on other data");
    if (part.device != header_.device)
      refuse(std::string("was trained on the ") + engine_kind_name(part.device) + " engine");
    if (part.points.size() != 1 || part.points[0] != *index || *index >= total)
      refuse("does not hold point " + std::to_string(*index) + " of the " + std::to_string(total) +
             " models");
    check_run_is_point(part.runs[0], *index, config_, source);
    finished.emplace(*index, std::move(part.runs[0]));
  }
  return finished;
}

void Checkpoint::write(std::span<const std::size_t> indices, std::span<const RunResult> runs) {
  for (std::size_t k = 0; k < indices.size(); ++k) {
    SweepPart part = header_;
    part.points = {indices[k]};
    part.runs = {runs[k]};
    part.seconds = runs[k].training.seconds;
    const std::string text = serialize_part(part);
    ++written_;
    write_file_atomically(fs::path(folder_) / file_name(indices[k]), [&](std::ostream& file) {
      file << text;
      fault_point("sweep-in-write", written_, file);
    });
    fault_point("sweep-after-write", written_, std::cout);
  }
}

}  // namespace vaead::cli

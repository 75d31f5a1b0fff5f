// Replays every file of the committed corpora through the fuzz targets (a CTest test, built with
// the normal compiler): a reader change that crashes on a known input fails CI.
//   usage: vaead_fuzz_replay CORPUS_ROOT   (with csv/, npy/ and model/ below it)
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "fuzz_targets.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 2) {
    std::cerr << "usage: vaead_fuzz_replay CORPUS_ROOT\n";
    return 2;
  }
  const std::pair<const char*, int (*)(const std::uint8_t*, std::size_t)> targets[] = {
      {"csv", vaead::fuzz::csv_reader},
      {"npy", vaead::fuzz::npy_reader},
      {"model", vaead::fuzz::model_reader}};
  for (const auto& [name, target] : targets) {
    const fs::path dir = fs::path(argv[1]) / name;
    std::size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                            std::istreambuf_iterator<char>());
      target(bytes.data(), bytes.size());
      ++files;
    }
    std::cout << name << ": replayed " << files << " inputs\n";
    if (files == 0) {
      std::cerr << "no corpus in " << dir << '\n';
      return 1;
    }
  }
  return 0;
}

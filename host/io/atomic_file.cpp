#include <fstream>
#include <random>
#include <system_error>

#include "vaead/error.hpp"
#include "vaead/io.hpp"

namespace vaead {

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write) {
  namespace fs = std::filesystem;
  const fs::path directory = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code error;
  if (!fs::is_directory(directory, error))
    throw InputError("cannot write " + path.string() + ": directory " + directory.string() +
                     " does not exist");
  // A unique temporary name beside the target: rename() within one directory is atomic.
  const fs::path temporary = directory / ("." + path.filename().string() + ".tmp" +
                                          std::to_string(std::random_device{}()));
  try {
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      if (!out)
        throw InputError("cannot write " + path.string() + ": cannot create " + temporary.string());
      write(out);
      out.flush();
      if (!out) throw InputError("cannot write " + path.string() + ": write failed (disk full?)");
    }
    fs::rename(temporary, path, error);
    if (error) throw InputError("cannot write " + path.string() + ": " + error.message());
  } catch (...) {
    fs::remove(temporary, error);
    throw;
  }
}

}  // namespace vaead

// ranks.hpp over MPI (when the build has it) or over this process alone.
#include "cli/ranks.hpp"

#include <cstdlib>
#include <limits>
#include <optional>

#include "vaead/util/error.hpp"

#if VAEAD_WITH_MPI
#include <mpi.h>
#endif

namespace vaead::cli {
namespace {

bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

std::optional<Ranks> started;  // set by ranks()

#if VAEAD_WITH_MPI
bool mpi_running = false;

void check(int code, const char* what) {
  if (code != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}

int as_count(std::size_t size) {
  require(size <= static_cast<std::size_t>(std::numeric_limits<int>::max()),
          "a message of " + std::to_string(size) + " bytes is beyond MPI's int count");
  return static_cast<int>(size);
}
#endif

}  // namespace

bool several_ranks_launched() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* size = std::getenv(name);
    if (size != nullptr && std::atoi(size) > 1) return true;
  }
  return false;
}

const Ranks& ranks() {
  if (started) return *started;
  Ranks r;
#if VAEAD_WITH_MPI
  if (launched_by_mpi()) {
    check(MPI_Init(nullptr, nullptr), "MPI_Init");
    mpi_running = true;
    MPI_Comm_rank(MPI_COMM_WORLD, &r.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r.size);
    MPI_Comm node;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, r.rank, MPI_INFO_NULL, &node),
          "MPI_Comm_split_type");
    MPI_Comm_rank(node, &r.local_rank);
    MPI_Comm_size(node, &r.local_size);
    MPI_Comm_free(&node);
  }
#else
  (void)launched_by_mpi;
#endif
  started = r;
  return *started;
}

std::vector<std::uint8_t> broadcast_from_root(
    const std::function<std::vector<std::uint8_t>()>& read) {
  if (ranks().size == 1) return read();
#if VAEAD_WITH_MPI
  // First a size (or -1 and then the error's text), then the bytes.
  std::vector<std::uint8_t> bytes;
  std::string error;
  long long size = 0;
  if (ranks().root()) {
    try {
      bytes = read();
      size = static_cast<long long>(bytes.size());
    } catch (const std::exception& failure) {  // the others must not wait for bytes
      error = failure.what();
      size = -static_cast<long long>(error.size()) - 1;
    }
  }
  check(MPI_Bcast(&size, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD), "MPI_Bcast");
  if (size < 0) {
    error.resize(static_cast<std::size_t>(-size - 1));
    check(MPI_Bcast(error.data(), as_count(error.size()), MPI_CHAR, 0, MPI_COMM_WORLD),
          "MPI_Bcast");
    throw InputError(error);
  }
  bytes.resize(static_cast<std::size_t>(size));
  check(MPI_Bcast(bytes.data(), as_count(bytes.size()), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return bytes;
#else
  return read();
#endif
}

std::vector<std::string> gather_at_root(const std::string& mine) {
  if (ranks().size == 1) return {mine};
#if VAEAD_WITH_MPI
  const Ranks& r = ranks();
  int size = as_count(mine.size());
  std::vector<int> sizes(r.root() ? static_cast<std::size_t>(r.size) : 0);
  check(MPI_Gather(&size, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Gather");
  std::vector<int> offsets(sizes.size());
  std::size_t total = 0;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    offsets[k] = as_count(total);
    total += static_cast<std::size_t>(sizes[k]);
  }
  std::string all(total, '\0');
  check(MPI_Gatherv(mine.data(), size, MPI_CHAR, all.data(), sizes.data(), offsets.data(), MPI_CHAR,
                    0, MPI_COMM_WORLD),
        "MPI_Gatherv");
  std::vector<std::string> texts;
  for (std::size_t k = 0; k < sizes.size(); ++k)
    texts.push_back(
        all.substr(static_cast<std::size_t>(offsets[k]), static_cast<std::size_t>(sizes[k])));
  return texts;
#else
  return {mine};
#endif
}

void finish_ranks() {
#if VAEAD_WITH_MPI
  if (mpi_running) {
    MPI_Finalize();
    mpi_running = false;
  }
#endif
}

bool reports_errors() {
  if (started) return started->root();
  for (const char* name :
       {"OMPI_COMM_WORLD_RANK", "PMI_RANK"}) {  // MPI not started: the launcher's
    const char* rank = std::getenv(name);
    if (rank != nullptr) return std::atoi(rank) == 0;
  }
  return true;
}

}  // namespace vaead::cli

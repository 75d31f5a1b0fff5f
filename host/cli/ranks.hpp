// The processes of one `vaead sweep`: MPI's ranks when this build has MPI (VAEAD_MPI) and a
// launcher (mpirun, srun) started it, else this process alone. Only the sweep uses them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vaead::cli {

struct Ranks {
  int rank = 0, size = 1;              // in the whole run
  int local_rank = 0, local_size = 1;  // among the ranks on this node
  bool root() const { return rank == 0; }
};

// Whether a launcher started this process as one of several (without starting MPI).
bool several_ranks_launched();

// Starts MPI on the first call when a launcher's environment is there (OMPI_COMM_WORLD_SIZE,
// PMI_SIZE, PMIX_RANK); this process alone otherwise.
const Ranks& ranks();

// `read` run at rank 0, its bytes on every rank. When it throws, every rank throws InputError
// with its message (rank 0 alone reports it).
std::vector<std::uint8_t> broadcast_from_root(
    const std::function<std::vector<std::uint8_t>()>& read);

// At rank 0: every rank's text, in rank order (rank 0's first); empty elsewhere.
std::vector<std::string> gather_at_root(const std::string& mine);

// Ends MPI if ranks() started it; a no-op otherwise. main calls it before returning.
void finish_ranks();

// Whether errors of this process are printed: rank 0's are; the other ranks send theirs to rank
// 0, which names the rank.
bool reports_errors();

}  // namespace vaead::cli

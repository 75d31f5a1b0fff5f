// The tests' way to stop the program at a known point, as a kill or a lost node would:
// VAEAD_FAULT=<point>:<N> makes fault_point(<point>, N) flush `out` and kill this process with
// SIGKILL. Points: sweep-in-write / sweep-after-write (the N-th checkpoint file of a sweep, before
// or after its rename), train-in-write / train-after-write (the checkpoint after epoch N). Unset,
// it does nothing; nothing else reads it.
#pragma once

#include <cstddef>
#include <ostream>

namespace vaead {

void fault_point(const char* point, std::size_t count, std::ostream& out);

}  // namespace vaead

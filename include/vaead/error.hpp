// The exceptions that cross the library boundary; the CLI turns each into one line on stderr.
#pragma once

#include <stdexcept>
#include <string>

namespace vaead {

// A value the user gave (flag, file, configuration) that cannot be used; the message names it.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Training could not go on (a non-finite loss or gradient); the message names epoch, step,
// quantity.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Training was stopped on request (request_stop, trainer.hpp): Ctrl-C in the Python package.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws InputError(message) unless `condition` holds: preconditions checked where they are given.
inline void require(bool condition, const std::string& message) {
  if (!condition) throw InputError(message);
}

}  // namespace vaead

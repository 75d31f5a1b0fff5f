// The exceptions that cross the library boundary; the CLI turns each into one line on stderr.
#pragma once

#include <stdexcept>
#include <string>
#include <type_traits>

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

// Throws InputError naming `name` unless least <= value <= most (the bounds of limits.hpp).
template <class T>
requires std::is_arithmetic_v<T>
void require_within(T value, T least, T most, const std::string& name) {
  if (value >= least && value <= most) return;
  auto text = [](T v) {
    std::string out = std::to_string(v);
    if constexpr (std::is_floating_point_v<T>) {  // 1000000.000000 -> 1000000
      out.erase(out.find_last_not_of('0') + 1);
      if (out.back() == '.') out.pop_back();
    }
    return out;
  };
  throw InputError(name + " must lie in [" + text(least) + ", " + text(most) + "], got " +
                   text(value));
}

}  // namespace vaead

// The largest value each setting accepts. Past these a run is not what anyone meant, and trying it
// would fail far from the cause (a thread that cannot start, an allocation that takes the
// machine's memory, a loop of a billion epochs); the library refuses them in validate(), naming
// the setting, and the command line's flags and the Python package carry the same bounds.
#pragma once

#include <cstddef>

namespace vaead::limits {

inline constexpr int kThreads = 1024;         // CPU threads (and models trained at once)
inline constexpr int kWidth = 16384;          // latent size, hidden widths, synthetic features
inline constexpr int kHiddenLayers = 32;      // hidden layers of the encoder, and of the decoder
inline constexpr int kEpochs = 1'000'000;     // epochs and KL warm-up epochs
inline constexpr int kBatchSize = 1 << 24;    // rows per step
inline constexpr int kSteps = 1'000'000'000;  // the detector's automatic step budget
inline constexpr int kSeeds = 10'000;         // seeds per configuration of a sweep
inline constexpr std::size_t kGridPoints = 1'000'000;  // models of one sweep
inline constexpr int kSyntheticRows = 100'000'000;     // rows of each synthetic split
inline constexpr double kSigmas = 1e6;  // synthetic noise and anomaly magnitudes (in sigmas)

}  // namespace vaead::limits

// The Scorer: each anomaly score defined once, from a row and its reconstruction. The CPU model
// calls it for each row it scores, and the CUDA scoring kernel for each row (one thread a row), so
// both engines compute a score with the same operations in the same order: given the same
// reconstruction, the same bits. A new score is a function here, called by both.
#pragma once

#include "vaead/host_device.hpp"

namespace vaead {

// The reconstruction score: mean over features of (x - x_hat)^2, summed in double in feature
// order; each feature's squared error into per_feature[j] when per_feature is not null.
//   x, x_hat, per_feature: [features]
template <class T>
VAEAD_HOST_DEVICE inline float reconstruction_score(const T* x, const T* x_hat, int features,
                                                    float* per_feature) {
  double sum = 0.0;
  for (int j = 0; j < features; ++j) {
    const double diff = static_cast<double>(x[j]) - static_cast<double>(x_hat[j]);
    sum += diff * diff;
    if (per_feature != nullptr) per_feature[j] = static_cast<float>(diff * diff);
  }
  return static_cast<float>(sum / static_cast<double>(features));
}

}  // namespace vaead

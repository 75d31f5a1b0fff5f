// The kernels' view of the latent padding (kernels/training_state.cuh), filled from the padded
// parameter layout on the host.
#pragma once

#include <cstddef>

#include "training_state.cuh"
#include "vaead/model/model.hpp"

namespace vaead::cuda {

inline LatentPadding latent_padding(const ParameterLayout& padded) {
  const auto offset = [](std::size_t value) { return static_cast<long long>(value); };
  return LatentPadding{offset(padded.mu.weight_offset),
                       offset(padded.mu.bias_offset),
                       offset(padded.logvar.weight_offset),
                       offset(padded.logvar.bias_offset),
                       offset(padded.decoder[0].weight_offset),
                       padded.mu.in,
                       padded.decoder[0].out,
                       padded.architecture.latent_dim};
}

}  // namespace vaead::cuda

// Where the fused training step finds each parameter: the network padded to the tensor cores'
// shape, its packed buffer, and the shared memory a tile of rows needs.
#pragma once

#include <string>
#include <vector>

#include "fused_step.cuh"
#include "vaead/model/model.hpp"

namespace vaead::cuda {

struct FusedLayout {
  FusedShape shape;
  // packed_index[i]: where flat index i of the padded ParameterLayout lies in the packed buffer.
  std::vector<long long> packed_index;
  // Empty when the fused step serves this network; else why not (the tiled path trains it).
  std::string unfit;
};

// sm_90's shared memory a block may opt into (227 KB).
inline constexpr std::size_t kFusedSharedLimit = 227 << 10;

FusedLayout make_fused_layout(const ParameterLayout& layout);

}  // namespace vaead::cuda

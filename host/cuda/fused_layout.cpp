// The fused step's layout: every width rounded up to 16 (zero weights in the padding), the two
// latent heads stacked into one layer of 2 L outputs, offsets aligned for WMMA's 256-bit loads.
#include "cuda/fused_layout.hpp"

#include <algorithm>

namespace vaead::cuda {
namespace {

int padded(int width) {
  return (width + kFusedWidthMultiple - 1) / kFusedWidthMultiple * kFusedWidthMultiple;
}

long long aligned(long long floats, long long multiple) {
  return (floats + multiple - 1) / multiple * multiple;
}

// Where each parameter of the plain layout sits in the packed copy: a layer's weight rows, then its
// bias, the two heads as one product of width 2 * latent (mu's rows, then logvar's).
std::vector<long long> packed_index_of(const ParameterLayout& layout, const FusedShape& shape) {
  std::vector<long long> packed_index(layout.size, -1);
  const auto map = [&](const LinearLayout& l, int index, int first_row) {
    for (int o = 0; o < l.out; ++o) {
      for (int i = 0; i < l.in; ++i)
        packed_index[l.weight_offset + static_cast<std::size_t>(o) * l.in + i] =
            shape.weight[index] + static_cast<long long>(first_row + o) * shape.in[index] + i;
      packed_index[l.bias_offset + static_cast<std::size_t>(o)] = shape.bias[index] + first_row + o;
    }
  };
  const int encoders = static_cast<int>(layout.encoder.size());
  for (int i = 0; i < encoders; ++i)
    map(layout.encoder[static_cast<std::size_t>(i)], i, 0);
  map(layout.mu, shape.heads, 0);
  map(layout.logvar, shape.heads, shape.latent);
  for (int i = 0; i < static_cast<int>(layout.decoder.size()); ++i)
    map(layout.decoder[static_cast<std::size_t>(i)], shape.heads + 1 + i, 0);
  return packed_index;
}

// The activation buffers in shared memory: x, each layer's output, z, eps, then two gradient
// buffers as wide as the widest of them, each kFusedRows rows with a padded leading dimension.
void place_buffers(FusedShape& shape) {
  std::vector<int> widths{shape.in[0]};
  for (int i = 0; i < shape.layers; ++i)
    widths.push_back(shape.out[i]);
  widths.push_back(shape.latent);
  widths.push_back(shape.latent);
  const int widest = *std::max_element(widths.begin(), widths.end());
  widths.push_back(widest);
  widths.push_back(widest);
  long long floats = 0;
  shape.buffers = static_cast<int>(widths.size());
  for (int b = 0; b < shape.buffers; ++b) {
    shape.buffer_offset[b] = static_cast<int>(floats);
    shape.buffer_ld[b] = widths[static_cast<std::size_t>(b)] + 4;
    floats = aligned(floats + static_cast<long long>(kFusedRows) * shape.buffer_ld[b], 32);
  }
  shape.shared_bytes = static_cast<std::size_t>(floats) * sizeof(float);
}

}  // namespace

FusedLayout make_fused_layout(const ParameterLayout& layout) {
  FusedLayout fused;
  FusedShape& shape = fused.shape;
  const int encoders = static_cast<int>(layout.encoder.size());
  const int decoders = static_cast<int>(layout.decoder.size());
  shape.layers = encoders + 1 + decoders;
  if (shape.layers > kFusedMaxLayers) {
    fused.unfit = std::to_string(shape.layers) + " layers, more than the fused step's " +
                  std::to_string(kFusedMaxLayers);
    return fused;
  }
  shape.heads = encoders;
  shape.features = layout.architecture.input_dim;
  shape.latent = padded(layout.architecture.latent_dim);
  shape.latent_stride = layout.architecture.latent_dim;
  long long offset = 0;
  const auto place = [&](int index, int in, int out) {
    shape.in[index] = in;
    shape.out[index] = out;
    shape.weight[index] = offset;
    offset += static_cast<long long>(in) * out;
    shape.bias[index] = offset;
    offset = aligned(offset + out, 8);
  };
  for (int i = 0; i < encoders; ++i)
    place(i, padded(layout.encoder[static_cast<std::size_t>(i)].in),
          padded(layout.encoder[static_cast<std::size_t>(i)].out));
  place(shape.heads, padded(layout.mu.in), 2 * shape.latent);
  for (int i = 0; i < decoders; ++i)
    place(shape.heads + 1 + i, padded(layout.decoder[static_cast<std::size_t>(i)].in),
          padded(layout.decoder[static_cast<std::size_t>(i)].out));
  shape.packed_size = aligned(offset, 32);

  fused.packed_index = packed_index_of(layout, shape);
  place_buffers(shape);
  if (shape.shared_bytes > kFusedSharedLimit)
    fused.unfit = "its activations need " + std::to_string(shape.shared_bytes) +
                  " bytes of shared memory a block, more than sm_90's " +
                  std::to_string(kFusedSharedLimit);
  return fused;
}

}  // namespace vaead::cuda

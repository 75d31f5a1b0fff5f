// The VAE's architecture and the layout of its one flat parameter buffer.
//
// The buffer holds every tensor in the order and layout of this PyTorch module, so a model file
// loads into PyTorch as it is:
//   encoder = nn.Sequential(Linear(d, h1), ReLU(), Linear(h1, h2), ReLU())   # encoder.0, encoder.2
//   mu      = nn.Linear(h2, L)
//   logvar  = nn.Linear(h2, L)
//   decoder = nn.Sequential(Linear(L, g1), ReLU(), Linear(g1, g2), ReLU(), Linear(g2, d))
// Each Linear is weight [out][in] row-major, then bias [out]. Gradients and Adam moments use the
// same layout, so the optimizer is one pass over one buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vaead {

struct Architecture {
  int input_dim = 30;
  std::vector<int> encoder_hidden{128, 64};
  int latent_dim = 8;
  std::vector<int> decoder_hidden{64, 128};

  // Throws InputError naming the first size that is not positive (or an empty encoder).
  void validate() const;
};

struct LinearLayout {
  std::string name;  // PyTorch module path, e.g. "encoder.0"
  int in = 0;
  int out = 0;
  std::size_t weight_offset = 0;  // [out][in]
  std::size_t bias_offset = 0;    // [out]
  std::size_t weight_count() const { return static_cast<std::size_t>(in) * out; }
};

struct ParameterLayout {
  Architecture architecture;
  std::vector<LinearLayout> encoder;  // each followed by ReLU
  LinearLayout mu;
  LinearLayout logvar;
  std::vector<LinearLayout> decoder;  // ReLU after each but the last
  std::size_t size = 0;               // floats in the buffer

  // Every Linear in buffer order.
  std::vector<const LinearLayout*> layers() const;
  // The widest activation of the network (input, latent or any layer's output): the size of the
  // engines' gradient scratch rows.
  std::size_t widest_activation() const;
  // "encoder.0.weight[12]": the tensor and element that flat index `index` belongs to.
  std::string describe(std::size_t index) const;
  // Floating-point operations of one training step per sample (forward + backward), counting a
  // multiply-add as two; used for GFLOP/s.
  double training_flops_per_sample() const;
};

ParameterLayout make_layout(const Architecture& architecture);

// PyTorch's default Linear initialization: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)), drawn from
// the counter-based generator (RandomStream::initialization) with `seed`.
std::vector<float> initial_parameters(const ParameterLayout& layout, std::uint64_t seed);

// `values` (laid out by `from`) in the layout `to` of the same network with another latent size:
// each tensor's common block [min rows][min cols] is copied and the rest is 0. From a model into
// a larger latent this is padding: the latents beyond the model's own have zero head rows and
// zero decoder columns, so (with their noise at 0) they compute nothing and learn nothing. Back
// into the model's own layout it removes the padding.
std::vector<float> embed_parameters(const ParameterLayout& from, const ParameterLayout& to,
                                    std::span<const float> values);

// Where flat index `index` of `from` lies in `to` (the same network with another latent size), as
// embed_parameters moves it; nullopt when it lies outside `to` (padding).
std::optional<std::size_t> index_in_layout(const ParameterLayout& from, std::size_t index,
                                           const ParameterLayout& to);

}  // namespace vaead

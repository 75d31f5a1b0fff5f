#include <algorithm>
#include <cmath>
#include <string>

#include "vaead/model/model.hpp"
#include "vaead/philox.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/limits.hpp"

namespace vaead {

void Architecture::validate() const {
  // The input width comes from the data, which may be wide; what the user sets is bounded.
  require(input_dim >= 1, "input dimension must be at least 1, got " + std::to_string(input_dim));
  require_within(latent_dim, 1, limits::kWidth, "latent size");
  require(!encoder_hidden.empty(), "the encoder needs at least one hidden layer");
  require(!decoder_hidden.empty(), "the decoder needs at least one hidden layer");
  require_within(static_cast<int>(std::min<std::size_t>(encoder_hidden.size(), INT32_MAX)), 1,
                 limits::kHiddenLayers, "encoder hidden layers");
  require_within(static_cast<int>(std::min<std::size_t>(decoder_hidden.size(), INT32_MAX)), 1,
                 limits::kHiddenLayers, "decoder hidden layers");
  for (int width : encoder_hidden)
    require_within(width, 1, limits::kWidth, "encoder hidden width");
  for (int width : decoder_hidden)
    require_within(width, 1, limits::kWidth, "decoder hidden width");
}

ParameterLayout make_layout(const Architecture& architecture) {
  architecture.validate();
  ParameterLayout layout;
  layout.architecture = architecture;
  std::size_t offset = 0;
  auto linear = [&offset](std::string name, int in, int out) {
    LinearLayout l{std::move(name), in, out, offset, offset + static_cast<std::size_t>(in) * out};
    offset = l.bias_offset + static_cast<std::size_t>(out);
    return l;
  };
  // nn.Sequential numbers its modules; every Linear is followed by a ReLU, hence the even indices.
  int width = architecture.input_dim;
  for (std::size_t i = 0; i < architecture.encoder_hidden.size(); ++i) {
    layout.encoder.push_back(
        linear("encoder." + std::to_string(2 * i), width, architecture.encoder_hidden[i]));
    width = architecture.encoder_hidden[i];
  }
  layout.mu = linear("mu", width, architecture.latent_dim);
  layout.logvar = linear("logvar", width, architecture.latent_dim);
  width = architecture.latent_dim;
  for (std::size_t i = 0; i <= architecture.decoder_hidden.size(); ++i) {
    const int out = i < architecture.decoder_hidden.size() ? architecture.decoder_hidden[i]
                                                           : architecture.input_dim;
    layout.decoder.push_back(linear("decoder." + std::to_string(2 * i), width, out));
    width = out;
  }
  layout.size = offset;
  return layout;
}

std::vector<const LinearLayout*> ParameterLayout::layers() const {
  std::vector<const LinearLayout*> all;
  for (const auto& l : encoder)
    all.push_back(&l);
  all.push_back(&mu);
  all.push_back(&logvar);
  for (const auto& l : decoder)
    all.push_back(&l);
  return all;
}

std::size_t ParameterLayout::widest_activation() const {
  int widest = std::max(architecture.input_dim, architecture.latent_dim);
  for (const LinearLayout* l : layers())
    widest = std::max(widest, l->out);
  return static_cast<std::size_t>(widest);
}

std::string ParameterLayout::describe(std::size_t index) const {
  for (const LinearLayout* l : layers()) {
    if (index >= l->weight_offset && index < l->bias_offset)
      return l->name + ".weight[" + std::to_string(index - l->weight_offset) + "]";
    if (index >= l->bias_offset && index < l->bias_offset + static_cast<std::size_t>(l->out))
      return l->name + ".bias[" + std::to_string(index - l->bias_offset) + "]";
  }
  return "parameter[" + std::to_string(index) + "] (outside the layout)";
}

double ParameterLayout::training_flops_per_sample() const {
  // Forward: 2 * in * out per Linear. Backward: the weight gradient (2 * in * out) and the input
  // gradient (2 * in * out), except the first encoder layer, whose input needs none.
  double flops = 0.0;
  for (const LinearLayout* l : layers())
    flops += 6.0 * static_cast<double>(l->weight_count());
  return flops - 2.0 * static_cast<double>(encoder.front().weight_count());
}

std::vector<float> initial_parameters(const ParameterLayout& layout, std::uint64_t seed) {
  const CounterRng rng{seed, RandomStream::initialization};
  std::vector<float> values(layout.size);
  for (const LinearLayout* l : layout.layers()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(l->in));
    const std::size_t end = l->bias_offset + static_cast<std::size_t>(l->out);
    for (std::size_t i = l->weight_offset; i < end; ++i) {
      const double u = rng.uniform(static_cast<std::uint32_t>(i), 0, 0);
      values[i] = static_cast<float>(bound * (2.0 * u - 1.0));
    }
  }
  return values;
}

std::vector<float> embed_parameters(const ParameterLayout& from, const ParameterLayout& to,
                                    std::span<const float> values) {
  require(values.size() == from.size, "expected " + std::to_string(from.size) +
                                          " parameters, got " + std::to_string(values.size()));
  const std::vector<const LinearLayout*> source = from.layers(), target = to.layers();
  require(source.size() == target.size(), "the two layouts have different layer counts");
  std::vector<float> out(to.size, 0.0f);
  for (std::size_t k = 0; k < source.size(); ++k) {
    const LinearLayout &a = *source[k], &b = *target[k];
    require(a.name == b.name, "the two layouts name layer " + std::to_string(k) + " differently");
    const int rows = std::min(a.out, b.out), cols = std::min(a.in, b.in);
    for (int o = 0; o < rows; ++o) {
      for (int i = 0; i < cols; ++i)
        out[b.weight_offset + static_cast<std::size_t>(o) * b.in + i] =
            values[a.weight_offset + static_cast<std::size_t>(o) * a.in + i];
      out[b.bias_offset + o] = values[a.bias_offset + o];
    }
  }
  return out;
}

std::optional<std::size_t> index_in_layout(const ParameterLayout& from, std::size_t index,
                                           const ParameterLayout& to) {
  const std::vector<const LinearLayout*> source = from.layers(), target = to.layers();
  require(source.size() == target.size(), "the two layouts have different layer counts");
  for (std::size_t k = 0; k < source.size(); ++k) {
    const LinearLayout &a = *source[k], &b = *target[k];
    if (index >= a.weight_offset && index < a.bias_offset) {
      const std::size_t row = (index - a.weight_offset) / static_cast<std::size_t>(a.in);
      const std::size_t column = (index - a.weight_offset) % static_cast<std::size_t>(a.in);
      if (row >= static_cast<std::size_t>(b.out) || column >= static_cast<std::size_t>(b.in))
        return std::nullopt;
      return b.weight_offset + row * static_cast<std::size_t>(b.in) + column;
    }
    if (index >= a.bias_offset && index < a.bias_offset + static_cast<std::size_t>(a.out)) {
      const std::size_t row = index - a.bias_offset;
      if (row >= static_cast<std::size_t>(b.out)) return std::nullopt;
      return b.bias_offset + row;
    }
  }
  return std::nullopt;
}

}  // namespace vaead

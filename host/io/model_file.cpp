// safetensors: 8 bytes little-endian header length N, N bytes of JSON header (padded with spaces
// to a multiple of 8), then the tensor data; each header entry is
// {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]} relative to the data.
#include "vaead/io/model_file.hpp"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "io/config_json.hpp"
#include "util/text.hpp"
#include "vaead/data/table.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/util/error.hpp"
#include "vaead/util/version.hpp"

namespace vaead {
namespace {

using nlohmann::json;
static_assert(std::endian::native == std::endian::little, "model files are little-endian");

constexpr std::uint64_t kMaxHeaderBytes = 64ull << 20;
constexpr int kMaxNesting = 32;

json architecture_json(const Architecture& a) {
  return {{"input_dim", a.input_dim},   {"encoder_hidden", a.encoder_hidden},
          {"latent_dim", a.latent_dim}, {"decoder_hidden", a.decoder_hidden},
          {"activation", "relu"},       {"heads", "mu, logvar"}};
}

json training_json(const ModelFile& m) {
  json training = training_config_json(m.engine, m.train);
  training["seed"] = m.engine.seed;
  training["holdout_fraction"] = m.holdout_fraction;
  training["training_rows"] = m.training_rows;
  training["holdout_rows"] = m.holdout_rows;
  training["dropped_anomalies"] = m.dropped_anomalies;
  return training;
}

// ---- reading ---------------------------------------------------------------------------------

// The deepest nesting of [ and { outside strings: nlohmann's parser recurses, so a hostile header
// of a million '[' must be refused before it is parsed.
int nesting_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

class ModelParser {
 public:
  ModelParser(std::span<const std::uint8_t> bytes, std::string source)
      : bytes_(bytes), source_(std::move(source)) {}

  ModelFile parse() {
    if (bytes_.size() < 8)
      fail("too short for a safetensors file (" + std::to_string(bytes_.size()) + " bytes)");
    std::uint64_t header_length = 0;
    std::memcpy(&header_length, bytes_.data(), 8);
    if (header_length > kMaxHeaderBytes || header_length > bytes_.size() - 8)
      fail("header length " + std::to_string(header_length) + " runs past the file (" +
           std::to_string(bytes_.size()) + " bytes) or the 64 MiB cap");
    const std::string_view header(reinterpret_cast<const char*>(bytes_.data()) + 8,
                                  static_cast<std::size_t>(header_length));
    data_ = bytes_.subspan(8 + static_cast<std::size_t>(header_length));
    const json root = parse_json(header, "the header");
    if (!root.is_object()) fail("the header is not a JSON object");
    if (!root.contains("__metadata__") || !root["__metadata__"].is_object())
      fail("no __metadata__: not a vaead model");
    metadata_ = root["__metadata__"];

    ModelFile model;
    const std::string version = text("format_version");
    int number = 0;
    const auto [end, status] =
        std::from_chars(version.data(), version.data() + version.size(), number);
    if (status != std::errc() || end != version.data() + version.size())
      fail("format version " + text::quote(version) + " is not a number");
    if (number != kModelFormatVersion && number != kEnsembleFormatVersion)
      fail("format version " + version + ", this vaead reads versions " +
           std::to_string(kModelFormatVersion) + " and " + std::to_string(kEnsembleFormatVersion));
    model.engine.architecture = architecture(parsed("architecture"));
    read_training(parsed("training"), model);
    read_standardizer(parsed("standardizer"), model);
    read_threshold(parsed("threshold"), model);
    read_features(parsed("feature_names"), model);
    const ParameterLayout layout = make_layout(model.engine.architecture);
    std::size_t members = 1;
    if (number == kEnsembleFormatVersion) {
      const json ensemble = parsed("ensemble");
      model.member_scales = list<double>(ensemble, "score_scales", "ensemble");
      members = model.member_scales.size();
      if (members < 2 || members > kMaxMembers)
        fail("ensemble.score_scales must hold 2 to " + std::to_string(kMaxMembers) +
             " members, got " + std::to_string(members));
      model.member_seeds = list<std::uint64_t>(ensemble, "seeds", "ensemble");
      model.member_betas = list<double>(ensemble, "betas", "ensemble");
      if (model.member_seeds.size() != members || model.member_betas.size() != members)
        fail("ensemble.seeds and ensemble.betas must hold one value per member");
      for (double scale : model.member_scales)
        if (!(scale > 0) || !std::isfinite(scale) || scale > 1e30)
          fail("an ensemble member's score scale (" + text::number(scale) +
               ") is not a positive finite number");
    }
    model.parameters = read_tensors(root, layout, "", members);
    for (std::size_t k = 1; k < members; ++k)
      model.more_members.push_back(
          read_tensors(root, layout, "members." + std::to_string(k) + ".", members));
    return model;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(source_ + ": not a valid vaead model: " + what);
  }

  json parse_json(std::string_view text_value, const std::string& what) const {
    if (nesting_depth(text_value) > kMaxNesting) fail(what + " nests too deeply");
    try {
      return json::parse(text_value);
    } catch (const json::exception&) {
      fail(what + " is not valid JSON");
    }
  }

  std::string text(const char* key) const {
    if (!metadata_.contains(key) || !metadata_[key].is_string())
      fail(std::string("metadata '") + key + "' is missing or not a string");
    return metadata_[key].get<std::string>();
  }

  json parsed(const char* key) const {
    return parse_json(text(key), std::string("metadata '") + key + "'");
  }

  const json& member(const json& object, const char* key, const std::string& section) const {
    if (!object.is_object() || !object.contains(key)) fail(section + "." + key + " is missing");
    return object[key];
  }

  // An integer that fits T: nlohmann's own conversion of 1e20 to int would be undefined.
  template <class T>
  T integer(const json& value, const std::string& what) const {
    if (value.is_number_unsigned()) {
      const auto v = value.get<std::uint64_t>();
      if (v <= static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return static_cast<T>(v);
    } else if (value.is_number_integer()) {
      const auto v = value.get<std::int64_t>();
      if (v >= 0 || std::is_signed_v<T>)
        if (static_cast<long double>(v) >=
                static_cast<long double>(std::numeric_limits<T>::min()) &&
            static_cast<long double>(v) <= static_cast<long double>(std::numeric_limits<T>::max()))
          return static_cast<T>(v);
    }
    fail(what + " is not an integer in range");
  }

  template <class T>
  T get(const json& object, const char* key, const char* section) const {
    const json& value = member(object, key, section);
    const std::string what = std::string(section) + "." + key;
    if constexpr (std::is_integral_v<T>) {
      return integer<T>(value, what);
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!value.is_string()) fail(what + " is not a string");
      return value.get<std::string>();
    } else {
      if (!value.is_number()) fail(what + " is not a number");
      return value.get<T>();
    }
  }

  template <class T>
  std::vector<T> list(const json& object, const char* key, const char* section) const {
    const json& value = member(object, key, section);
    const std::string what = std::string(section) + "." + key;
    if (!value.is_array()) fail(what + " is not a list");
    std::vector<T> out;
    for (const json& item : value) {
      if constexpr (std::is_integral_v<T>) {
        out.push_back(integer<T>(item, what));
      } else {
        if (!item.is_number()) fail(what + " holds a non-number");
        out.push_back(item.get<T>());
      }
    }
    return out;
  }

  int width(const json& object, const char* key, const char* section) const {
    const auto value = get<long long>(object, key, section);
    if (value < 1 || value > kMaxModelWidth)
      fail(std::string(section) + "." + key + " = " + std::to_string(value) + " is out of range");
    return static_cast<int>(value);
  }

  std::vector<int> widths(const json& object, const char* key) const {
    const auto values = list<long long>(object, key, "architecture");
    if (values.empty() || values.size() > kMaxHiddenLayers)
      fail(std::string("architecture.") + key + " must hold 1 to 16 layers");
    std::vector<int> out;
    for (long long v : values) {
      if (v < 1 || v > kMaxModelWidth)
        fail(std::string("architecture.") + key + " has a bad width");
      out.push_back(static_cast<int>(v));
    }
    return out;
  }

  Architecture architecture(const json& a) const {
    Architecture arch;
    arch.input_dim = width(a, "input_dim", "architecture");
    arch.latent_dim = width(a, "latent_dim", "architecture");
    arch.encoder_hidden = widths(a, "encoder_hidden");
    arch.decoder_hidden = widths(a, "decoder_hidden");
    return arch;
  }

  void read_training(const json& t, ModelFile& m) const {
    m.train.epochs = get<int>(t, "epochs", "training");
    m.train.beta = get<double>(t, "beta", "training");
    m.train.kl_warmup_epochs = get<int>(t, "kl_warmup_epochs", "training");
    m.engine.batch_size = get<int>(t, "batch_size", "training");
    m.engine.adam.learning_rate = get<double>(t, "learning_rate", "training");
    const auto betas = list<double>(t, "adam_betas", "training");
    const auto clamp = list<double>(t, "logvar_clamp", "training");
    if (betas.size() != 2 || clamp.size() != 2) fail("training.adam_betas or logvar_clamp");
    m.engine.adam.beta1 = betas[0];
    m.engine.adam.beta2 = betas[1];
    m.engine.adam.epsilon = get<double>(t, "adam_epsilon", "training");
    m.engine.logvar_min = clamp[0];
    m.engine.logvar_max = clamp[1];
    m.engine.seed = get<std::uint64_t>(t, "seed", "training");
    m.holdout_fraction = get<double>(t, "holdout_fraction", "training");
    m.training_rows = get<std::size_t>(t, "training_rows", "training");
    m.holdout_rows = get<std::size_t>(t, "holdout_rows", "training");
    m.dropped_anomalies = get<std::size_t>(t, "dropped_anomalies", "training");
    try {
      m.engine.validate();
    } catch (const InputError& error) {
      fail(std::string("training: ") + error.what());
    }
  }

  void read_standardizer(const json& s, ModelFile& m) const {
    const auto mean = list<double>(s, "mean", "standardizer");
    const auto scale = list<double>(s, "scale", "standardizer");
    const auto size = static_cast<std::size_t>(m.engine.architecture.input_dim);
    if (mean.size() != size || scale.size() != size)
      fail("the standardizer has " + std::to_string(mean.size()) + " means and " +
           std::to_string(scale.size()) + " scales for " + std::to_string(size) + " features");
    // (x - mean) / scale must be representable for any float x: a mean within the float range,
    // a scale whose inverse a float holds.
    constexpr double kFloatMax = std::numeric_limits<float>::max();
    for (std::size_t j = 0; j < size; ++j)
      if (!(std::abs(mean[j]) <= kFloatMax) || !(scale[j] >= 1.0 / kFloatMax) ||
          !(scale[j] <= kFloatMax))
        fail("the standardizer of feature " + std::to_string(j) + " (mean " +
             text::number(mean[j]) + ", scale " + text::number(scale[j]) +
             ") is outside what a float table can have");
    m.standardizer.mean = mean;
    m.standardizer.scale = scale;
    m.standardizer.constant_columns = list<std::size_t>(s, "constant_columns", "standardizer");
  }

  void read_threshold(const json& t, ModelFile& m) const {
    try {
      m.threshold_rule = ThresholdRule::parse(get<std::string>(t, "rule", "threshold"));
    } catch (const InputError& error) {
      fail(std::string("threshold: ") + error.what());
    }
    m.threshold = get<double>(t, "value", "threshold");
    m.holdout_scores = list<float>(t, "holdout_scores", "threshold");
    if (!std::isfinite(m.threshold)) fail("the threshold is not finite");
    for (float s : m.holdout_scores)
      if (!std::isfinite(s)) fail("a held-out score is not finite");
  }

  void read_features(const json& names, ModelFile& m) const {
    if (!names.is_array() ||
        names.size() != static_cast<std::size_t>(m.engine.architecture.input_dim))
      fail("feature_names must list " + std::to_string(m.engine.architecture.input_dim) + " names");
    std::set<std::string> seen;
    for (const json& name : names) {
      if (!name.is_string() || !seen.insert(name.get<std::string>()).second)
        fail("feature_names must be distinct strings");
      m.feature_names.push_back(name.get<std::string>());
    }
  }

  // Every tensor the layout expects, with its exact dtype, shape and byte range; nothing else.
  // `prefix` names an ensemble member's tensors ("members.2."); the file holds `members`.
  std::vector<float> read_tensors(const json& root, const ParameterLayout& layout,
                                  const std::string& prefix, std::size_t members) {
    // Before any allocation: the architecture's parameters must fit in the file's data.
    if (layout.size > data_.size() / 4 / members)
      fail("the architecture needs " + std::to_string(layout.size) + " parameters" +
           (members > 1 ? " for each of " + std::to_string(members) + " members" : "") +
           ", the file holds " + std::to_string(data_.size() / 4));
    std::vector<float> values(layout.size);
    for (const LinearLayout* l : layout.layers()) {
      const std::pair<std::string, std::vector<std::uint64_t>> expected[] = {
          {prefix + l->name + ".weight",
           {static_cast<std::uint64_t>(l->out), static_cast<std::uint64_t>(l->in)}},
          {prefix + l->name + ".bias", {static_cast<std::uint64_t>(l->out)}}};
      std::size_t destination = l->weight_offset;
      for (const auto& [name, shape] : expected) {
        if (!root.contains(name)) fail("tensor " + name + " is missing");
        const json& entry = root[name];
        if (get<std::string>(entry, "dtype", name.c_str()) != "F32")
          fail("tensor " + name + " is not F32");
        if (list<std::uint64_t>(entry, "shape", name.c_str()) != shape)
          fail("tensor " + name + " has the wrong shape for the architecture");
        const auto offsets = list<std::uint64_t>(entry, "data_offsets", name.c_str());
        std::uint64_t count = 1;
        for (std::uint64_t d : shape)
          count *= d;
        if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > data_.size() ||
            offsets[1] - offsets[0] != count * 4)
          fail("tensor " + name + " has data offsets outside the file or of the wrong size");
        ranges_.emplace_back(offsets[0], offsets[1]);
        std::memcpy(values.data() + destination, data_.data() + offsets[0], count * 4);
        destination += count;
        ++tensors_;
      }
    }
    // After the last member: nothing else in the header, no two tensors sharing bytes.
    if (prefix.empty() ? members == 1 : prefix == "members." + std::to_string(members - 1) + ".") {
      if (root.size() != tensors_ + 1)
        fail("the header holds tensors the architecture does not have");
      std::sort(ranges_.begin(), ranges_.end());
      for (std::size_t i = 1; i < ranges_.size(); ++i)
        if (ranges_[i].first < ranges_[i - 1].second) fail("tensors overlap in the data");
    }
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (!std::isfinite(values[i])) fail("parameter " + layout.describe(i) + " is not finite");
      if (std::abs(values[i]) > kMaxParameter)
        fail("parameter " + layout.describe(i) + " = " + text::number(values[i]) +
             " is beyond any trained model (a damaged file?)");
    }
    return values;
  }

  std::span<const std::uint8_t> bytes_, data_;
  std::string source_;
  json metadata_;
  std::size_t tensors_ = 0;  // read so far, over every member
  std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges_;
};

// The tensors' entries of the safetensors header: each member's layers, named as PyTorch's
// state_dict names them (members after the first prefixed "members.k."), at their byte offsets.
void add_tensor_entries(json& header, const ParameterLayout& layout, std::size_t members) {
  for (std::size_t k = 0; k < members; ++k) {
    const std::string prefix = k == 0 ? "" : "members." + std::to_string(k) + ".";
    const std::uint64_t base = static_cast<std::uint64_t>(k) * layout.size * 4;
    for (const LinearLayout* l : layout.layers()) {
      const std::uint64_t w = base + l->weight_offset * 4, b = base + l->bias_offset * 4;
      header[prefix + l->name + ".weight"] = {
          {"dtype", "F32"}, {"shape", {l->out, l->in}}, {"data_offsets", {w, b}}};
      header[prefix + l->name + ".bias"] = {
          {"dtype", "F32"},
          {"shape", {l->out}},
          {"data_offsets", {b, b + static_cast<std::uint64_t>(l->out) * 4}}};
    }
  }
}

// The header's __metadata__: strings only, as safetensors wants (JSON objects as their text).
json metadata_of(const ModelFile& m) {
  const std::size_t members = m.members();
  const json standardizer = {{"mean", m.standardizer.mean},
                             {"scale", m.standardizer.scale},
                             {"constant_columns", m.standardizer.constant_columns}};
  const json threshold = {{"rule", m.threshold_rule.to_string()},
                          {"description", m.threshold_rule.describe()},
                          {"value", m.threshold},
                          {"holdout_scores", m.holdout_scores}};
  json metadata = {{"format", "vaead variational autoencoder"},
                   {"format_version",
                    std::to_string(members == 1 ? kModelFormatVersion : kEnsembleFormatVersion)},
                   {"vaead_version", std::string(version())},
                   {"architecture", architecture_json(m.engine.architecture).dump()},
                   {"standardizer", standardizer.dump()},
                   {"threshold", threshold.dump()},
                   {"training", training_json(m).dump()},
                   {"feature_names", json(m.feature_names).dump()},
                   {"training_rows", std::to_string(m.training_rows)}};
  if (members > 1) {
    metadata["ensemble"] =
        json{{"members", members},
             {"seeds", m.member_seeds},
             {"betas", m.member_betas},
             {"score_scales", m.member_scales},
             {"score", "mean over members of reconstruction error / score_scale"}}
            .dump();
  }
  return metadata;
}

}  // namespace

std::vector<std::uint8_t> serialize_model(const ModelFile& m) {
  const ParameterLayout layout = make_layout(m.engine.architecture);
  const std::size_t members = m.members();
  require(members == 1 ? m.member_scales.empty()
                       : m.member_scales.size() == members && m.member_seeds.size() == members &&
                             m.member_betas.size() == members,
          "an ensemble needs one score scale, seed and beta per member");
  for (std::size_t k = 0; k < members; ++k)
    require(m.member_parameters(k).size() == layout.size,
            "the model's parameters do not fit its layout");
  json header = json::object();
  add_tensor_entries(header, layout, members);
  header["__metadata__"] = metadata_of(m);
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> bytes;
  bytes.reserve(8 + text.size() + members * layout.size * 4);
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<std::uint8_t>(text.size() >> (8 * i)));
  bytes.insert(bytes.end(), text.begin(), text.end());
  for (std::size_t k = 0; k < members; ++k) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(m.member_parameters(k).data());
    bytes.insert(bytes.end(), data, data + layout.size * 4);
  }
  return bytes;
}

void write_model(const std::filesystem::path& path, const ModelFile& model) {
  const std::vector<std::uint8_t> bytes = serialize_model(model);
  try {
    parse_model(bytes, path.string());  // what cannot be read back is never written
  } catch (const InputError& error) {
    throw InputError("not writing " + path.string() + ": vaead could not read it back (" +
                     error.what() + ")");
  }
  write_file_atomically(path, [&](std::ostream& out) {
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  });
}

void check_model_limits(const Architecture& architecture,
                        std::span<const std::string> feature_names) {
  const auto check_width = [](int width, const std::string& what) {
    if (width < 1 || width > kMaxModelWidth)
      throw InputError(what + " is " + std::to_string(width) + "; a model file holds 1 to " +
                       std::to_string(kMaxModelWidth));
  };
  check_width(architecture.input_dim, "the number of feature columns");
  check_width(architecture.latent_dim, "the latent size");
  for (const auto* hidden : {&architecture.encoder_hidden, &architecture.decoder_hidden}) {
    const std::string side = hidden == &architecture.encoder_hidden ? "encoder" : "decoder";
    if (hidden->empty() || hidden->size() > kMaxHiddenLayers)
      throw InputError("the " + side + " has " + std::to_string(hidden->size()) +
                       " hidden layers; a model file holds 1 to " +
                       std::to_string(kMaxHiddenLayers));
    for (int width : *hidden)
      check_width(width, "a hidden layer of the " + side);
  }
  std::set<std::string> seen;
  for (const std::string& name : feature_names)
    if (!seen.insert(name).second)
      throw InputError("two feature columns are named " + text::quote(name) +
                       "; a model tells its columns apart by name");
}

ModelFile parse_model(std::span<const std::uint8_t> bytes, const std::string& source) {
  return ModelParser(bytes, source).parse();
}

ModelFile read_model(const std::filesystem::path& path) {
  return parse_model(read_file_bytes(path), path.string());
}

}  // namespace vaead

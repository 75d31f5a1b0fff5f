// Exact numbers in JSON (exact_json.hpp).
#include "io/exact_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "vaead/util/error.hpp"

namespace vaead {

using nlohmann::json;

// JSON numbers hold finite doubles exactly (shortest round-trip form); NaN and infinities are
// spelled out.
json exact(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

double exact_double(const json& value) {
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (text == "inf") return std::numeric_limits<double>::infinity();
    if (text == "-inf") return -std::numeric_limits<double>::infinity();
    throw InputError("'" + text + "' is not a number");
  }
  return value.get<double>();
}

json exact_array(const std::vector<double>& values) {
  json out = json::array();
  for (double v : values)
    out.push_back(exact(v));
  return out;
}

std::vector<double> exact_doubles(const json& values) {
  std::vector<double> out;
  for (const json& v : values)
    out.push_back(exact_double(v));
  return out;
}

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

// Floats as the base64 of their little-endian bytes: exact and a third of the decimal size.
std::string float_bytes(const std::vector<float>& values) {
  static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4);
  std::vector<unsigned char> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t group = static_cast<std::uint32_t>(bytes[i]) << 16;
    if (left > 1) group |= static_cast<std::uint32_t>(bytes[i + 1]) << 8;
    if (left > 2) group |= bytes[i + 2];
    for (std::size_t k = 0; k < 4; ++k)
      out += k <= left ? kBase64[(group >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

std::vector<float> floats_from(const std::string& text) {
  require(text.size() % 4 == 0, "a float array's base64 has " + std::to_string(text.size()) +
                                    " characters, not a multiple of 4");
  std::vector<unsigned char> bytes;
  bytes.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::uint32_t group = 0;
    int padding = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      const char* at = std::strchr(kBase64, c);
      require(c == '=' || (c != '\0' && at != nullptr), "not base64");
      padding += c == '=' ? 1 : 0;
      group = (group << 6) | (c == '=' ? 0u : static_cast<std::uint32_t>(at - kBase64));
    }
    for (int k = 0; k < 3 - padding; ++k)
      bytes.push_back(static_cast<unsigned char>(group >> (16 - 8 * k)));
  }
  require(bytes.size() % 4 == 0, "a float array of " + std::to_string(bytes.size()) + " bytes");
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

json epochs_json(const std::vector<EpochRecord>& epochs) {
  json out = json::array();
  for (const EpochRecord& e : epochs)
    out.push_back({e.epoch, exact(e.kl_weight), exact(e.mean.loss), exact(e.mean.reconstruction),
                   exact(e.mean.kl), exact(e.seconds)});
  return out;
}

std::vector<EpochRecord> epochs_from(const json& epochs) {
  std::vector<EpochRecord> out;
  for (const json& e : epochs) {
    require(e.is_array() && e.size() == 6, "an epoch needs 6 values");
    out.push_back({e[0].get<int>(), exact_double(e[1]),
                   LossParts{exact_double(e[2]), exact_double(e[3]), exact_double(e[4])},
                   exact_double(e[5])});
  }
  return out;
}

}  // namespace vaead

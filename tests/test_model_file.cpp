// The model file: a round trip keeps every value; truncated, corrupted and hostile files are
// refused with an InputError (never a crash, never another exception, never a read past the end).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "vaead/io/model_file.hpp"
#include "vaead/io/onnx_export.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

ModelFile small_model() {
  ModelFile m;
  m.engine.architecture = Architecture{4, {6, 5}, 2, {5, 3}};
  m.engine.seed = 77;
  m.engine.batch_size = 32;
  m.train.epochs = 5;
  m.train.beta = 0.5;
  m.standardizer.mean = {0.5, -1, 2, 0};
  m.standardizer.scale = {1, 2, 0.5, 1};
  m.standardizer.constant_columns = {3};
  m.feature_names = {"a", "b, with comma", "c\"quoted\"", "d"};
  m.threshold_rule = ThresholdRule{ThresholdRule::Kind::percentile, 99.5};
  m.threshold = 0.125;
  m.holdout_scores = {0.01f, 0.02f, 0.125f};
  m.training_rows = 1000;
  m.holdout_rows = 3;
  m.dropped_anomalies = 12;
  m.parameters = initial_parameters(make_layout(m.engine.architecture), 5);
  return m;
}

TEST(ModelFile, RoundTripKeepsEveryValue) {
  const ModelFile m = small_model();
  const ModelFile back = parse_model(serialize_model(m), "m.safetensors");
  EXPECT_EQ(back.parameters, m.parameters);
  EXPECT_EQ(back.engine.architecture.encoder_hidden, m.engine.architecture.encoder_hidden);
  EXPECT_EQ(back.engine.architecture.decoder_hidden, m.engine.architecture.decoder_hidden);
  EXPECT_EQ(back.engine.architecture.latent_dim, 2);
  EXPECT_EQ(back.engine.seed, 77u);
  EXPECT_EQ(back.engine.batch_size, 32);
  EXPECT_EQ(back.train.epochs, 5);
  EXPECT_EQ(back.train.beta, 0.5);
  EXPECT_EQ(back.standardizer.mean, m.standardizer.mean);
  EXPECT_EQ(back.standardizer.scale, m.standardizer.scale);
  EXPECT_EQ(back.standardizer.constant_columns, m.standardizer.constant_columns);
  EXPECT_EQ(back.feature_names, m.feature_names);
  EXPECT_EQ(back.threshold_rule.to_string(), "percentile:99.5");
  EXPECT_EQ(back.threshold, 0.125);
  EXPECT_EQ(back.holdout_scores, m.holdout_scores);
  EXPECT_EQ(back.training_rows, 1000u);
  EXPECT_EQ(back.dropped_anomalies, 12u);
}

TEST(ModelFile, HeaderFollowsSafetensorsAndPyTorchNames) {
  const std::vector<std::uint8_t> bytes = serialize_model(small_model());
  std::uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  EXPECT_EQ(length % 8, 0u);
  const auto header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + length);
  for (const char* name : {"encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "mu.weight",
                           "logvar.bias", "decoder.0.weight", "decoder.2.weight", "decoder.4.bias"})
    EXPECT_TRUE(header.contains(name)) << name;
  EXPECT_EQ(header["encoder.0.weight"]["shape"], (std::vector<int>{6, 4}));
  EXPECT_EQ(header["decoder.4.weight"]["dtype"], "F32");
  EXPECT_EQ(bytes.size() - 8 - length, small_model().parameters.size() * 4);
}

// Only InputError may come out.
::testing::AssertionResult refused_cleanly(const std::vector<std::uint8_t>& bytes) {
  try {
    parse_model(bytes, "bad.safetensors");
  } catch (const InputError& error) {
    if (std::string(error.what()).find("bad.safetensors") == std::string::npos)
      return ::testing::AssertionFailure() << "message without the file name: " << error.what();
    return ::testing::AssertionSuccess();
  } catch (const std::exception& error) {
    return ::testing::AssertionFailure() << "not an InputError: " << error.what();
  }
  return ::testing::AssertionFailure() << "accepted";
}

TEST(ModelFile, EveryTruncationIsRefused) {
  const std::vector<std::uint8_t> bytes = serialize_model(small_model());
  for (std::size_t length = 0; length < bytes.size(); length += 1 + length / 64) {
    const std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + length);
    EXPECT_TRUE(refused_cleanly(cut)) << "truncated to " << length << " of " << bytes.size();
  }
}

TEST(ModelFile, RandomCorruptionIsAcceptedOrRefusedButNeverCrashes) {
  const std::vector<std::uint8_t> bytes = serialize_model(small_model());
  std::mt19937 generator(11);
  std::uniform_int_distribution<std::size_t> position(0, bytes.size() - 1);
  std::uniform_int_distribution<int> value(0, 255);
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<std::uint8_t> corrupt = bytes;
    for (int flips = 1 + trial % 4; flips > 0; --flips)
      corrupt[position(generator)] = static_cast<std::uint8_t>(value(generator));
    try {
      parse_model(corrupt, "bad.safetensors");  // a flip in the weights can still be valid
    } catch (const InputError&) {
    } catch (const std::exception& error) {
      ADD_FAILURE() << "trial " << trial << ": not an InputError: " << error.what();
    }
  }
}

// A safetensors byte string: length, header text, data.
std::vector<std::uint8_t> assemble(const std::string& header, const std::uint8_t* data,
                                   std::size_t size) {
  std::string out(8 + header.size() + size, '\0');
  const std::uint64_t length = header.size();
  std::memcpy(out.data(), &length, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  if (size > 0) std::memcpy(out.data() + 8 + header.size(), data, size);
  return {out.begin(), out.end()};
}

// A file with `edit` applied to its header JSON.
std::vector<std::uint8_t> with_header(const std::function<void(nlohmann::json&)>& edit,
                                      std::size_t extra_data = 0,
                                      const ModelFile& m = small_model()) {
  const std::vector<std::uint8_t> bytes = serialize_model(m);
  std::uint64_t length = 0;
  std::memcpy(&length, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + length);
  edit(header);
  std::vector<std::uint8_t> data(bytes.begin() + 8 + static_cast<std::ptrdiff_t>(length),
                                 bytes.end());
  data.resize(data.size() + extra_data, 0);
  return assemble(header.dump(), data.data(), data.size());
}

ModelFile small_ensemble() {
  ModelFile m = small_model();
  const ParameterLayout layout = make_layout(m.engine.architecture);
  m.more_members = {initial_parameters(layout, 6), initial_parameters(layout, 7)};
  m.member_scales = {0.5, 0.25, 2.0};
  m.member_seeds = {77, 78, 79};
  m.member_betas = {1.0, 0.1, 1.0};
  return m;
}

// An ensemble's file: every member back; each member's tensors checked as one model's are.
TEST(ModelFile, EnsembleRoundTripsAndEveryMemberIsChecked) {
  const ModelFile m = small_ensemble();
  const ModelFile back = parse_model(serialize_model(m), "memory");
  EXPECT_EQ(back.parameters, m.parameters);
  EXPECT_EQ(back.more_members, m.more_members);
  EXPECT_EQ(back.member_scales, m.member_scales);
  EXPECT_EQ(back.member_seeds, m.member_seeds);
  EXPECT_EQ(back.member_betas, m.member_betas);
  using J = nlohmann::json;
  const auto ensemble = [](const std::function<void(J&)>& change) {
    return [=](J& h) {
      J inner = J::parse(h["__metadata__"]["ensemble"].get<std::string>());
      change(inner);
      h["__metadata__"]["ensemble"] = inner.dump();
    };
  };
  const std::pair<std::function<void(J&)>, const char*> cases[] = {
      {[](J& h) { h.erase("members.2.mu.bias"); }, "tensor members.2.mu.bias is missing"},
      {[](J& h) { h["members.1.mu.bias"]["data_offsets"] = h["mu.bias"]["data_offsets"]; },
       "tensors overlap"},
      {[](J& h) { h["members.3.mu.bias"] = h["mu.bias"]; }, "tensors the architecture"},
      {ensemble([](J& e) {
         e["score_scales"] = {1.0, 2.0};
       }),
       "one value per member"},
      {ensemble([](J& e) { e["score_scales"] = {1.0}; }), "2 to 64 members"},
      {ensemble([](J& e) { e["score_scales"][1] = 0.0; }), "not a positive finite number"},
      {[](J& h) { h["__metadata__"]["format_version"] = "1"; }, "tensors the architecture"},
  };
  for (const auto& [edit, expected] : cases) {
    try {
      parse_model(with_header(edit, 0, m), "ens.safetensors");
      ADD_FAILURE() << "accepted; expected " << expected;
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find(expected), std::string::npos)
          << "expected \"" << expected << "\", got \"" << error.what() << "\"";
    }
  }
}

TEST(ModelFile, HostileHeadersAreRefusedWithTheirReason) {
  using J = nlohmann::json;
  auto meta = [](const char* key, const std::function<void(J&)>& change) {
    return [=](J& h) {
      J inner = J::parse(h["__metadata__"][key].get<std::string>());
      change(inner);
      h["__metadata__"][key] = inner.dump();
    };
  };
  std::vector<std::uint8_t> huge_length = serialize_model(small_model());
  const std::uint64_t bogus = 1ull << 62;
  std::memcpy(huge_length.data(), &bogus, 8);
  const std::vector<std::uint8_t> deep =
      assemble(std::string(100000, '[') + std::string(100000, ']'), nullptr, 0);

  const std::pair<std::vector<std::uint8_t>, const char*> cases[] = {
      {huge_length, "runs past the file"},
      {deep, "nests too deeply"},
      {with_header([](J& h) { h["mu.weight"]["dtype"] = "F64"; }), "tensor mu.weight is not F32"},
      {with_header([](J& h) {
         h["mu.weight"]["shape"] = {5, 5};
       }),
       "wrong shape"},
      {with_header([](J& h) {
         h["mu.bias"]["data_offsets"] = {0, 1ull << 40};
       }),
       "data offsets outside the file"},
      {with_header([](J& h) {
         h["mu.bias"]["data_offsets"] = {0, 8};
       }),
       "tensors overlap"},
      {with_header([](J& h) { h["extra.weight"] = h["mu.bias"]; }), "tensors the architecture"},
      {with_header([](J& h) { h.erase("decoder.4.bias"); }), "tensor decoder.4.bias is missing"},
      {with_header([](J& h) { h.erase("__metadata__"); }), "no __metadata__"},
      {with_header([](J& h) { h["__metadata__"]["format_version"] = "3"; }), "format version 3"},
      {with_header([](J& h) { h["__metadata__"]["format_version"] = "2"; }),
       "metadata 'ensemble' is missing"},
      {with_header([](J& h) { h["__metadata__"]["format_version"] = "1x"; }),
       "format version '1x' is not a number"},  // found by the model fuzzer (std::stoi threw)
      {with_header([](J& h) { h["__metadata__"]["architecture"] = "{not json"; }),
       "metadata 'architecture' is not valid JSON"},
      {with_header(meta("architecture", [](J& a) { a["latent_dim"] = 1 << 30; })),
       "latent_dim = 1073741824 is out of range"},
      {with_header(meta("architecture", [](J& a) { a["encoder_hidden"] = J::array(); })),
       "encoder_hidden must hold 1 to 16 layers"},
      // 16 layers of 16384: refused before a 4-gigafloat buffer is allocated.
      {with_header(
           meta("architecture", [](J& a) { a["encoder_hidden"] = std::vector<int>(16, 16384); })),
       "the architecture needs"},
      // Wider than any width vaead trains (vaead/util/limits.hpp).
      {with_header(meta("architecture", [](J& a) { a["encoder_hidden"] = {65536}; })),
       "encoder hidden width must lie in [1, 16384], got 65536"},
      // A float where an integer belongs: its conversion to int would be undefined behaviour.
      {with_header(meta("training", [](J& t) { t["epochs"] = 1e20; })),
       "training.epochs is not an integer in range"},
      {with_header([](J& h) {
         h["mu.bias"]["data_offsets"] = {0.5, 1e30};
       }),
       "mu.bias.data_offsets is not an integer in range"},
      {with_header(meta("architecture", [](J& a) { a["input_dim"] = "thirty"; })),
       "architecture.input_dim is not an integer in range"},
      {with_header(meta("standardizer", [](J& s) { s["scale"][1] = 0; })),
       "standardizer of feature 1"},
      {with_header(meta("standardizer",
                        [](J& s) {
                          s["mean"] = {1, 2};
                        })),
       "2 means and 4 scales for 4 features"},
      {with_header(meta("threshold", [](J& t) { t["rule"] = "median:3"; })), "threshold rule"},
      {with_header(meta("training", [](J& t) { t["batch_size"] = 0; })), "batch size"},
      {with_header([](J& h) { h["__metadata__"]["feature_names"] = "[\"a\",\"a\",\"b\",\"c\"]"; }),
       "feature_names must be distinct"},
      {with_header([](J& h) {
         h.erase("__metadata__");
         h["x"] = 1;
       }),
       "no __metadata__"},
  };
  for (const auto& [bytes, expected] : cases) {
    try {
      parse_model(bytes, "bad.safetensors");
      ADD_FAILURE() << "accepted; expected \"" << expected << "\"";
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find(expected), std::string::npos)
          << "expected \"" << expected << "\", got \"" << error.what() << "\"";
    }
  }
  // Unused bytes after the last tensor are harmless: only what the header names is read.
  EXPECT_NO_THROW(parse_model(with_header([](J&) {}, 64), "ok.safetensors"));
}

TEST(ModelFile, NonFiniteParameterIsRefused) {
  ModelFile m = small_model();
  m.parameters[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(refused_cleanly(serialize_model(m)));
}

// Finite values that make every score overflow (a weight of 3e38, a weight with a flipped exponent
// bit, a standardizer scale of 1e-300) are refused at load, naming the value.
TEST(ModelFile, ValuesThatWouldOverflowEveryScoreAreRefused) {
  const auto refused_naming = [](const ModelFile& m, const std::string& words) {
    try {
      parse_model(serialize_model(m), "bad.safetensors");
    } catch (const InputError& error) {
      return std::string(error.what()).find(words) != std::string::npos
                 ? ::testing::AssertionSuccess()
                 : ::testing::AssertionFailure() << error.what();
    }
    return ::testing::AssertionFailure() << "accepted";
  };
  ModelFile m = small_model();
  m.parameters[3] = 3e38f;
  EXPECT_TRUE(refused_naming(m, "encoder.0.weight[3]"));
  m = small_model();
  std::uint32_t bits = 0;
  std::memcpy(&bits, &m.parameters[7], sizeof bits);
  bits ^= 1u << 30;  // the exponent's top bit: 0.1 becomes about 3e37
  std::memcpy(&m.parameters[7], &bits, sizeof bits);
  EXPECT_TRUE(refused_naming(m, "encoder.0.weight[7]"));
  m = small_model();
  m.standardizer.scale[1] = 1e-300;
  EXPECT_TRUE(refused_naming(m, "feature 1"));
  m = small_model();
  m.standardizer.mean[2] = 1e300;
  EXPECT_TRUE(refused_naming(m, "feature 2"));
}

// An ONNX file is one protobuf message, which may not reach 2 GiB: a larger model is refused
// before any weight is read (this one has no weights at all), never written as a broken file.
TEST(ModelFile, OnnxExportRefusesWeightsOverProtobufsLimit) {
  ModelFile model;
  model.engine.architecture = {.input_dim = 30,
                               .encoder_hidden = {16384, 16384},
                               .latent_dim = 8,
                               .decoder_hidden = {16384, 16384}};
  model.feature_names.assign(30, "x");
  try {
    onnx_model(model);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("at most 2 GiB"), std::string::npos) << e.what();
  }
}

}  // namespace

}  // namespace vaead

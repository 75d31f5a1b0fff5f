// The CSV and .npy readers: the formats users bring, and one clear message for each bad input.
#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>

#include "data/decimal.hpp"
#include "vaead/data/table.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

Table csv(std::string_view text, TableOptions options = {}) {
  return parse_csv(text, options, "t.csv");
}

// The message of the InputError `f` throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

TEST(Csv, DetectsCommaSemicolonAndTab) {
  for (const char* text : {"a,b\n1,2\n3,4\n", "a;b\n1;2\n3;4\n", "a\tb\n1\t2\n3\t4\n"}) {
    const Table t = csv(text);
    EXPECT_EQ(t.data.column_names, (std::vector<std::string>{"a", "b"})) << text;
    EXPECT_EQ(t.data.features.values, (std::vector<float>{1, 2, 3, 4})) << text;
  }
  // A decimal comma file with ';' delimiters must not be split at the commas.
  TableOptions given;
  given.delimiter = ';';
  EXPECT_EQ(csv("a;b\n1;2\n", given).data.features.values, (std::vector<float>{1, 2}));
}

TEST(Csv, QuotesCrlfBlankLinesAndByteOrderMark) {
  const Table t =
      csv("\xEF\xBB\xBF\"first, name\",\"b \"\"2\"\"\"\r\n\"1.5\",2\r\n\r\n 3 , \"4\"\r\n\n\n");
  EXPECT_EQ(t.data.column_names, (std::vector<std::string>{"first, name", "b \"2\""}));
  EXPECT_EQ(t.data.features.values, (std::vector<float>{1.5f, 2, 3, 4}));
  // A quoted field may hold a newline; the line numbers of later rows still count it.
  const std::string message = error_of([] { csv("a,b\n\"x\ny\",2\n1,oops\n"); });
  EXPECT_NE(message.find("line 4, column 'b': 'oops' is not a number"), std::string::npos)
      << message;
}

TEST(Csv, LabelsFeatureSelectionAndIgnoredColumns) {
  TableOptions options;
  options.label_column = "label";
  const Table t = csv("x,kind,label,y\n1,normal,0,2\n3,mean_shift,1,4\n", options);
  EXPECT_EQ(t.data.column_names, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(t.data.labels, (std::vector<std::uint8_t>{0, 1}));
  ASSERT_EQ(t.notes.size(), 1u);
  EXPECT_NE(t.notes[0].find("ignoring column 'kind'"), std::string::npos);
  options.features = {"y", "x"};
  EXPECT_EQ(csv("x,label,y\n1,0,2\n", options).data.features.values, (std::vector<float>{2, 1}));
  // A labels-looking column without --label-column is a feature, and the user is told.
  const Table unnamed = csv("x,Label\n1,0\n2,1\n");
  EXPECT_EQ(unnamed.data.column_names, (std::vector<std::string>{"x", "Label"}));
  ASSERT_EQ(unnamed.notes.size(), 1u);
  EXPECT_NE(unnamed.notes[0].find("if it holds labels, name it with --label-column Label"),
            std::string::npos);
  TableOptions headerless;
  headerless.header = false;
  const Table h = csv("1,2\n3,4\n", headerless);
  EXPECT_EQ(h.data.column_names, (std::vector<std::string>{"x0", "x1"}));
  EXPECT_EQ(h.data.rows(), 2u);
}

TEST(Csv, EveryBadInputNamesLineColumnAndText) {
  TableOptions labelled;
  labelled.label_column = "label";
  TableOptions unknown_feature;
  unknown_feature.features = {"a", "zz"};
  const std::pair<std::function<void()>, const char*> cases[] = {
      {[] { csv(""); }, "t.csv is empty"},
      {[] { csv("\n\n"); }, "t.csv is empty"},
      {[] { csv("a,b\n"); }, "t.csv: a header but no data rows"},
      {[] { csv("a,b,c\n1,2,3\n4,5\n"); },
       "t.csv: line 3 has 2 fields, expected 3 (as in the header)"},
      {[] { csv("a,b\n1,2\n3,x7\n"); }, "t.csv: line 3, column 'b': 'x7' is not a number"},
      {[] { csv("a,b\n1,2\n3,\n"); }, "t.csv: line 3, column 'b': empty cell (a missing value)"},
      {[] { csv("a,b\n1,nan\n"); }, "t.csv: line 2, column 'b': 'nan' is not finite"},
      {[] { csv("a,b\n1,-inf\n"); }, "t.csv: line 2, column 'b': '-inf' is not finite"},
      {[] { csv("a,b\n1,1e300\n"); },
       "t.csv: line 2, column 'b': '1e300' is beyond the float range"},
      {[&] { csv("a,label\n1,2\n", labelled); },
       "t.csv: line 2, column 'label': '2' is not a label (0 = normal, 1 = anomaly)"},
      {[&] { csv("a,b\n1,2\n", labelled); }, "t.csv: no label column 'label' (columns: 'a', 'b')"},
      {[&] { csv("a,b\n1,2\n", unknown_feature); }, "t.csv: no feature column 'zz'"},
      {[] { csv("a,a\n1,2\n"); }, "t.csv: column name 'a' appears twice in the header"},
      {[] { csv("a,b\n\"1,2\n"); }, "t.csv: line 2, column 'a': a quoted field is never closed"},
      {[] { csv("a,b\n\"1\"x,2\n"); }, "t.csv: line 2, column 'a': text after a closing quote"},
      {[] { csv("a,b\nx,y\n"); }, "t.csv: no numeric feature columns"},
  };
  for (const auto& [run, expected] : cases) {
    const std::string message = error_of(run);
    EXPECT_NE(message.find(expected), std::string::npos)
        << "expected \"" << expected << "\", got \"" << message << "\"";
  }
}

// The reader's fast path for plain decimals gives std::from_chars' double bit for bit, or leaves
// the text to it: over numbers of every length, sign, exponent and digit count around its limits.
TEST(Csv, TheFastNumberPathAgreesWithFromChars) {
  std::vector<std::string> texts = {"0",
                                    "-0",
                                    "7",
                                    "0.5",
                                    ".5",
                                    "-.5",
                                    "5.",
                                    "00012.5000",
                                    "1e5",
                                    "1E-5",
                                    "2.5e+3",
                                    "9007199254740992",
                                    "9007199254740993",
                                    "1234567890123456789",
                                    "12345678901234567890",
                                    "0.1234567890123456789",
                                    "1e22",
                                    "1e23",
                                    "1e-22",
                                    "1e-23",
                                    "123456.78901234",
                                    "-1.3897115",
                                    "0.23234248",
                                    "3.4028235e38",
                                    "1e",
                                    "1e+",
                                    "-",
                                    ".",
                                    "1.2.3",
                                    "1,5",
                                    "0x10",
                                    "inf",
                                    "nan",
                                    " 1",
                                    "1 ",
                                    "+1",
                                    "--1",
                                    "1e-400",
                                    "4.9e-324",
                                    "0.000000001"};
  std::uint64_t state = 12345;
  const auto next = [&] {
    state = state * 6364136223846793005u + 1442695040888963407u;
    return state >> 33;
  };
  for (int i = 0; i < 200000; ++i) {
    std::string text = next() % 2 ? "-" : "";
    text += std::to_string(next() % 1000000 >> (next() % 20));
    if (next() % 4 != 0) {
      text += '.';
      for (std::uint64_t d = next() % 20; d > 0; --d)
        text += static_cast<char>('0' + next() % 10);
    }
    if (next() % 5 == 0) text += "e" + std::to_string(static_cast<int>(next() % 60) - 30);
    texts.push_back(text);
  }
  std::size_t fast = 0;
  for (const std::string& text : texts) {
    // Padding after the text, as in a buffer (the fast path reads 8 bytes at a time).
    const std::string padded = text + ",12345678";
    const char* const end = padded.data() + text.size();
    double expected = 0.0, got = 0.0;
    const auto [stop, error] = std::from_chars(padded.data(), end, expected);
    const char* const fast_stop = decimal::parse_fast(padded.data(), end, got);
    if (fast_stop == nullptr) continue;
    ++fast;
    EXPECT_EQ(fast_stop, stop) << text;
    EXPECT_EQ(error, std::errc()) << text;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(got), std::bit_cast<std::uint64_t>(expected)) << text;
  }
  EXPECT_GT(fast, texts.size() / 2);  // the fast path is taken for most of them
}

// Numbers beyond the float range are refused alike however far beyond; those below it read as 0
// (or a float subnormal) however far below, keeping their sign.
TEST(Csv, NumbersBeyondTheFloatRangeAreRefusedAndTinyOnesReadAsZero) {
  for (const char* big : {"3.5e38", "1e39", "1e308", "1e400", "-1e4000"})
    EXPECT_NE(error_of([&] {
                csv(std::string("a\n") + big + "\n");
              }).find("'" + std::string(big) + "' is beyond the float range"),
              std::string::npos)
        << big;
  const Table tiny = csv("a\n1e-40\n1e-50\n1e-310\n1e-400\n-1e-400\n3.4e38\n");
  const std::vector<float>& v = tiny.data.features.values;
  ASSERT_EQ(v.size(), 6u);
  EXPECT_EQ(v[0], 1e-40f);  // a float subnormal
  for (std::size_t i = 1; i < 5; ++i)
    EXPECT_EQ(v[i], 0.0f) << i;
  EXPECT_TRUE(std::signbit(v[4]));
  EXPECT_EQ(v[5], 3.4e38f);
}

// A cell or name in a message: cut at 40 characters with the full size, control characters,
// quotes and bytes that are not UTF-8 escaped; a NUL does not end the message.
TEST(Csv, MessagesShowCellsCutAndEscaped) {
  std::string cell = "x";
  cell += '\0';
  cell += "y'\xFF";
  EXPECT_NE(error_of([&] {
              csv("a,b\n1,2\n1," + cell + "\n");
            }).find("line 3, column 'b': 'x\\x00y\\x27\\xFF' is not a number"),
            std::string::npos)
      << error_of([&] { csv("a,b\n1,2\n1," + cell + "\n"); });
  const std::string long_cell = std::string(100, '7') + "z";
  EXPECT_NE(error_of([&] {
              csv("a\n1\n" + long_cell + "\n");
            }).find("'" + std::string(40, '7') + "... (101 bytes)' is not a number"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              csv("a,\xC3\xA9t\xE9\n1,2\n");
            }).find("t.csv: line 1, column 2: the name '\xC3\xA9t\\xE9' is not valid UTF-8"),
            std::string::npos);
}

// The reader streams a file through a fixed buffer; records that cross the buffer's edge (quoted
// fields over several lines, CRLF, a byte-order mark, blank lines) read as they do from memory.
TEST(Csv, AStreamReadsAsMemoryDoesAcrossBufferEdges) {
  const std::string text =
      "\xEF\xBB\xBF"
      "a,\"b, quoted\",label\r\n"
      "1,2,0\r\n"
      "\n"
      "\"3\",\" 4\",1\n"
      "5.5,-6e-3,0\n"
      "\"7\"\"\",8,0\n"  // a quote inside: not a number (checked below with a good file)
      ;
  const std::string good =
      "\xEF\xBB\xBF"
      "a,\"b, quoted\nover two lines\",label\r\n1,2,0\r\n\n \"3\" ,\" 4\",1\n5.5,-6e-3,0";
  TableOptions labelled;
  labelled.label_column = "label";
  for (const std::string& input : {text, good}) {
    std::string in_memory, streamed;
    Table expected, got;
    try {
      expected = parse_csv(input, labelled, "s.csv");
    } catch (const InputError& error) {
      in_memory = error.what();
    }
    for (std::size_t buffer : {1u, 2u, 3u, 5u, 8u, 64u, 4096u}) {
      std::FILE* stream = fmemopen(const_cast<char*>(input.data()), input.size(), "rb");
      ASSERT_NE(stream, nullptr);
      streamed.clear();
      try {
        got = read_csv(stream, labelled, "s.csv", buffer);
      } catch (const InputError& error) {
        streamed = error.what();
      }
      std::fclose(stream);
      EXPECT_EQ(streamed, in_memory) << "buffer " << buffer;
      if (!in_memory.empty()) continue;
      EXPECT_EQ(got.data.column_names, expected.data.column_names) << "buffer " << buffer;
      EXPECT_EQ(got.data.features.values, expected.data.features.values) << "buffer " << buffer;
      EXPECT_EQ(got.data.labels, expected.data.labels) << "buffer " << buffer;
    }
  }
  const Table g = parse_csv(good, labelled, "s.csv");
  EXPECT_EQ(g.data.column_names, (std::vector<std::string>{"a", "b, quoted\nover two lines"}));
  EXPECT_EQ(g.data.features.values, (std::vector<float>{1, 2, 3, 4, 5.5f, -6e-3f}));
  EXPECT_EQ(g.data.labels, (std::vector<std::uint8_t>{0, 1, 0}));
  EXPECT_NE(error_of([&] {
              parse_csv(text, labelled, "s.csv");
            }).find("s.csv: line 6, column 'a': '7\"' is not a number"),
            std::string::npos)
      << error_of([&] { parse_csv(text, labelled, "s.csv"); });
}

// A .npy file: magic, version, header length, the header dict padded to 64 bytes, the data.
std::vector<std::uint8_t> npy(const std::string& descr, const std::string& shape, const void* data,
                              std::size_t bytes, bool fortran = false, int major = 1) {
  std::string header = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  const std::size_t prefix = major == 1 ? 10 : 12;
  header.append(63 - (prefix + header.size()) % 64, ' ');
  header += '\n';
  // Sized first: GCC 12 at -O3 for some CPUs (-march=native on Zen 3) warns falsely about the
  // pushes into a vector that grows (-Wstringop-overflow).
  std::vector<std::uint8_t> out;
  out.reserve(prefix + header.size() + bytes);
  out.insert(out.end(), {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0});
  for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i)
    out.push_back(static_cast<std::uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  const auto* p = static_cast<const std::uint8_t*>(data);
  out.insert(out.end(), p, p + bytes);
  return out;
}

TEST(Npy, ReadsFloatIntegerAndBigEndianArrays) {
  const float f4[] = {1.5f, -2, 3, 4, 5, 6};
  const Table a = parse_npy(npy("<f4", "(2, 3)", f4, sizeof f4), {}, "a.npy");
  EXPECT_EQ(a.data.column_names, (std::vector<std::string>{"x0", "x1", "x2"}));
  EXPECT_EQ(a.data.features.values, (std::vector<float>(f4, f4 + 6)));
  const double f8[] = {0.25, 1, 0, 1};
  TableOptions labelled;
  labelled.label_column = "x1";
  const Table b = parse_npy(npy("<f8", "(2, 2)", f8, sizeof f8, false, 2), labelled, "b.npy");
  EXPECT_EQ(b.data.features.values, (std::vector<float>{0.25f, 0.0f}));
  EXPECT_EQ(b.data.labels, (std::vector<std::uint8_t>{1, 1}));
  const std::int64_t i8[] = {-3, 7};
  EXPECT_EQ(parse_npy(npy("<i8", "(1, 2)", i8, sizeof i8), {}, "c.npy").data.features.values,
            (std::vector<float>{-3, 7}));
  const std::int16_t i2[] = {-300, 300};
  EXPECT_EQ(parse_npy(npy("<i2", "(2, 1)", i2, sizeof i2), {}, "d.npy").data.features.values,
            (std::vector<float>{-300, 300}));
  const std::uint8_t u1[] = {0, 255};
  EXPECT_EQ(parse_npy(npy("|u1", "(1, 2)", u1, sizeof u1), {}, "e.npy").data.features.values,
            (std::vector<float>{0, 255}));
  std::uint64_t big = std::bit_cast<std::uint64_t>(2.5);
  big = __builtin_bswap64(big);
  EXPECT_EQ(parse_npy(npy(">f8", "(1, 1)", &big, 8), {}, "f.npy").data.features.values,
            (std::vector<float>{2.5f}));
}

// A file is read a block of rows at a time (1 MB); one of several blocks reads as from memory, and
// a bad value in a later block is named by its row.
TEST(Npy, AFileReadInBlocksReadsAsMemoryDoes) {
  const std::size_t rows = 70001, cols = 5;  // 1.4 MB of float32: two blocks and a bit
  std::vector<float> values(rows * cols);
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>(i % 977) * 0.5f - 100.0f;
  TableOptions labelled;
  labelled.label_column = "x4";
  for (std::size_t r = 0; r < rows; ++r)
    values[r * cols + 4] = r % 9 == 0 ? 1.0f : 0.0f;
  const std::vector<std::uint8_t> bytes =
      npy("<f4", "(70001, 5)", values.data(), values.size() * sizeof(float));
  const auto file = std::filesystem::temp_directory_path() / "vaead_blocks.npy";
  const auto write = [&](const std::vector<std::uint8_t>& content) {
    std::FILE* out = std::fopen(file.c_str(), "wb");
    ASSERT_NE(out, nullptr);
    ASSERT_EQ(std::fwrite(content.data(), 1, content.size(), out), content.size());
    std::fclose(out);
  };
  write(bytes);
  const Table from_file = read_npy(file, labelled);
  const Table from_memory = parse_npy(bytes, labelled, file.string());
  EXPECT_EQ(from_file.data.features.values, from_memory.data.features.values);
  EXPECT_EQ(from_file.data.labels, from_memory.data.labels);
  EXPECT_EQ(from_file.data.rows(), rows);
  EXPECT_EQ(from_file.data.features.values[4 * (rows - 1) + 3], values[cols * (rows - 1) + 3]);

  values[cols * 65000 + 2] = std::numeric_limits<float>::infinity();
  write(npy("<f4", "(70001, 5)", values.data(), values.size() * sizeof(float)));
  EXPECT_NE(error_of([&] {
              read_npy(file, labelled);
            }).find("row 65000 (from 0), column 'x2': the value is not finite"),
            std::string::npos);
  std::filesystem::remove(file);
}

TEST(Npy, EveryBadFileIsRefusedWithItsReason) {
  const float f4[] = {1, 2, 3, 4};
  const float bad[] = {1, std::nanf(""), 3, 4};
  auto truncated = npy("<f4", "(2, 2)", f4, sizeof f4);
  truncated.resize(truncated.size() - 3);
  auto long_header = npy("<f4", "(2, 2)", f4, sizeof f4);
  long_header[8] = 0xFF;
  long_header[9] = 0xFF;
  const std::pair<std::vector<std::uint8_t>, const char*> cases[] = {
      {{1, 2, 3}, "not a .npy file"},
      {npy("<f4", "(2, 2)", f4, sizeof f4, true), "Fortran-ordered"},
      {npy("<f4", "(4,)", f4, sizeof f4), "needs a 2-D array"},
      {npy("<c8", "(2, 1)", f4, sizeof f4), "unsupported dtype '<c8'"},
      {npy("<U4", "(1, 1)", f4, sizeof f4), "unsupported dtype '<U4'"},
      {truncated, "(truncated)"},
      {npy("<f4", "(1, 2)", f4, sizeof f4), "expected 8 bytes of data for shape (1, 2), found 16"},
      {npy("<f4", "(2, 2)", bad, sizeof bad),
       "row 0 (from 0), column 'x1': the value is not finite (NaN)"},
      {long_header, "runs past the file"},
      {npy("<f4", "(2, 2, ", f4, sizeof f4), "not a valid .npy header"},
      {npy("<f4", "(0, 2)", f4, 0), "the array is empty"},
      {npy("<f4", "(4611686018427387904, 4)", f4, sizeof f4), "too large"},
  };
  for (const auto& [file, expected] : cases) {
    const auto& bytes = file;  // a plain reference: lambdas may not capture structured bindings
    const std::string message = error_of([&] { parse_npy(bytes, {}, "z.npy"); });
    EXPECT_NE(message.find(expected), std::string::npos)
        << "expected \"" << expected << "\", got \"" << message << "\"";
  }
}

// An array in memory reads as the same array in a .npy file: the same floats, the same messages,
// whatever its strides (a transposed view, every other row, a reversed column order).
TEST(Array, ReadsInPlaceWithAnyStridesAsANpyFileReads) {
  const double values[3][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(values);
  const ArrayView whole{bytes, 3, 4, 32, 8, 'f', 8};
  const Table table = table_from_array(whole, {}, "X");
  const Table file = parse_npy(npy("<f8", "(3, 4)", values, sizeof values), {}, "X");
  EXPECT_EQ(table.data.features.values, file.data.features.values);
  EXPECT_EQ(table.data.column_names, file.data.column_names);
  EXPECT_TRUE(table.data.labels.empty());

  // Columns 3, 1 of rows 2, 0 (negative strides), named.
  const ArrayView picked{bytes + 2 * 32 + 3 * 8, 2, 2, -64, -16, 'f', 8};
  const Table view = table_from_array(picked, {"d", "b"}, "X");
  EXPECT_EQ(view.data.features.values, (std::vector<float>{12, 10, 4, 2}));
  EXPECT_EQ(view.data.column_names, (std::vector<std::string>{"d", "b"}));

  const std::int16_t small[2] = {-3, 7};
  const Table ints =
      table_from_array({reinterpret_cast<const std::uint8_t*>(small), 2, 1, 2, 2, 'i', 2}, {}, "X");
  EXPECT_EQ(ints.data.features.values, (std::vector<float>{-3, 7}));

  double bad[2][2] = {{1, 2}, {3, std::numeric_limits<double>::infinity()}};
  const auto* bad_bytes = reinterpret_cast<const std::uint8_t*>(bad);
  const std::string from_array = error_of([&] {
    table_from_array({bad_bytes, 2, 2, 16, 8, 'f', 8}, {}, "X");
  });
  EXPECT_EQ(from_array,
            error_of([&] { parse_npy(npy("<f8", "(2, 2)", bad, sizeof bad), {}, "X"); }));
  EXPECT_EQ(from_array, "X: row 1 (from 0), column 'x1': the value is not finite (inf)");
  bad[1][1] = 1e300;
  EXPECT_EQ(error_of([&] {
              table_from_array({bad_bytes, 2, 2, 16, 8, 'f', 8}, {"a", "b"}, "X");
            }),
            "X: row 1 (from 0), column 'b': 1e+300 is beyond the float range");
  EXPECT_NE(error_of([&] {
              table_from_array({bad_bytes, 2, 2, 16, 8, 'f', 8}, {"a", "a"}, "X");
            }).find("column name 'a' appears twice"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              table_from_array({bad_bytes, 0, 2, 16, 8, 'f', 8}, {}, "X");
            }).find("the array is empty"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              table_from_array({bad_bytes, 2, 2, 16, 8, 'c', 8}, {}, "X");
            }).find("unsupported dtype"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              table_from_array({bad_bytes, 2, 2, 16, 8, 'f', 8}, {"a"}, "X");
            }).find("1 column names for 2 columns"),
            std::string::npos);
}

// Rows read in place a chunk at a time are the table's rows, and a bad cell is named by its row in
// the array, not in the chunk.
TEST(Array, RowsReadInPlaceAreTheTablesRowsWithTheSameMessages) {
  double values[4][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}};
  const ArrayView view{reinterpret_cast<const std::uint8_t*>(values), 4, 3, 24, 8, 'f', 8};
  const RowSource rows = array_rows(view, {"a", "b", "c"}, "X");
  EXPECT_EQ(rows.rows, 4u);
  EXPECT_EQ(rows.column_names, (std::vector<std::string>{"a", "b", "c"}));
  const std::size_t columns[] = {2, 0};
  float out[4];
  rows.read(1, 2, columns, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{6, 4, 9, 7}));
  const Table table = table_from_array(view, {"a", "b", "c"}, "X");
  const RowSource from_table = table_rows(table);
  float again[4];
  from_table.read(1, 2, columns, again);
  EXPECT_EQ(std::vector<float>(again, again + 4), std::vector<float>(out, out + 4));
  values[3][1] = std::nan("");
  const std::string message = error_of([&] { rows.read(2, 2, columns, out); });
  EXPECT_EQ(message, "");  // column b is not read
  const std::size_t b[] = {1};
  EXPECT_EQ(error_of([&] { rows.read(2, 2, b, out); }), error_of([&] {
              table_from_array(view, {"a", "b", "c"}, "X");
            }));
  EXPECT_EQ(error_of([&] { rows.read(2, 2, b, out); }),
            "X: row 3 (from 0), column 'b': the value is not finite (NaN)");
  EXPECT_NE(error_of([&] {
              array_rows(view, {"a", "a", "c"}, "X");
            }).find("appears twice"),
            std::string::npos);
}

}  // namespace
}  // namespace vaead

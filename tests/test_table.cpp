// The CSV and .npy readers: the formats users bring, and one clear message for each bad input.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <functional>

#include "vaead/error.hpp"
#include "vaead/table.hpp"

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
      {[&] { csv("a,b\n1,2\n", labelled); }, "t.csv: no label column 'label' (columns: a, b)"},
      {[&] { csv("a,b\n1,2\n", unknown_feature); }, "t.csv: no feature column 'zz'"},
      {[] { csv("a,a\n1,2\n"); }, "t.csv: column name 'a' appears twice in the header"},
      {[] { csv("a,b\n\"1,2\n"); }, "t.csv: line 2: a quoted field is never closed"},
      {[] { csv("a,b\n\"1\"x,2\n"); }, "t.csv: line 2: text after a closing quote"},
      {[] { csv("a,b\nx,y\n"); }, "t.csv: no numeric feature columns"},
  };
  for (const auto& [run, expected] : cases) {
    const std::string message = error_of(run);
    EXPECT_NE(message.find(expected), std::string::npos)
        << "expected \"" << expected << "\", got \"" << message << "\"";
  }
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
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major),
                                   0};
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
       "row 0 (from 0), column 'x1': the value is not finite"},
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

}  // namespace
}  // namespace vaead

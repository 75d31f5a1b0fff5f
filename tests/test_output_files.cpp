// Output files at the library's level: a failed write, a set of files of which one fails, and a
// signal in the middle of a write leave what was there before, and no temporary.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/sha256.hpp"
#include "vaead/io/output_file.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

namespace fs = std::filesystem;

class OutputFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vaead_output_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string read(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::size_t files() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}));
  }
  fs::path dir_;
};

TEST_F(OutputFiles, AFailedWriteKeepsTheEarlierFileAndLeavesNoTemporary) {
  const fs::path target = dir_ / "out.csv";
  write_file_atomically(target, [](std::ostream& out) { out << "first\n"; });
  EXPECT_THROW(write_file_atomically(target,
                                     [](std::ostream& out) {
                                       out << "half a fi";
                                       throw InputError("disk on fire");
                                     }),
               InputError);
  EXPECT_EQ(read(target), "first\n");
  EXPECT_EQ(files(), 1u);
  EXPECT_THROW(write_file_atomically(dir_ / "no" / "such" / "dir.csv", [](std::ostream&) {}),
               InputError);
}

// Three files written together, the third failing: the first two keep their earlier content.
TEST_F(OutputFiles, ASetOfFilesIsWrittenWhollyOrNotAtAll) {
  const fs::path a = dir_ / "a.csv", b = dir_ / "b.csv", c = dir_ / "c.csv";
  const auto text = [](const char* content) {
    return [content](std::ostream& out) { out << content; };
  };
  const FileToWrite first[] = {{a, text("a1")}, {b, text("b1")}, {c, text("c1")}};
  write_files_atomically(first);
  const FileToWrite second[] = {{a, text("a2")}, {b, text("b2")}, {c, [](std::ostream& out) {
                                                                     out << "c2";
                                                                     throw InputError("disk full");
                                                                   }}};
  EXPECT_THROW(write_files_atomically(second), InputError);
  EXPECT_EQ(read(a), "a1");
  EXPECT_EQ(read(b), "b1");
  EXPECT_EQ(read(c), "c1");
  EXPECT_EQ(files(), 3u) << "no temporary is left";
  const FileToWrite third[] = {{a, text("a3")}, {b, text("b3")}, {c, text("c3")}};
  write_files_atomically(third);
  EXPECT_EQ(read(a) + read(b) + read(c), "a3b3c3");
  EXPECT_EQ(files(), 3u) << "no backup is left";
}

// SIGTERM or SIGINT in the middle of a write: the process dies of it, the temporary is removed and
// the earlier file stands.
TEST_F(OutputFiles, ASignalDuringAWriteRemovesTheTemporary) {
  const fs::path target = dir_ / "out.json";
  write_file_atomically(target, [](std::ostream& out) { out << "earlier\n"; });
  for (int signal_number : {SIGTERM, SIGINT}) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      write_file_atomically(target, [signal_number](std::ostream& out) {
        out << "half of the new";
        out.flush();
        raise(signal_number);
      });
      _exit(0);  // not reached
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status)) << "the signal ends the process, as without vaead";
    EXPECT_EQ(WTERMSIG(status), signal_number);
    EXPECT_EQ(read(target), "earlier\n");
    EXPECT_EQ(files(), 1u) << "the temporary is removed";
  }
}

}  // namespace
}  // namespace vaead

namespace vaead {
namespace {

// FIPS 180-4's examples and the two-block boundary: the checksum of parts and checkpoints.
TEST(Sha256, GivesTheStandardsDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // 55, 56 and 119 bytes: the length fits the last block, or needs one more (Python's hashlib).
  EXPECT_EQ(sha256_hex(std::string(55, 'x')),
            "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072");
  EXPECT_EQ(sha256_hex(std::string(56, 'x')),
            "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e");
  EXPECT_EQ(sha256_hex(std::string(119, 'x')),
            "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c");
}

}  // namespace
}  // namespace vaead

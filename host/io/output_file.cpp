// Output files: checked before any work, written so that a failure (or SIGINT / SIGTERM) never
// leaves half a file nor destroys an earlier one, and never written over an input.
//
// A regular file (or a new path) is written to a temporary name beside it and renamed over it; a
// symbolic link is followed, so the file it names is replaced and the link stays; a FIFO, a device
// or the process's own stdout / stderr is written through, as `cat > PATH` would.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <system_error>

#include "vaead/io/output_file.hpp"
#include "vaead/util/error.hpp"

namespace vaead {
namespace {

namespace fs = std::filesystem;

// ---- temporaries removed on SIGINT / SIGTERM / SIGHUP
// --------------------------------------------- The paths of the temporaries being written, for the
// signal handler: unlink() is async-signal-safe.
constexpr std::size_t kTemporarySlots = 16;
std::array<std::atomic<const char*>, kTemporarySlots> g_temporaries{};

extern "C" void remove_temporaries_and_stop(int signal_number) {
  for (auto& slot : g_temporaries)
    if (const char* path = slot.load()) unlink(path);
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigaction(signal_number, &action, nullptr);
  raise(signal_number);  // die as the signal would have made us
}

void install_signal_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction previous {};
      sigaction(signal_number, nullptr, &previous);
      if (previous.sa_handler == SIG_IGN) continue;  // (nohup) stays ignored
      struct sigaction action {};
      action.sa_handler = remove_temporaries_and_stop;
      sigemptyset(&action.sa_mask);
      sigaction(signal_number, &action, nullptr);
    }
  });
}

// A temporary file beside `target`, removed unless committed (renamed over the target).
class Temporary {
 public:
  explicit Temporary(const fs::path& target)
      : path_(target.parent_path() /
              ("." + target.filename().string() + ".tmp" + std::to_string(std::random_device{}()))),
        text_(path_.string()) {
    install_signal_handlers();
    for (auto& slot : g_temporaries) {
      const char* empty = nullptr;
      if (slot.compare_exchange_strong(empty, text_.c_str())) {
        slot_ = &slot;
        break;
      }
    }
  }
  ~Temporary() {
    if (!committed_) {
      std::error_code ignored;
      fs::remove(path_, ignored);
    }
    if (slot_ != nullptr) slot_->store(nullptr);
  }
  Temporary(const Temporary&) = delete;
  Temporary& operator=(const Temporary&) = delete;

  const fs::path& path() const { return path_; }
  void committed() { committed_ = true; }

 private:
  fs::path path_;
  std::string text_;
  std::atomic<const char*>* slot_ = nullptr;
  bool committed_ = false;
};

// Where a write to `path` really goes: the file at the end of its symbolic links (relative links
// resolved from the link's directory), which may not exist yet.
fs::path resolve_links(const fs::path& path) {
  fs::path current = path;
  std::error_code error;
  for (int hop = 0; hop < 40 && fs::is_symlink(current, error); ++hop) {
    const fs::path target = fs::read_symlink(current, error);
    if (error) break;
    current = target.is_absolute() ? target : current.parent_path() / target;
  }
  return current;
}

// The process's own stdout (1) or stderr (2) when `path` names it, else -1.
int standard_stream(const fs::path& path) {
  const std::string text = path.lexically_normal().string();
  if (text == "/dev/stdout" || text == "/dev/fd/1" || text == "/proc/self/fd/1") return 1;
  if (text == "/dev/stderr" || text == "/dev/fd/2" || text == "/proc/self/fd/2") return 2;
  return -1;
}

void write_stream(const fs::path& path, std::ostream& out,
                  const std::function<void(std::ostream&)>& write) {
  write(out);
  out.flush();
  if (!out) throw InputError("cannot write " + path.string() + ": write failed (disk full?)");
}

// Writes `write`'s bytes to a new temporary beside `target` and closes it (not yet renamed).
void write_temporary(const fs::path& shown, const Temporary& temporary,
                     const std::function<void(std::ostream&)>& write) {
  std::ofstream out(temporary.path(), std::ios::binary | std::ios::trunc);
  if (!out)
    throw InputError("cannot write " + shown.string() + ": cannot create " +
                     temporary.path().string());
  write_stream(shown, out, write);
  out.close();
  // On the disk before the rename makes it the file: a node that dies after the rename leaves
  // the whole file, not an empty one.
  const int descriptor = ::open(temporary.path().c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0 || ::fsync(descriptor) != 0) {
    if (descriptor >= 0) ::close(descriptor);
    throw InputError("cannot write " + shown.string() + ": the data did not reach the disk");
  }
  ::close(descriptor);
}

void rename_over(const fs::path& shown, const Temporary& temporary, const fs::path& target) {
  std::error_code error;
  fs::rename(temporary.path(), target, error);
  if (error) throw InputError("cannot write " + shown.string() + ": " + error.message());
}

}  // namespace

void remove_interrupted_writes(const std::filesystem::path& path) {
  const fs::path target = resolve_links(path);
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  const std::string prefix = "." + target.filename().string() + ".tmp";
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.size() > prefix.size() &&
        name.find_first_not_of("0123456789", prefix.size()) == std::string::npos)
      fs::remove(entry.path(), error);
  }
}

bool is_standard_output(const std::filesystem::path& path) {
  return standard_stream(path) == 1;
}

void check_output(const std::string& flag, const std::filesystem::path& path,
                  std::span<const std::pair<std::string, std::filesystem::path>> inputs) {
  const std::string named = flag + " " + path.string();
  if (path.empty()) throw InputError(flag + ": an empty path");
  if (standard_stream(path) > 0) return;
  std::error_code error;
  const std::string text = path.string();
  if (text.back() == '/' || fs::is_directory(path, error))
    throw InputError(named + " is a directory; give a file name");
  const fs::path target = resolve_links(path);
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(directory, error))
    throw InputError("cannot write " + path.string() + ": directory " + directory.string() +
                     " does not exist");
  // The same file: by inode where both exist (any spelling, symbolic or hard link), else by the
  // path they resolve to (two outputs of one command that do not exist yet).
  const fs::path resolved = fs::weakly_canonical(target, error);
  for (const auto& [input_flag, input] : inputs) {
    if (input.empty()) continue;
    const bool same = fs::exists(path, error) && fs::exists(input, error)
                          ? fs::equivalent(path, input, error)
                          : resolved == fs::weakly_canonical(resolve_links(input), error);
    if (same)
      throw InputError(named + " is the input " + input_flag + " " + input.string() +
                       ": refusing to write over it");
  }
}

void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write) {
  if (const int stream = standard_stream(path); stream > 0) {
    write_stream(path, stream == 1 ? std::cout : std::cerr, write);
    return;
  }
  const fs::path target = resolve_links(path);
  std::error_code error;
  const fs::file_status status = fs::status(target, error);
  if (fs::exists(status) && !fs::is_regular_file(status)) {
    if (fs::is_directory(status))
      throw InputError("cannot write " + path.string() + ": a directory");
    // A FIFO, a device, a socket: written through, never replaced.
    std::ofstream out(target, std::ios::binary);
    if (!out) throw InputError("cannot write " + path.string() + ": cannot open it for writing");
    write_stream(path, out, write);
    return;
  }
  const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(directory, error))
    throw InputError("cannot write " + path.string() + ": directory " + directory.string() +
                     " does not exist");
  Temporary temporary(directory / target.filename());
  write_temporary(path, temporary, write);
  rename_over(path, temporary, target);
  temporary.committed();
}

void write_files_atomically(std::span<const FileToWrite> files) {
  // Every file to a temporary first: a failure there leaves every target as it was.
  std::vector<fs::path> targets;
  std::vector<std::unique_ptr<Temporary>> temporaries;
  for (const FileToWrite& file : files) {
    const fs::path target = resolve_links(file.path);
    std::error_code error;
    const fs::path directory = target.has_parent_path() ? target.parent_path() : fs::path(".");
    if (!fs::is_directory(directory, error))
      throw InputError("cannot write " + file.path.string() + ": directory " + directory.string() +
                       " does not exist");
    targets.push_back(target);
    temporaries.push_back(std::make_unique<Temporary>(directory / target.filename()));
    write_temporary(file.path, *temporaries.back(), file.write);
  }
  // Then the renames, with the earlier files kept until every rename has succeeded.
  std::vector<std::unique_ptr<Temporary>> backups;
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::error_code error;
    auto backup = std::make_unique<Temporary>(targets[i]);
    if (fs::exists(targets[i], error)) {
      fs::create_hard_link(targets[i], backup->path(), error);
      if (error) backup.reset();
    } else {
      backup.reset();
    }
    try {
      rename_over(files[i].path, *temporaries[i], targets[i]);
      temporaries[i]->committed();
    } catch (...) {
      // Put back what was replaced already (its earlier content is in the backup, or it was new).
      for (std::size_t j = 0; j < i; ++j) {
        if (backups[j]) {
          fs::rename(backups[j]->path(), targets[j], error);
          backups[j]->committed();
        } else {
          fs::remove(targets[j], error);
        }
      }
      throw;
    }
    backups.push_back(std::move(backup));
  }
}

}  // namespace vaead

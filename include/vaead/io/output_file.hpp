// Files: every output is checked before the work and written to a temporary name beside the target,
// then renamed, so a failure never leaves a half-written file or destroys an earlier one.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <utility>

namespace vaead {

// Checks an output path before any work, naming `flag`: InputError when it is empty, a directory,
// in a directory that does not exist, or the same file (by any path, symbolic or hard link) as one
// of the named inputs (flag, path).
void check_output(const std::string& flag, const std::filesystem::path& path,
                  std::span<const std::pair<std::string, std::filesystem::path>> inputs = {});

// Removes the temporaries that writes of `path` left where a kill (SIGKILL, a lost node) stopped
// them: ".<name>.tmp<digits>" beside it. For a file that no other process is writing.
void remove_interrupted_writes(const std::filesystem::path& path);

// Calls `write` with a stream on a temporary file in the target's directory, then renames it to
// `path` (following a symbolic link: the file it names is replaced, the link stays). A FIFO, a
// device, /dev/stdout or /dev/stderr is written through instead. SIGINT, SIGTERM or SIGHUP during
// the write removes the temporary. Throws InputError naming the path when it cannot be written.
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& write);

// Several files, all or none: each is written to a temporary first, then all are renamed; a
// failure leaves every target as it was.
struct FileToWrite {
  std::filesystem::path path;
  std::function<void(std::ostream&)> write;
};
void write_files_atomically(std::span<const FileToWrite> files);

// Whether `path` names this process's standard output (/dev/stdout and its aliases).
bool is_standard_output(const std::filesystem::path& path);

}  // namespace vaead

// Atomic file writes: bytes go to a temp file next to the target, which is fsynced and then renamed
// over it, so readers (and a crash at any moment) see either the old file or the complete new one.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace brenier::io {

// A file being written atomically. write() as often as needed, then commit(); if commit() is never
// reached (an exception, an early return) the destructor removes the temp file and the target is
// left as it was. Errors are brenier::Error naming the path and the system's reason.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // creates "<path>.tmp.<pid>.<random>"
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  // fsync the temp file, rename it over the target, fsync the directory.
  void commit();

  const std::string& temp_path() const { return temp_path_; }

 private:
  void discard() noexcept;  // close and remove the temp file
  std::string path_, temp_path_;
  int fd_ = -1;
};

// Replaces the file at `path` with `bytes`, atomically.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace brenier::io

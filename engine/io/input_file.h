// A binary file opened for reading by offset, shared by the .npy and checkpoint loaders so that both
// report a missing, unreadable or short file the same way (naming the path and the system's reason).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace brenier::io {

class InputFile {
 public:
  // `what` names the format in messages: "load_npy: cannot open '<path>': No such file or directory".
  InputFile(std::string path, std::string what);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Reads exactly `bytes` bytes at `offset`; throws if the file ends first.
  void read_at(uint64_t offset, void* out, size_t bytes) const;

 private:
  std::string path_, what_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

}  // namespace brenier::io

// InputFile: open + fstat + pread, with errors that name the path.
#include "engine/io/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/error.h"

namespace brenier::io {

InputFile::InputFile(std::string path, std::string what) : path_(std::move(path)), what_(std::move(what)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  BRENIER_CHECK(fd_ >= 0, "{}: cannot open '{}': {}", what_, path_, std::strerror(errno));
  struct stat st {};
  const char* why = ::fstat(fd_, &st) != 0 ? std::strerror(errno)
                    : !S_ISREG(st.st_mode) ? "not a regular file"
                                           : nullptr;
  if (why != nullptr) {
    std::string reason = why;
    ::close(fd_);
    throw Error(fmt::format("{}: cannot read '{}': {}", what_, path_, reason));
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() { ::close(fd_); }

void InputFile::read_at(uint64_t offset, void* out, size_t bytes) const {
  char* p = static_cast<char*>(out);
  while (bytes > 0) {
    ssize_t n = ::pread(fd_, p, bytes, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    BRENIER_CHECK(n >= 0, "{}: reading '{}' failed: {}", what_, path_, std::strerror(errno));
    BRENIER_CHECK(n > 0, "{}: '{}' ended early at byte {} (file truncated?)", what_, path_, offset);
    p += n;
    offset += static_cast<uint64_t>(n);
    bytes -= static_cast<size_t>(n);
  }
}

}  // namespace brenier::io

// Atomic file writes with POSIX calls: open(O_EXCL) a unique temp, write, fsync, rename, fsync dir.
#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "engine/error.h"

namespace brenier::io {
namespace {

std::string errno_text() { return std::strerror(errno); }

std::string unique_temp_path(const std::string& path) {
  std::random_device rd;
  return fmt::format("{}.tmp.{}.{:08x}", path, static_cast<long>(::getpid()), rd());
}

// A rename is only durable once the directory entry itself reaches the disk.
void fsync_directory_of(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::string dir = parent.empty() ? std::string(".") : parent.string();
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  BRENIER_CHECK(fd >= 0, "write_file_atomic: cannot open directory '{}' of '{}' to sync it: {}", dir, path,
                errno_text());
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  // EINVAL: the file system cannot sync directories; nothing more can be done there.
  BRENIER_CHECK(rc == 0 || err == EINVAL,
                "write_file_atomic: '{}' was replaced, but syncing its directory '{}' failed: {}", path, dir,
                std::strerror(err));
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  BRENIER_CHECK(!path_.empty(), "write_file_atomic: argument 'path' must not be empty");
  temp_path_ = unique_temp_path(path_);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  BRENIER_CHECK(fd_ >= 0, "write_file_atomic: cannot create temp file '{}' for '{}': {}", temp_path_, path_,
                errno_text());
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes) {
  BRENIER_CHECK(fd_ >= 0, "write_file_atomic: '{}' is already committed or discarded", path_);
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd_, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string why = errno_text();
      discard();
      throw Error(
          fmt::format("write_file_atomic: writing '{}' (via '{}') failed: {}", path_, temp_path_, why));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  BRENIER_CHECK(fd_ >= 0, "write_file_atomic: '{}' is already committed or discarded", path_);
  auto fail = [&](const char* step) {
    std::string why = errno_text();
    discard();
    throw Error(fmt::format("write_file_atomic: {} '{}' failed: {}", step, path_, why));
  };
  if (::fsync(fd_) != 0) fail("syncing the temp file of");
  // close() can report a delayed write error; only a cleanly closed file may replace the target.
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) {
    std::string why = errno_text();
    ::unlink(temp_path_.c_str());
    throw Error(fmt::format("write_file_atomic: closing the temp file of '{}' failed: {}", path_, why));
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(temp_path_.c_str());
    throw Error(fmt::format("write_file_atomic: renaming '{}' over '{}' failed: {}", temp_path_, path_, why));
  }
  fsync_directory_of(path_);
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

}  // namespace brenier::io

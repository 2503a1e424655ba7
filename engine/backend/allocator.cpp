// Caching host allocator: size classes are powers of two from 256 bytes; blocks above 1 GiB
// bypass the cache.
#include "engine/backend/allocator.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "engine/error.h"

namespace brenier::backend {
namespace {

constexpr size_t kMinClass = 256;
#if defined(__SANITIZE_ADDRESS__)
constexpr size_t kMaxCached = 0;  // under ASan every block goes back to the system, so misuse is caught
#else
constexpr size_t kMaxCached = size_t{1} << 30;
#endif

struct Cache {
  std::mutex mu;
  std::vector<std::vector<void*>> free_lists = std::vector<std::vector<void*>>(64);
  std::atomic<int64_t> cached{0}, live{0};
};
Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed during static destruction
  return *c;
}

size_t size_class(size_t bytes, int* index) {
  size_t c = kMinClass;
  int i = 0;
  while (c < bytes) {
    c <<= 1;
    ++i;
  }
  *index = i;
  return c;
}

}  // namespace

void* host_alloc(size_t bytes) {
  if (bytes == 0) bytes = 1;
  Cache& c = cache();
  int idx = 0;
  size_t cls = bytes <= kMaxCached ? size_class(bytes, &idx) : bytes;
  if (bytes <= kMaxCached) {
    std::lock_guard<std::mutex> lock(c.mu);
    auto& list = c.free_lists[idx];
    if (!list.empty()) {
      void* p = list.back();
      list.pop_back();
      c.cached -= static_cast<int64_t>(cls);
      c.live += static_cast<int64_t>(cls);
      return p;
    }
  }
  void* p = std::aligned_alloc(64, (cls + 63) / 64 * 64);
  if (p == nullptr) {
    host_release_cache();
    p = std::aligned_alloc(64, (cls + 63) / 64 * 64);
  }
  BRENIER_CHECK(p != nullptr, "host_alloc: out of memory allocating {} bytes", bytes);
  c.live += static_cast<int64_t>(cls);
  return p;
}

void host_free(void* ptr, size_t bytes) {
  if (ptr == nullptr) return;
  if (bytes == 0) bytes = 1;
  Cache& c = cache();
  int idx = 0;
  if (bytes > kMaxCached) {
    c.live -= static_cast<int64_t>(bytes);
    std::free(ptr);
    return;
  }
  size_t cls = size_class(bytes, &idx);
  std::lock_guard<std::mutex> lock(c.mu);
  c.free_lists[idx].push_back(ptr);
  c.live -= static_cast<int64_t>(cls);
  c.cached += static_cast<int64_t>(cls);
}

int64_t host_cached_bytes() { return cache().cached.load(); }
int64_t host_live_bytes() { return cache().live.load(); }

void host_release_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& list : c.free_lists) {
    for (void* p : list) std::free(p);
    list.clear();
  }
  c.cached = 0;
}

}  // namespace brenier::backend

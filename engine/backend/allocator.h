// Caching host allocator. Freed blocks go to per-size-class free lists and are reused, so a
// training step that allocates the same shapes every iteration stops touching malloc (and the
// page faults that made default-malloc PyTorch 5-13x slower on this VM, see shared/bench/REFERENCE.md).
#pragma once
#include <cstddef>
#include <cstdint>

namespace brenier::backend {

void* host_alloc(size_t bytes);  // 64-byte aligned; never returns null (throws on exhaustion)
void host_free(void* ptr, size_t bytes);
int64_t host_cached_bytes();     // held in free lists
int64_t host_live_bytes();       // handed out and not yet freed
void host_release_cache();       // returns every cached block to the system

}  // namespace brenier::backend

// The CUDA build's device memory: availability, a caching allocator, copies between devices, the
// per-device stream and cuBLAS handle (context.h), and the TF32 setting.
// Caching: freed blocks go to per-device free lists by power-of-two size class (from 512 bytes) and
// are reused, so a training step that allocates the same shapes each iteration never calls
// cudaMalloc (which synchronizes the device) after its first step. Blocks above 1 GiB bypass the
// cache. When cudaMalloc fails, the cache is released and the allocation retried once.
// Graph capture (cuda_graph.cpp): while a CudaGraph captures on a device, that device's allocations come from
// the graph's private pool and its frees go back to it, so no block the graph uses is handed to another tensor
// between replays; blocks allocated before the capture and freed during it are held until the graph dies.
#include <atomic>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda_check.h"
#include "engine/backend/cuda/graph_pool.h"
#include "engine/backend/device_memory.h"
#include "engine/error.h"
#include "kernels/launch.cuh"

namespace brenier {
namespace {

constexpr size_t kMinClass = 512;
constexpr size_t kMaxCached = size_t{1} << 30;

struct DeviceCache {
  std::vector<std::vector<void*>> free_lists = std::vector<std::vector<void*>>(64);
  int64_t cached = 0, live = 0;
};

struct State {
  std::mutex mu;
  std::map<int, DeviceCache> caches;
  std::map<int, cuda::DeviceContext> contexts;
  // Graph capture: the pool capturing on each device, and which pool owns each of its blocks.
  std::map<int, cuda::GraphPool*> capturing;
  std::unordered_map<void*, cuda::GraphPool*> pool_of;
  int pools_alive = 0;  // no pool, no lookups: the plain path is unchanged
};
State& state() {
  static State* s = new State;  // never destroyed: tensors may be freed during static destruction
  return *s;
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

// Device count, probed once; any failure (no driver, no device) means 0, never a throw.
int probe_device_count() {
  static const int count = [] {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
      cudaGetLastError();  // clear the error so later calls do not see it
      return 0;
    }
    return n;
  }();
  return count;
}

void require_device(Device d, const char* op) {
  BRENIER_CHECK(d.is_cuda(), "{}: expected a CUDA device, got {}", op, d.str());
  const int n = probe_device_count();
  BRENIER_CHECK(n > 0,
                "{}: device {} requested but no CUDA device is usable here (no GPU, or no driver: "
                "check nvidia-smi); use device 'cpu'",
                op, d.str());
  BRENIER_CHECK(d.index >= 0 && d.index < n, "{}: device {} is out of range: this machine has {} GPU(s)",
                op, d.str(), n);
}

std::atomic<bool> tf32_allowed{false};

// The device this thread last made current through cuda::context(), and its context. Code that
// calls cudaSetDevice itself resets current_index to -1 so the next context() sets it again.
thread_local int current_index = -1;
thread_local cuda::DeviceContext* current = nullptr;

}  // namespace

namespace cuda {

struct GraphPool {
  int device = 0;
  std::vector<std::vector<void*>> free_lists = std::vector<std::vector<void*>>(64);
  std::vector<void*> owned;                          // every block it took from cudaMalloc
  std::vector<std::pair<void*, size_t>> held;       // older blocks freed during its capture
};

GraphPool* begin_graph_pool(Device device) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  BRENIER_CHECK(s.capturing.count(device.index) == 0, "CudaGraph::capture: device {} is already capturing a graph",
                device.str());
  auto* pool = new GraphPool;
  pool->device = device.index;
  s.capturing[device.index] = pool;
  ++s.pools_alive;
  return pool;
}

void end_graph_capture(Device device) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.capturing.erase(device.index);
}

bool capturing(Device device) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.capturing.count(device.index) != 0;
}

void release_graph_pool(GraphPool* pool) {
  if (pool == nullptr) return;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);  // the capture has ended (end_graph_capture) before any release
  cudaSetDevice(pool->device);
  current_index = -1;
  auto ctx = s.contexts.find(pool->device);
  if (ctx != s.contexts.end()) cudaStreamSynchronize(ctx->second.stream);  // replays may still run
  DeviceCache& c = s.caches[pool->device];
  // Free and held blocks go back to the device's cache (the device is idle: no wait needed); blocks still owned
  // by tensors go there when those free them.
  auto to_cache = [&c](void* p, size_t bytes) {
    int idx = 0;
    const size_t cls = size_class(bytes, &idx);
    if (cls > kMaxCached) {  // the cache keeps no such sizes
      cudaFree(p);
      return;
    }
    c.free_lists[idx].push_back(p);
    c.cached += static_cast<int64_t>(cls);
  };
  for (size_t idx = 0; idx < pool->free_lists.size(); ++idx)
    for (void* p : pool->free_lists[idx]) to_cache(p, kMinClass << idx);
  for (const auto& [p, bytes] : pool->held) to_cache(p, bytes);
  for (void* p : pool->owned) s.pool_of.erase(p);
  --s.pools_alive;
  delete pool;
}

DeviceContext& context(Device device) {
  // Fast path, taken by every op after the first: this thread already made `device` current and
  // its context exists (contexts are never destroyed, so the pointer stays valid).
  if (device.is_cuda() && device.index == current_index) return *current;
  require_device(device, "cuda context");
  CUDA_CHECK(cudaSetDevice(device.index));
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  DeviceContext& c = s.contexts[device.index];  // std::map: references stay valid on insertion
  if (c.stream == nullptr) {
    CUDA_CHECK(cudaStreamCreateWithFlags(&c.stream, cudaStreamNonBlocking));
    CUBLAS_CHECK(cublasCreate(&c.blas));
    CUBLAS_CHECK(cublasSetStream(c.blas, c.stream));
    CUBLAS_CHECK(cublasSetMathMode(c.blas, CUBLAS_DEFAULT_MATH));
  }
  current_index = device.index;
  current = &c;
  return c;
}

}  // namespace cuda

namespace backend {

bool cuda_available() { return probe_device_count() > 0; }
int cuda_device_count() { return probe_device_count(); }
bool built_with_cuda() { return true; }

void* device_alloc(size_t bytes, Device device) {
  cuda::context(device);  // checks the device and makes it current
  if (bytes == 0) bytes = 1;
  State& s = state();
  int idx = 0;
  const size_t cls = bytes <= kMaxCached ? size_class(bytes, &idx) : bytes;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.pools_alive > 0) {
      auto capture = s.capturing.find(device.index);
      if (capture != s.capturing.end()) {
        // Capturing: a block of the graph's own pool, of its size class whatever the size.
        cuda::GraphPool* pool = capture->second;
        const size_t pool_cls = size_class(bytes, &idx);
        void* p = nullptr;
        if (!pool->free_lists[idx].empty()) {
          p = pool->free_lists[idx].back();
          pool->free_lists[idx].pop_back();
        } else {
          CUDA_CHECK(cudaMalloc(&p, pool_cls));  // allowed in relaxed capture mode; not a stream operation
          pool->owned.push_back(p);
          s.pool_of[p] = pool;
        }
        s.caches[device.index].live += static_cast<int64_t>(pool_cls);
        return p;
      }
    }
    DeviceCache& c = s.caches[device.index];
    if (bytes <= kMaxCached && !c.free_lists[idx].empty()) {
      void* p = c.free_lists[idx].back();
      c.free_lists[idx].pop_back();
      c.cached -= static_cast<int64_t>(cls);
      c.live += static_cast<int64_t>(cls);
      return p;
    }
  }
  void* p = nullptr;
  if (cudaMalloc(&p, cls) != cudaSuccess) {
    cudaGetLastError();
    device_release_cache();
    CUDA_CHECK(cudaSetDevice(device.index));
    CUDA_CHECK(cudaMalloc(&p, cls));
  }
  std::lock_guard<std::mutex> lock(s.mu);
  s.caches[device.index].live += static_cast<int64_t>(cls);
  return p;
}

void device_free(void* ptr, size_t bytes, Device device) {
  if (ptr == nullptr) return;
  if (bytes == 0) bytes = 1;
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  DeviceCache& c = s.caches[device.index];
  if (s.pools_alive > 0) {
    auto owner = s.pool_of.find(ptr);
    if (owner != s.pool_of.end()) {  // a graph's block: back to its pool, never to the cache
      int idx = 0;
      const size_t cls = size_class(bytes, &idx);
      owner->second->free_lists[idx].push_back(ptr);
      c.live -= static_cast<int64_t>(cls);
      return;
    }
    auto capture = s.capturing.find(device.index);
    if (capture != s.capturing.end()) {  // an older block freed mid-capture: the graph may read it
      capture->second->held.emplace_back(ptr, bytes);
      int idx = 0;
      c.live -= static_cast<int64_t>(bytes <= kMaxCached ? size_class(bytes, &idx) : bytes);
      return;
    }
  }
  if (bytes > kMaxCached) {
    c.live -= static_cast<int64_t>(bytes);
    // Ops queued on the stream may still read the block: wait for them before returning it.
    cudaSetDevice(device.index);
    current_index = -1;
    cudaStreamSynchronize(s.contexts[device.index].stream);
    cudaFree(ptr);  // a destructor must not throw; a failure here resurfaces at the next call
    return;
  }
  int idx = 0;
  const size_t cls = size_class(bytes, &idx);
  c.free_lists[idx].push_back(ptr);
  c.live -= static_cast<int64_t>(cls);
  c.cached += static_cast<int64_t>(cls);
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
  if (dst_device.is_cpu() != src_device.is_cpu()) {  // host <-> device: not part of a graph
    const Device d = dst_device.is_cpu() ? src_device : dst_device;
    BRENIER_CHECK(!cuda::capturing(d),
                  "CudaGraph::capture: the captured step copies between the host and {} (item(), to(cpu), "
                  "to_vector, check_finite, bincount, an index range check, or host data moved in): a graph "
                  "replays device work only; do that outside the step (copy inputs in with copy_from before "
                  "replay, read outputs after)",
                  d.str());
  }
  if (dst_device.is_cpu()) {  // device -> host: the caller reads dst next, so wait for it
    cudaStream_t s = cuda::stream_of(src_device);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    return;
  }
  if (src_device.is_cpu()) {
    // From pageable host memory the call returns once src is staged, so src may be freed after.
    cudaStream_t s = cuda::stream_of(dst_device);
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, s));
    return;
  }
  if (dst_device == src_device) {
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cuda::stream_of(dst_device)));
    return;
  }
  // Between two GPUs: let the source's queue finish, then copy on the destination's stream.
  CUDA_CHECK(cudaStreamSynchronize(cuda::stream_of(src_device)));
  CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, bytes,
                                 cuda::stream_of(dst_device)));
}

void device_fill(void* ptr, DType dtype, int64_t n, double value, Device device) {
  cudaStream_t s = cuda::stream_of(device);
  if (value == 0.0 && !std::signbit(value)) {  // all-zero bits: a memset, no kernel
    CUDA_CHECK(cudaMemsetAsync(ptr, 0, static_cast<size_t>(n) * dtype_size(dtype), s));
    return;
  }
  kernels::fill(dtype, ptr, n, value, s);
}

int64_t device_cached_bytes(Device device) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.caches.find(device.index);
  return it == s.caches.end() ? 0 : it->second.cached;
}

int64_t device_live_bytes(Device device) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.caches.find(device.index);
  return it == s.caches.end() ? 0 : it->second.live;
}

void device_release_cache() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  for (auto& [index, c] : s.caches) {
    cudaSetDevice(index);
    current_index = -1;
    // Blocks in the free lists may still be read by queued ops that freed them.
    auto ctx = s.contexts.find(index);
    if (ctx != s.contexts.end()) CUDA_CHECK(cudaStreamSynchronize(ctx->second.stream));
    for (auto& list : c.free_lists) {
      for (void* p : list) CUDA_CHECK(cudaFree(p));
      list.clear();
    }
    c.cached = 0;
  }
}

bool graph_capture_active(Device device) { return device.is_cuda() && cuda::capturing(device); }

void synchronize(Device device) {
  if (device.is_cpu()) return;
  CUDA_CHECK(cudaStreamSynchronize(cuda::stream_of(device)));
}

void set_allow_tf32(bool allow) { tf32_allowed = allow; }
bool allow_tf32() { return tf32_allowed; }

namespace {
std::atomic<int> fused_attention_setting{-1};  // -1: not decided yet (read the environment once)
}  // namespace
void set_cuda_fused_attention(bool on) { fused_attention_setting = on ? 1 : 0; }
bool cuda_fused_attention() {
  if (fused_attention_setting < 0) {
    const char* env = std::getenv("BRENIER_CUDA_FUSED_ATTENTION");
    int expected = -1;
    fused_attention_setting.compare_exchange_strong(expected, env && std::string_view(env) == "1" ? 1 : 0);
  }
  return fused_attention_setting == 1;
}

}  // namespace backend
}  // namespace brenier

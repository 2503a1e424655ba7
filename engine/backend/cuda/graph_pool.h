// The caching allocator's side of CUDA graph capture (memory.cpp), used by cuda_graph.cpp only.
#pragma once
#include "engine/device.h"

namespace brenier::cuda {

struct GraphPool;
// From now until end_graph_capture, `device`'s allocations come from a new private pool and its frees go
// back to it (or, for blocks allocated before, are held until the pool is released). Throws when the device
// is already capturing.
GraphPool* begin_graph_pool(Device device);
void end_graph_capture(Device device);  // the pool lives on, owned by its graph
bool capturing(Device device);          // between begin_graph_pool and end_graph_capture
// The graph is gone: waits for the device, returns the pool's free blocks and held blocks to the cache; blocks
// still owned by tensors return to the cache when those tensors free them.
void release_graph_pool(GraphPool* pool);

}  // namespace brenier::cuda

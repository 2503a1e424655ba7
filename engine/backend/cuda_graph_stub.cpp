// CudaGraph in a build without CUDA: constructing one is a clear error.
#include "engine/cuda_graph.h"

#include "engine/error.h"

namespace brenier {

struct CudaGraph::Impl {
  Device device;
};

CudaGraph::CudaGraph(Device device) {
  throw Error(fmt::format("CudaGraph: device {}: this brenier was built without CUDA; reconfigure with "
                          "-Dcuda=enabled on a machine with nvcc (see README, 'GPU')",
                          device.str()));
}
CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const std::function<void()>&) {}
void CudaGraph::replay() {}
bool CudaGraph::captured() const { return false; }
Device CudaGraph::device() const { return impl_->device; }

}  // namespace brenier

// CudaGraph on the CUDA backend: stream capture of the device's one stream (context.h), in relaxed mode so the
// graph's memory pool may call cudaMalloc while capturing (graph_pool.h, memory.cpp).
#include "engine/cuda_graph.h"

#include <exception>

#include "engine/backend/cuda/context.h"
#include "engine/backend/cuda/cuda_check.h"
#include "engine/backend/cuda/graph_pool.h"
#include "engine/backend/device_memory.h"
#include "engine/error.h"

namespace brenier {

struct CudaGraph::Impl {
  Device device;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  cuda::GraphPool* pool = nullptr;
};

CudaGraph::CudaGraph(Device device) : impl_(std::make_unique<Impl>()) {
  BRENIER_CHECK(device.is_cuda(), "CudaGraph: argument 'device' must be a CUDA device, got {}", device.str());
  cuda::context(device);  // a clear error when no GPU is usable
  impl_->device = device;
}

CudaGraph::~CudaGraph() {
  if (impl_->exec != nullptr) {
    cudaStreamSynchronize(cuda::stream_of(impl_->device));  // a replay may still run
    cudaGraphExecDestroy(impl_->exec);
  }
  if (impl_->graph != nullptr) cudaGraphDestroy(impl_->graph);
  cuda::release_graph_pool(impl_->pool);
}

void CudaGraph::capture(const std::function<void()>& step) {
  BRENIER_CHECK(impl_->exec == nullptr && impl_->pool == nullptr,
                "CudaGraph::capture: this graph is already captured (make a new CudaGraph for another step)");
  BRENIER_CHECK(static_cast<bool>(step), "CudaGraph::capture: argument 'step' is empty");
  const Device device = impl_->device;
  cudaStream_t stream = cuda::stream_of(device);
  backend::synchronize(device);  // eager work queued before the capture is not part of it
  impl_->pool = cuda::begin_graph_pool(device);
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
  std::exception_ptr failure;
  try {
    step();
  } catch (...) {
    failure = std::current_exception();
  }
  cudaGraph_t graph = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &graph);
  cuda::end_graph_capture(device);
  if (failure || ended != cudaSuccess) {
    cudaGetLastError();  // the invalidated capture's error must not surface at the next call
    if (graph != nullptr) cudaGraphDestroy(graph);
    cuda::release_graph_pool(impl_->pool);
    impl_->pool = nullptr;
    if (failure) std::rethrow_exception(failure);
    throw Error(fmt::format("CudaGraph::capture: the capture on {} failed ({}): the step did something a graph "
                            "cannot record (a synchronization, a host copy, work on another stream)",
                            device.str(), cudaGetErrorString(ended)));
  }
  impl_->graph = graph;
  CUDA_CHECK(cudaGraphInstantiate(&impl_->exec, graph, 0));
}

void CudaGraph::replay() {
  BRENIER_CHECK(impl_->exec != nullptr, "CudaGraph::replay: nothing captured yet (call capture first)");
  CUDA_CHECK(cudaGraphLaunch(impl_->exec, cuda::stream_of(impl_->device)));
}

bool CudaGraph::captured() const { return impl_->exec != nullptr; }
Device CudaGraph::device() const { return impl_->device; }

}  // namespace brenier

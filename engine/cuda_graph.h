// CudaGraph: record a repeating piece of CUDA work once, then replay it with one launch. For steps whose
// time is kernel launches (HOTET's, MMv2's inner steps: thousands of small kernels), replay removes the
// host-side cost of each launch.
//
//   CudaGraph graph(Device::cuda(0));
//   for (int i = 0; i < 3; ++i) step();         // eager warm-up: optimizer states, cuBLAS workspaces exist
//   graph.capture([&] { step(); });             // records step's kernels; nothing runs yet
//   for (...) { x_static.copy_from(next_batch); graph.replay(); use(loss_static); }
//
// What a captured step may do: any op on tensors of the graph's device, with the same shapes every time.
// What it may not (each is refused with an error naming it, and the capture is abandoned):
//   - read device values on the host or move host data in (item(), to(cpu), to_vector, check_finite,
//     bincount, nonzero): inputs go in with Tensor::copy_from before replay(), outputs are read after it;
//   - draw random numbers on the device (the seed and offset would be baked in: every replay would repeat
//     them): draw outside and copy in;
// and what it should not, because replay repeats the recorded work exactly:
//   - change which tensors hold its inputs and outputs: replay writes the addresses recorded at capture, so
//     keep the step's input tensors and read results from the tensors the captured step produced (capture
//     them by reference). Gradients: zero_grad() before capture(), so the captured backward creates the
//     grad tensors and every replay overwrites them; do not zero_grad() between replays;
//   - update parameters with host-side scalars that change per step (Adam's bias correction, a learning-rate
//     schedule): run the optimizer step eagerly after replay(), outside the graph.
// dispatch.cpp's host-side index range checks are skipped while capturing (they need the host); the eager
// warm-up runs them. Tensors the captured step allocates live in the graph's own memory pool until the
// graph is destroyed.
#pragma once
#include <functional>
#include <memory>

#include "engine/device.h"

namespace brenier {

class CudaGraph {
 public:
  // `device` must be a CUDA device of a CUDA build with a usable GPU (else a clear error).
  explicit CudaGraph(Device device);
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Runs `step` once with the device's stream capturing: its kernels are recorded, not executed. Once only.
  void capture(const std::function<void()>& step);
  // Launches the recorded kernels on the device's stream (asynchronous, like every CUDA op).
  void replay();
  bool captured() const;
  Device device() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace brenier

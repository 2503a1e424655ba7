// Tensor basics: creation, views, conversion, errors.
#include <doctest/doctest.h>

#include "engine/backend/device_memory.h"
#include "engine/cuda_graph.h"
#include "engine/tensor.h"

using namespace brenier;

TEST_CASE("tensor: creation and element access") {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(t.shape() == Shape{2, 3});
  CHECK(t.at({1, 2}) == 6.0);
  Tensor r = t.reshape({3, -1});
  CHECK(r.shape() == Shape{3, 2});
  CHECK(r.shares_storage(t));
  Tensor d = t.to(DType::F64);
  CHECK(d.dtype() == DType::F64);
  CHECK(d.at({0, 1}) == 2.0);
  CHECK_THROWS_AS(t.reshape({4, 2}), Error);
  CHECK_THROWS_AS(Tensor::full({2}, 1.0).item(), Error);
  CHECK(Tensor::scalar(3.5).item() == 3.5);
}

TEST_CASE("tensor: a CUDA tensor without CUDA (CPU-only build, or no usable GPU) is a clear error") {
  if (!backend::built_with_cuda()) {
    CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::F32, Device::cuda()),
                         doctest::Contains("built without CUDA"), Error);
  } else if (!backend::cuda_available()) {
    CHECK_THROWS_WITH_AS(Tensor::zeros({2}, DType::F32, Device::cuda()),
                         doctest::Contains("no CUDA device is usable"), Error);
  }
  // With a GPU, tests/gpu checks CUDA tensors.
}

TEST_CASE("tensor: a CudaGraph on the CPU, or without CUDA, is a clear error") {
  CHECK_THROWS_WITH_AS(CudaGraph(Device::cpu()), doctest::Contains("CUDA"), Error);
  if (!backend::built_with_cuda()) {
    CHECK_THROWS_WITH_AS(CudaGraph(Device::cuda()), doctest::Contains("built without CUDA"), Error);
  } else if (!backend::cuda_available()) {
    CHECK_THROWS_WITH_AS(CudaGraph(Device::cuda()), doctest::Contains("no CUDA device is usable"), Error);
  }
  // With a GPU, tests/gpu/test_graph.cpp captures and replays.
}

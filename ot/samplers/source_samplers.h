// Source measures μ for the semi-discrete solvers (AE-OT / OT-Net, spec/algorithms.md §6): a sampler
// draws `count` fresh points [count, d] from the caller's seeded Generator, so a solve is reproducible
// from its seed and every step sees new points.
//
// The reference solver (pyOMT, §6.1) draws Sobol quasi-random points on [−0.5, 0.5]^d, reset every step;
// brenier draws pseudo-random points from its Philox Generator instead (no Sobol generator in the engine).
// Pseudo-random Monte Carlo error decays like 1/√N where Sobol's is close to 1/N, so reaching the same
// ‖∇E‖ tolerance needs more samples; the solvers' adaptive Monte Carlo (doubling the batches when ‖∇E‖
// stalls, §6.1) supplies them.
#pragma once
#include <cstdint>
#include <functional>

#include "engine/random/generator.h"
#include "engine/tensor.h"

namespace brenier::ot {

// `count` fresh source points [count, d], drawn with `gen` (any floating dtype, on the CPU or the
// solver's device; the solvers convert).
using SourceSampler = std::function<Tensor(Generator& gen, int64_t count)>;

// Uniform on the cube [lo, hi]^dim; the default [−0.5, 0.5]^dim is pyOMT's source (§6.1). `device`: where the
// points are drawn. Drawing on the solver's GPU saves the host draw and the copy (OT-Net's P4 batch,
// 20000 × 100 normals, takes ~28 ms on two host cores); the generator's stream is the same on every device.
SourceSampler uniform_cube_sampler(int64_t dim, double lo = -0.5, double hi = 0.5, DType dtype = DType::F32,
                                   Device device = Device::cpu());

// N(mean·1, std² I) on R^dim; N(0, I) is OT-Net's latent source (§6.3). `device` as above.
SourceSampler normal_sampler(int64_t dim, double mean = 0.0, double std = 1.0, DType dtype = DType::F32,
                             Device device = Device::cpu());

// Uniform over the rows of `points` [m, d] (drawn with replacement): the discrete source of OT-Net's
// color transfer ("uniform over source pixels", §6.3). The sampler keeps a reference to the tensor.
SourceSampler empirical_sampler(const Tensor& points);

}  // namespace brenier::ot

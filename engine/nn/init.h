// Weight initializers, PyTorch's torch.nn.init semantics. Each fills a tensor in place (its storage
// is overwritten, so every Var and view sharing it sees the new values) from an explicit
// Generator, so that a seed fixes a model's starting point. The Var overloads fill v.data().
//
// Fans follow PyTorch: for a weight [out, in, k...], fan_in = in * prod(k), fan_out = out * prod(k);
// tensors with fewer than 2 dims have no fan.
#pragma once
#include "engine/autograd/var.h"
#include "engine/random/generator.h"

namespace brenier::nn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Sigmoid, Tanh, Relu, LeakyRelu };

// Recommended gain: 1 (linear, sigmoid), 5/3 (tanh), sqrt(2) (relu), sqrt(2 / (1 + a²)) (leaky
// relu with negative slope `a`).
double calculate_gain(Nonlinearity nonlinearity, double a = 0.0);
struct Fans {
  int64_t fan_in, fan_out;
};
Fans fans(const Tensor& t);

void uniform_(Tensor& t, Generator& gen, double a = 0.0, double b = 1.0);
void normal_(Tensor& t, Generator& gen, double mean = 0.0, double std = 1.0);
void constant_(Tensor& t, double value);
void zeros_(Tensor& t);
void ones_(Tensor& t);
// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
void xavier_uniform_(Tensor& t, Generator& gen, double gain = 1.0);
// N(0, s²) with s = gain * sqrt(2 / (fan_in + fan_out)).
void xavier_normal_(Tensor& t, Generator& gen, double gain = 1.0);
// U(-b, b) with b = sqrt(3) * gain / sqrt(fan); gain = calculate_gain(nonlinearity, a).
// (PyTorch's nn.Linear default is a = sqrt(5), giving b = 1 / sqrt(fan_in).)
void kaiming_uniform_(Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                      Nonlinearity nonlinearity = Nonlinearity::LeakyRelu);
// N(0, s²) with s = gain / sqrt(fan).
void kaiming_normal_(Tensor& t, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                     Nonlinearity nonlinearity = Nonlinearity::LeakyRelu);
// `gain` times a (semi-)orthogonal matrix: t viewed as [rows, cols] = [size(0), numel / size(0)]
// has orthonormal rows when rows <= cols and orthonormal columns otherwise. It is the Q of a QR
// factorization of a standard normal matrix whose R has a positive diagonal (PyTorch's sign
// correction), so it is Haar distributed.
void orthogonal_(Tensor& t, Generator& gen, double gain = 1.0);

inline void uniform_(Var v, Generator& gen, double a = 0.0, double b = 1.0) { uniform_(v.data(), gen, a, b); }
inline void normal_(Var v, Generator& gen, double mean = 0.0, double std = 1.0) {
  normal_(v.data(), gen, mean, std);
}
inline void constant_(Var v, double value) { constant_(v.data(), value); }
inline void zeros_(Var v) { zeros_(v.data()); }
inline void ones_(Var v) { ones_(v.data()); }
inline void xavier_uniform_(Var v, Generator& gen, double gain = 1.0) { xavier_uniform_(v.data(), gen, gain); }
inline void xavier_normal_(Var v, Generator& gen, double gain = 1.0) { xavier_normal_(v.data(), gen, gain); }
inline void kaiming_uniform_(Var v, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                             Nonlinearity nonlinearity = Nonlinearity::LeakyRelu) {
  kaiming_uniform_(v.data(), gen, a, mode, nonlinearity);
}
inline void kaiming_normal_(Var v, Generator& gen, double a = 0.0, FanMode mode = FanMode::FanIn,
                            Nonlinearity nonlinearity = Nonlinearity::LeakyRelu) {
  kaiming_normal_(v.data(), gen, a, mode, nonlinearity);
}
inline void orthogonal_(Var v, Generator& gen, double gain = 1.0) { orthogonal_(v.data(), gen, gain); }

}  // namespace brenier::nn::init

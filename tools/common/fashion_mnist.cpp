// Fashion-MNIST's IDX files (see fashion_mnist.h). zlib's gzread reads gzip and plain files alike, and
// reports a corrupt or truncated gzip stream (bad data, failed CRC, missing end) as an error we pass on.
#include "tools/common/fashion_mnist.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>

#include "engine/error.h"

namespace brenier::tools {
namespace {

namespace fs = std::filesystem;

constexpr uint8_t kUnsignedByte = 0x08;
constexpr int64_t kSide = 28;
constexpr int64_t kClasses = 10;

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to `bytes` bytes; returns how many were read (fewer only at the end of the data). A zlib error
// (corrupt stream, bad CRC, truncated gzip) throws naming the file.
size_t read_some(gzFile file, const fs::path& path, uint8_t* out, size_t bytes) {
  size_t done = 0;
  while (done < bytes) {
    const unsigned ask = static_cast<unsigned>(std::min<size_t>(bytes - done, 1u << 30));
    const int got = gzread(file, out + done, ask);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(file, &code);
      throw Error(fmt::format("Fashion-MNIST: '{}' is not a readable IDX/gzip file: {}", path.string(),
                              message != nullptr ? message : "zlib error"));
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  // gzread reports an unexpected end of a gzip stream through gzerror, not as an error return.
  int code = 0;
  const char* message = gzerror(file, &code);
  if (code != Z_OK && code != Z_STREAM_END)
    throw Error(fmt::format("Fashion-MNIST: '{}' is a damaged gzip file: {}", path.string(),
                            message != nullptr ? message : "zlib error"));
  return done;
}

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

IdxArray read_idx_file(const fs::path& path) {
  GzFile file(gzopen(path.c_str(), "rb"));
  BRENIER_CHECK(file != nullptr, "Fashion-MNIST: cannot open '{}'", path.string());
  std::array<uint8_t, 4> magic{};
  BRENIER_CHECK(read_some(file.get(), path, magic.data(), 4) == 4,
                "Fashion-MNIST: '{}' is truncated: it ends inside the IDX header", path.string());
  BRENIER_CHECK(magic[0] == 0 && magic[1] == 0 && magic[3] >= 1 && magic[3] <= 4,
                "Fashion-MNIST: '{}' is not an IDX file: bad magic number {:02x} {:02x} {:02x} {:02x} (expected "
                "00 00 08 <1..4>)",
                path.string(), magic[0], magic[1], magic[2], magic[3]);
  BRENIER_CHECK(magic[2] == kUnsignedByte,
                "Fashion-MNIST: '{}' holds IDX type 0x{:02x}; only unsigned bytes (0x08) are supported", path.string(),
                magic[2]);
  IdxArray out;
  std::array<uint8_t, 4> word{};
  int64_t total = 1;
  for (int i = 0; i < magic[3]; ++i) {
    BRENIER_CHECK(read_some(file.get(), path, word.data(), 4) == 4,
                  "Fashion-MNIST: '{}' is truncated: it ends inside the IDX header", path.string());
    const int64_t dim = big_endian_u32(word.data());
    BRENIER_CHECK(dim <= (int64_t{1} << 31) && total <= (int64_t{1} << 34) / std::max<int64_t>(dim, 1),
                  "Fashion-MNIST: '{}' declares an implausibly large array (dimension {} = {})", path.string(), i, dim);
    out.dims.push_back(dim);
    total *= dim;
  }
  out.data.resize(static_cast<size_t>(total));
  const size_t got = read_some(file.get(), path, out.data.data(), out.data.size());
  BRENIER_CHECK(got == out.data.size(),
                "Fashion-MNIST: '{}' is truncated: its header announces {} data bytes, the file holds {}",
                path.string(), total, got);
  uint8_t extra = 0;
  BRENIER_CHECK(read_some(file.get(), path, &extra, 1) == 0,
                "Fashion-MNIST: '{}' holds more bytes than its IDX header announces ({})", path.string(), total);
  return out;
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

fs::path find_fashion_mnist_file(const fs::path& dir, const std::string& stem) {
  const fs::path gz = dir / (stem + ".gz");
  const fs::path plain = dir / stem;
  if (fs::is_regular_file(gz)) return gz;
  if (fs::is_regular_file(plain)) return plain;
  throw Error(
      fmt::format("Fashion-MNIST not found: '{}' holds neither {}.gz nor {}; install the Debian package with "
                  "`apt-get install dataset-fashion-mnist` (files in {}), or pass --data DIR with the IDX files",
                  dir.string(), stem, stem, kFashionMnistDefaultDir));
}

FashionMnist load_fashion_mnist(const fs::path& dir_arg, FashionMnistSplit split, int64_t limit) {
  const fs::path dir = dir_arg.empty() ? fs::path(kFashionMnistDefaultDir) : dir_arg;
  const std::string prefix = split == FashionMnistSplit::Train ? "train" : "t10k";
  const fs::path image_path = find_fashion_mnist_file(dir, prefix + "-images-idx3-ubyte");
  const fs::path label_path = find_fashion_mnist_file(dir, prefix + "-labels-idx1-ubyte");
  const IdxArray images = read_idx_file(image_path);
  const IdxArray labels = read_idx_file(label_path);
  BRENIER_CHECK(images.dims.size() == 3 && images.dims[1] == kSide && images.dims[2] == kSide,
                "Fashion-MNIST: '{}' must hold images [N, 28, 28], got dims [{}]", image_path.string(),
                fmt::join(images.dims, ", "));
  BRENIER_CHECK(labels.dims.size() == 1, "Fashion-MNIST: '{}' must hold labels [N], got dims [{}]", label_path.string(),
                fmt::join(labels.dims, ", "));
  BRENIER_CHECK(images.dims[0] == labels.dims[0],
                "Fashion-MNIST: count mismatch: '{}' holds {} images but '{}' holds {} labels", image_path.string(),
                images.dims[0], label_path.string(), labels.dims[0]);
  const int64_t n = limit < 0 ? images.dims[0] : std::min(limit, images.dims[0]);
  BRENIER_CHECK(n >= 1, "Fashion-MNIST: '{}' holds no images", image_path.string());
  const int64_t pixels = kSide * kSide;
  std::vector<float> x(static_cast<size_t>(n * pixels));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(images.data[i]) / 255.0f;
  std::vector<int64_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    y[static_cast<size_t>(i)] = labels.data[static_cast<size_t>(i)];
    BRENIER_CHECK(y[static_cast<size_t>(i)] < kClasses, "Fashion-MNIST: '{}' has label {} at item {} (expected 0..9)",
                  label_path.string(), y[static_cast<size_t>(i)], i);
  }
  return {Tensor::from_vector(x, {n, 1, kSide, kSide}), Tensor::from_vector(y, {n})};
}

}  // namespace brenier::tools

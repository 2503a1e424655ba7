// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from its IDX files, as the Debian package
// dataset-fashion-mnist installs them (/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,
// labels-idx1}-ubyte.gz). OT-Net's latent generation (otnet generate, spec/algorithms.md §6.3) and later
// DIOTM read it through this file, so it knows nothing about either tool.
//
// IDX (LeCun's MNIST format): a big-endian header — two zero bytes, a type byte (0x08 = unsigned byte,
// the only type these files use), the number of dimensions — then one big-endian u32 per dimension and
// the data in row-major order. Files may be gzip-compressed or plain (zlib reads both); "<name>.gz" is
// tried first, then "<name>".
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace brenier::tools {

// Where the Debian package puts the files.
inline constexpr const char* kFashionMnistDefaultDir = "/usr/share/datasets/fashion-mnist";

// An unsigned-byte IDX array: its dimensions and its bytes (product of dims of them).
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

// Reads a whole IDX file (gzip or plain). Throws brenier::Error naming the file when it cannot be opened,
// is not valid gzip, has a bad magic number or a type other than unsigned byte, ends before its header
// says it should (truncated), or holds bytes after the data.
IdxArray read_idx_file(const std::filesystem::path& path);

enum class FashionMnistSplit { Train, Test };

struct FashionMnist {
  Tensor images;  // f32 [N, 1, 28, 28], pixel / 255 in [0, 1]
  Tensor labels;  // i64 [N], classes 0..9
};

// "T-shirt/top", "Trouser", ... (index = label).
const std::vector<std::string>& fashion_mnist_class_names();

// The split's images and labels from `dir` (empty: kFashionMnistDefaultDir), the first `limit` items when
// limit >= 0 (all of them when limit < 0 or larger than the split). Errors (brenier::Error):
// * files missing: names the folder and says to run `apt-get install dataset-fashion-mnist` (or pass --data);
// * any read_idx_file error above; images not [N, 28, 28] or labels not [N]; counts that differ between
//   the two files; a label outside 0..9 — each naming the file.
FashionMnist load_fashion_mnist(const std::filesystem::path& dir, FashionMnistSplit split, int64_t limit = -1);

// The file `stem` (e.g. "train-images-idx3-ubyte") in `dir`: "<stem>.gz" if present, else "<stem>"; throws the
// install message above when neither exists.
std::filesystem::path find_fashion_mnist_file(const std::filesystem::path& dir, const std::string& stem);

}  // namespace brenier::tools

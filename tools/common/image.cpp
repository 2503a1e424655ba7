// RGB image I/O for the tools (see image.h): libjpeg-turbo for JPEG (its setjmp error protocol turned
// into brenier::Error), libpng's simplified API for PNG.
#include "tools/common/image.h"

#include <fmt/format.h>
#include <png.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
// jpeglib.h needs FILE and size_t declared before it.
#include <jpeglib.h>

#include "engine/error.h"

namespace brenier::tools {
namespace {

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  BRENIER_CHECK(std::filesystem::is_regular_file(path, ec), "image: '{}' does not exist or is not a file",
                path.string());
  std::ifstream in(path, std::ios::binary);
  BRENIER_CHECK(in.good(), "image: cannot open '{}'", path.string());
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct JpegError {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr info) {
  auto* err = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, err->message);
  std::longjmp(err->jump, 1);
}

// Corrupt-data warnings (truncated files, bad Huffman codes) are errors here: a half-decoded photo
// would silently change the experiment.
void jpeg_emit_message(j_common_ptr info, int level) {
  if (level < 0) jpeg_error_exit(info);
}

RgbImage decode_jpeg(const std::vector<uint8_t>& bytes, const std::filesystem::path& path) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = jpeg_error_exit;
  err.base.emit_message = jpeg_emit_message;
  RgbImage image;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(fmt::format("image: '{}' is not a valid JPEG file: {}", path.string(), err.message));
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  image.width = cinfo.output_width;
  image.height = cinfo.output_height;
  image.pixels.resize(static_cast<size_t>(image.width * image.height * 3));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = image.pixels.data() + static_cast<size_t>(cinfo.output_scanline) * image.width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return image;
}

RgbImage decode_png(const std::vector<uint8_t>& bytes, const std::filesystem::path& path) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  BRENIER_CHECK(png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()) != 0,
                "image: '{}' is not a valid PNG file: {}", path.string(), png.message);
  png.format = PNG_FORMAT_RGB;
  RgbImage image;
  image.width = png.width;
  image.height = png.height;
  image.pixels.resize(PNG_IMAGE_SIZE(png));
  const bool ok = png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr) != 0;
  const std::string message = png.message;
  png_image_free(&png);
  BRENIER_CHECK(ok, "image: '{}' is not a valid PNG file: {}", path.string(), message);
  return image;
}

}  // namespace

RgbImage load_rgb_image(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file(path);
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  RgbImage image;
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    image = decode_jpeg(bytes, path);
  else if (bytes.size() >= 8 && std::equal(kPng, kPng + 8, bytes.begin()))
    image = decode_png(bytes, path);
  else
    throw Error(fmt::format("image: '{}' is neither a JPEG nor a PNG file ({} bytes)", path.string(), bytes.size()));
  BRENIER_CHECK(image.width >= 1 && image.height >= 1, "image: '{}' has no pixels", path.string());
  return image;
}

RgbImage center_square(const RgbImage& image) {
  const int64_t s = std::min(image.width, image.height);
  const int64_t top = (image.height - s) / 2, left = (image.width - s) / 2;
  RgbImage out{s, s, std::vector<uint8_t>(static_cast<size_t>(s * s * 3))};
  for (int64_t r = 0; r < s; ++r)
    std::memcpy(out.pixels.data() + r * s * 3, image.pixels.data() + ((top + r) * image.width + left) * 3,
                static_cast<size_t>(s * 3));
  return out;
}

RgbImage resize_bilinear(const RgbImage& image, int64_t width, int64_t height) {
  BRENIER_CHECK(width >= 1 && height >= 1, "resize_bilinear: size must be >= 1, got {}x{}", width, height);
  RgbImage out{width, height, std::vector<uint8_t>(static_cast<size_t>(width * height * 3))};
  auto source = [](int64_t i, int64_t from, int64_t to, int64_t& i0, int64_t& i1, double& t) {
    double x = (static_cast<double>(i) + 0.5) * static_cast<double>(from) / static_cast<double>(to) - 0.5;
    x = std::clamp(x, 0.0, static_cast<double>(from - 1));
    i0 = static_cast<int64_t>(std::floor(x));
    i1 = std::min(i0 + 1, from - 1);
    t = x - static_cast<double>(i0);
  };
  for (int64_t r = 0; r < height; ++r) {
    int64_t r0, r1;
    double tr;
    source(r, image.height, height, r0, r1, tr);
    for (int64_t c = 0; c < width; ++c) {
      int64_t c0, c1;
      double tc;
      source(c, image.width, width, c0, c1, tc);
      for (int k = 0; k < 3; ++k) {
        auto px = [&](int64_t rr, int64_t cc) {
          return static_cast<double>(image.pixels[static_cast<size_t>((rr * image.width + cc) * 3 + k)]);
        };
        const double v = (1 - tr) * ((1 - tc) * px(r0, c0) + tc * px(r0, c1)) + tr * ((1 - tc) * px(r1, c0) + tc * px(r1, c1));
        out.pixels[static_cast<size_t>((r * width + c) * 3 + k)] =
            static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

void save_rgb_png(const RgbImage& image, const std::filesystem::path& path) {
  BRENIER_CHECK(image.width >= 1 && image.height >= 1 &&
                    image.pixels.size() == static_cast<size_t>(image.width * image.height * 3),
                "save_rgb_png: image must hold width·height·3 bytes");
  const std::filesystem::path tmp = path.string() + fmt::format(".tmp{}", ::getpid());
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = PNG_FORMAT_RGB;
  const bool ok = png_image_write_to_file(&png, tmp.c_str(), 0, image.pixels.data(), 0, nullptr) != 0;
  const std::string message = png.message;
  png_image_free(&png);
  if (!ok) {
    std::remove(tmp.c_str());
    throw Error(fmt::format("save_rgb_png: cannot write '{}': {}", path.string(), message));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  BRENIER_CHECK(!ec, "save_rgb_png: cannot rename '{}' to '{}': {}", tmp.string(), path.string(), ec.message());
}

RgbImage hstack(const std::vector<RgbImage>& images, int64_t gap) {
  BRENIER_CHECK(!images.empty(), "hstack: no images");
  const int64_t h = images.front().height;
  int64_t w = 0;
  for (const RgbImage& im : images) {
    BRENIER_CHECK(im.height == h, "hstack: heights differ ({} vs {})", im.height, h);
    w += im.width;
  }
  w += gap * static_cast<int64_t>(images.size() - 1);
  RgbImage out{w, h, std::vector<uint8_t>(static_cast<size_t>(w * h * 3), 255)};
  int64_t x = 0;
  for (const RgbImage& im : images) {
    for (int64_t r = 0; r < h; ++r)
      std::memcpy(out.pixels.data() + (r * w + x) * 3, im.pixels.data() + r * im.width * 3,
                  static_cast<size_t>(im.width * 3));
    x += im.width + gap;
  }
  return out;
}

}  // namespace brenier::tools

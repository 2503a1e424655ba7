// 8-bit RGB photographs for the tools (OT-Net's color transfer): decode JPEG (libjpeg-turbo) or PNG
// (libpng) files, crop / resize them as the reference scripts do, and write RGB PNGs atomically.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace brenier::tools {

struct RgbImage {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes (R, G, B) per pixel
};

// Decodes a JPEG or PNG file (told apart by their signatures; grayscale and RGBA become RGB). Throws
// brenier::Error naming the path when the file is missing, unreadable, not JPEG/PNG, or corrupt.
RgbImage load_rgb_image(const std::filesystem::path& path);

// The centred largest square (rows/columns dropped evenly, the extra one at the end), as
// ../shared/bench/ref/workloads.py's _load_images does before resizing.
RgbImage center_square(const RgbImage& image);

// Bilinear resize with pixel-centre alignment (x_src = (x + 0.5)·w/W − 0.5, clamped at the edges), which
// is what Pillow's BILINEAR does when enlarging (the reference enlarges 427² to 512²). Rounded to nearest.
RgbImage resize_bilinear(const RgbImage& image, int64_t width, int64_t height);

// Writes an 8-bit RGB PNG atomically (temp file + rename).
void save_rgb_png(const RgbImage& image, const std::filesystem::path& path);

// Side-by-side panel of images of equal height with `gap` white pixels between them.
RgbImage hstack(const std::vector<RgbImage>& images, int64_t gap = 8);

}  // namespace brenier::tools
